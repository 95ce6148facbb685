"""Proxy, gold and KL tracking of a policy while it trains (design section 5).

At each evaluation the policy samples one response to each evaluation prompt (the same
seed every time, so successive evaluations differ by the policy alone), and the
evaluator logs:

- ``response/length``: mean response length in tokens;
- ``kl``: sequence-level KL to the reference, estimated on the samples as the mean over
  responses of ``sum_t log pi(y_t | x, y_<t) - log pi_ref(y_t | x, y_<t)``;
- ``proxy/mean`` and ``gold/mean``: the mean proxy and gold rewards of the samples;
- ``gold/<category>`` and ``gold/padded``: the rate of each category the gold judge gives
  to the samples (a category no sample fell in is left out: its rate is 0) and, when the
  judge's verdicts say so, of padded replies.

Rising proxy with flat or falling gold, as KL grows, is Goodhart's law at work.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from alignlab.data.io import read_records
from alignlab.data.records import Text
from alignlab.models.generation import Generation, generate_samples
from alignlab.models.reward_fns import RewardFn, resolve_judge, resolve_reward
from alignlab.models.sequences import EncodedPair, collate, response_token_logps
from alignlab.trainers.config import PolicyTrainConfig
from alignlab.trainers.rollout import judge_rates


def sequence_kl(
    policy: torch.nn.Module,
    reference: torch.nn.Module,
    generations: Sequence[Generation],
    pad_id: int,
    *,
    batch_size: int = 32,
) -> np.ndarray:
    """``log pi(y | x) - log pi_ref(y | x)`` of each sampled response ``y``, ``[N]``.

    Its mean over samples from ``pi`` estimates ``KL(pi || pi_ref)`` of whole responses.
    """
    pairs = [EncodedPair.from_ids(g.prompt_ids, g.response_ids) for g in generations]
    out = []
    with torch.inference_mode():
        for start in range(0, len(pairs), batch_size):
            batch = collate(pairs[start : start + batch_size], pad_id)
            logps = response_token_logps(policy, batch).sum(-1)
            ref_logps = response_token_logps(reference, batch).sum(-1)
            out.append((logps - ref_logps.to(logps.device)).float().cpu())
    return torch.cat(out).numpy().astype(float)


def spread(items: Sequence, k: int) -> list:
    """At most ``k`` items, evenly spaced over ``items`` (so every part of a file shows up)."""
    if len(items) <= k:
        return list(items)
    return [items[i * len(items) // k] for i in range(k)]


@dataclass
class PolicyEvaluator:
    """Samples from a policy and measures the samples (see the module docstring)."""

    prompts: list[Text]
    tokenizer: Any
    reference: torch.nn.Module | None
    reward_fn: RewardFn | None = None
    gold_fn: RewardFn | None = None
    judge: Callable[[Text, str], Any] | None = None
    max_new_tokens: int = 48
    temperature: float = 1.0
    batch_size: int = 32
    seed: int = 0

    def __call__(self, policy: torch.nn.Module) -> dict[str, float]:
        groups = generate_samples(
            policy,
            self.tokenizer,
            self.prompts,
            max_new_tokens=self.max_new_tokens,
            temperature=self.temperature,
            batch_size=self.batch_size,
            seed=self.seed,
        )
        generations = [group[0] for group in groups]
        texts = [g.text for g in generations]
        metrics = {
            "eval/n": float(len(texts)),
            "response/length": float(np.mean([len(g.response_ids) for g in generations])),
        }
        if self.reference is not None:
            was_training = policy.training
            policy.eval()
            kl = sequence_kl(
                policy,
                self.reference,
                generations,
                self.tokenizer.pad_token_id,
                batch_size=self.batch_size,
            )
            policy.train(was_training)
            metrics["kl"] = float(kl.mean())
        if self.reward_fn is not None:
            metrics["proxy/mean"] = float(self.reward_fn(self.prompts, texts).mean())
        if self.gold_fn is not None:
            metrics["gold/mean"] = float(self.gold_fn(self.prompts, texts).mean())
        if self.judge is not None:
            metrics.update(judge_rates(self.judge, self.prompts, texts, what="evaluation prompt"))
        return metrics


def policy_evaluator(
    config: PolicyTrainConfig, tokenizer, reference: torch.nn.Module | None, device
) -> PolicyEvaluator | None:
    """The evaluator ``config`` asks for (None without ``eval_prompts``); specs resolve now,
    so a bad one fails before training starts."""
    if config.eval_prompts is None:
        return None
    samples = read_records(config.eval_prompts, "sample")
    if not samples:
        raise ValueError(f"eval_prompts: {config.eval_prompts} holds no prompts")
    return PolicyEvaluator(
        prompts=[s.input for s in spread(samples, config.eval_max_prompts)],
        tokenizer=tokenizer,
        reference=reference,
        reward_fn=None if config.reward is None else resolve_reward(config.reward, device=device),
        gold_fn=None if config.gold is None else resolve_reward(config.gold, device=device),
        judge=None if config.judge is None else resolve_judge(config.judge),
        max_new_tokens=config.eval_max_new_tokens,
        temperature=config.eval_temperature,
        batch_size=config.eval_batch_size,
        seed=config.seed,
    )
