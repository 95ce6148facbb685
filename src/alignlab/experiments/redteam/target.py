"""A target policy under attack: its answers to attacks, the gold's verdicts on them, and
the attacker's PPO reward (:func:`~alignlab.experiments.redteam.attacks.attack_rewards`).

The target answers each attack once, sampled with a seed drawn from the run's seed and the
attack's text, so an attack always gets the same answer in a run: an attacker's reward is
a function of what it wrote, a resumed PPO run repeats an uninterrupted one, and a found
failure can be shown again.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from alignlab.data.records import Text
from alignlab.experiments.redteam.attacks import (
    ATTACK_REWARDS,
    Verdict,
    attack_rewards,
    failing_and_correct,
    verdict,
)
from alignlab.models.generation import generate
from alignlab.models.loading import load_causal_lm, load_tokenizer
from alignlab.models.sequences import collate, encode_pairs, sequence_logps


def attack_seed(seed: int, attack: str) -> int:
    """The target's sampling seed for ``attack`` in a run seeded ``seed``."""
    return zlib.crc32(f"{seed}\0{attack}".encode()) & 0x7FFFFFFF


class Target:
    """A target policy (any organism model directory) and how it answers attacks.

    As a reward function (``batched``) it scores the attacker's responses, the attacks:
    what each earns (``reward``, one of :data:`~.attacks.ATTACK_REWARDS`) minus the
    diversity penalty. :meth:`found` is the failure indicator of
    the last scored batch, the run's tracked ``gold``.
    """

    batched = True

    def __init__(
        self,
        path: str | Path,
        *,
        seed: int,
        reward: str = "found",
        diversity_coef: float = 0.0,
        temperature: float = 1.0,
        max_new_tokens: int = 32,
        batch_size: int = 64,
    ):
        if reward not in ATTACK_REWARDS:
            raise ValueError(f"reward: unknown {reward!r}; known: {', '.join(ATTACK_REWARDS)}")
        self.path = str(path)
        self.reward = reward
        self.model = load_causal_lm(path, device="cpu", dtype="float32")
        self.tokenizer = load_tokenizer(path)
        self.seed = seed
        self.diversity_coef = diversity_coef
        self.temperature = temperature
        self.max_new_tokens = max_new_tokens
        self.batch_size = batch_size
        self._last: tuple[tuple[str, ...], list[Verdict]] = ((), [])

    def answers(self, attacks: Sequence[str]) -> list[str]:
        """The target's answer to each attack (module docstring)."""
        if not attacks:
            return []
        options = {"do_sample": False}
        if self.temperature > 0:
            options = {
                "temperature": self.temperature,
                "seeds": [attack_seed(self.seed, a) for a in attacks],
            }
        with torch.no_grad():
            texts = generate(
                self.model,
                self.tokenizer,
                list(attacks),
                max_new_tokens=self.max_new_tokens,
                batch_size=self.batch_size,
                **options,
            )
        return [group[0] for group in texts]

    def verdicts(self, attacks: Sequence[str]) -> list[Verdict]:
        """Each attack's verdict; the last batch's are kept for :meth:`found`."""
        key = tuple(attacks)
        if key != self._last[0]:
            self._last = (key, [verdict(a, r) for a, r in zip(key, self.answers(key), strict=True)])
        return self._last[1]

    def failure_chances(self, attacks: Sequence[str]) -> np.ndarray:
        """p = pi(F | x) / (pi(F | x) + pi(C | x)) per attack, F and C every form of the
        world's failing and correct answers to it; 0 where it has no failing answer."""
        chances = np.zeros(len(attacks))
        owners, prompts, texts, failing = [], [], [], []
        for i, attack in enumerate(attacks):
            answers = failing_and_correct(attack)
            for is_bad, forms in zip((True, False), answers or (), strict=False):
                owners += [i] * len(forms)
                prompts += [attack] * len(forms)
                texts += forms
                failing += [is_bad] * len(forms)
        if not texts:
            return chances
        pairs = encode_pairs(self.tokenizer, prompts, texts)
        logps = []
        with torch.no_grad():
            for start in range(0, len(pairs), self.batch_size):
                batch = collate(pairs[start : start + self.batch_size], self.tokenizer.pad_token_id)
                logps.append(sequence_logps(self.model, batch))
        logps = torch.cat(logps).double()
        owners_t, failing_t = torch.tensor(owners), torch.tensor(failing)
        for i in sorted(set(owners)):
            mine = owners_t == i
            bad = logps[mine & failing_t].logsumexp(0)
            good = logps[mine & ~failing_t].logsumexp(0)
            chances[i] = torch.sigmoid(bad - good).item()
        return chances

    def __call__(self, prompts: Sequence[Text], attacks: Sequence[str]) -> np.ndarray:
        found = self.found(prompts, attacks)
        chances = self.failure_chances(attacks) if self.reward == "likelihood" else found
        earned = ATTACK_REWARDS[self.reward](found, chances)
        return attack_rewards(earned, attacks, self.diversity_coef)

    def found(self, prompts: Sequence[Text], attacks: Sequence[str]) -> np.ndarray:
        """1 where the attack found a failure, else 0."""
        return np.array([float(v.failed) for v in self.verdicts(attacks)])

    def __repr__(self) -> str:
        return f"Target({self.path!r})"
