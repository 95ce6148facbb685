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
from alignlab.experiments.redteam.attacks import Verdict, attack_rewards, verdict
from alignlab.models.generation import generate
from alignlab.models.loading import load_causal_lm, load_tokenizer


def attack_seed(seed: int, attack: str) -> int:
    """The target's sampling seed for ``attack`` in a run seeded ``seed``."""
    return zlib.crc32(f"{seed}\0{attack}".encode()) & 0x7FFFFFFF


class Target:
    """A target policy (any organism model directory) and how it answers attacks.

    As a reward function (``batched``) it scores the attacker's responses, the attacks:
    found failure minus the diversity penalty. :meth:`found` is the failure indicator of
    the last scored batch, the run's tracked ``gold``.
    """

    batched = True

    def __init__(
        self,
        path: str | Path,
        *,
        seed: int,
        diversity_coef: float = 0.0,
        temperature: float = 1.0,
        max_new_tokens: int = 32,
        batch_size: int = 64,
    ):
        self.path = str(path)
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

    def __call__(self, prompts: Sequence[Text], attacks: Sequence[str]) -> np.ndarray:
        failed = [v.failed for v in self.verdicts(attacks)]
        return attack_rewards(failed, attacks, self.diversity_coef)

    def found(self, prompts: Sequence[Text], attacks: Sequence[str]) -> np.ndarray:
        """1 where the attack found a failure, else 0."""
        return np.array([float(v.failed) for v in self.verdicts(attacks)])

    def __repr__(self) -> str:
        return f"Target({self.path!r})"
