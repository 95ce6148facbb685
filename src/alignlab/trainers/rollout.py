"""PPO-RLHF rollouts: sample responses, score them, and turn the scores into per-token
rewards and advantages (Ziegler et al. 2019; Stiennon et al. 2020; Ouyang et al. 2022).

A rollout is one response to each of a batch of prompts, sampled from the policy at
temperature 1. Each response ``y`` to prompt ``x`` gets a score ``s(x, y)`` from the
reward function (minus an optional length penalty), and each of its tokens a reward

    r_t = -beta k_t + [t = T] s(x, y),    k_t = log pi(y_t | x, y_<t) - log pi_ref(y_t | x, y_<t)

(``k_t`` is the k1 estimate; k2 and k3 of :mod:`alignlab.objectives.kl` may replace it):
a KL penalty on every token and the score on the last, so that the undiscounted return
of the first token is ``s(x, y) - beta log(pi(y | x) / pi_ref(y | x))``, the penalized
reward of the whole response. Advantages come from :func:`~alignlab.objectives.gae` over
the value head's estimates.

Token tensors are laid out as the per-token log-probs are (``[B, L - 1]``, column ``t``
scoring ``input_ids[:, t + 1]``) on a right-padded batch of prompt + response, so each
row's ``mask`` is one contiguous run: its response.

The responses may come from a server (a :class:`~alignlab.models.backends.Backend` that
serves the policy's current weights, :mod:`alignlab.trainers.weight_sync`): their texts
are tokenized locally (:mod:`alignlab.models.served`), and the log-probs, values and
reference log-probs are computed locally exactly as for locally sampled ones.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import save_file
from torch import Tensor

from alignlab.data.records import Text
from alignlab.models.backends import Backend
from alignlab.models.generation import Generation, generate_samples
from alignlab.models.reward_fns import RewardFn, judge_columns
from alignlab.models.sequences import EncodedPair, collate, response_token_logps
from alignlab.models.served import generate_served
from alignlab.objectives import gae, kl_estimate, masked_whiten, token_logps
from alignlab.trainers.rundir import merged, save_model_dir, save_weights

VALUE_HEAD = "value_head.safetensors"


class ActorCritic(torch.nn.Module):
    """A causal LM and a scalar value head on its last hidden states (in float32), zero at
    the start. ``values[:, t]`` estimates the return from the state that ends at token
    ``t``, where ``logits[:, t]`` predicts the next token."""

    def __init__(self, policy: torch.nn.Module):
        super().__init__()
        self.policy = policy
        hidden_size = policy.get_input_embeddings().embedding_dim
        device = next(policy.parameters()).device
        self.value_head = torch.nn.Linear(hidden_size, 1, device=device)
        torch.nn.init.zeros_(self.value_head.weight)
        torch.nn.init.zeros_(self.value_head.bias)

    def forward(self, batch: dict[str, Tensor]) -> tuple[Tensor, Tensor]:
        """``(logits [B, L, V], values [B, L])`` of a right-padded batch."""
        device = self.value_head.weight.device
        output = self.policy(
            input_ids=batch["input_ids"].to(device),
            attention_mask=batch["attention_mask"].to(device),
            output_hidden_states=True,
            use_cache=False,
        )
        values = self.value_head(output.hidden_states[-1].float()).squeeze(-1)
        return output.logits, values

    def save(self, tokenizer, path: Path, *, merge_lora: bool = False) -> Path:
        """Write the policy and its tokenizer as an HF model directory (a LoRA policy as its
        adapter, or merged into full weights with ``merge_lora``), with the value head
        beside them in ``value_head.safetensors``."""
        policy = merged(self.policy) if merge_lora else self.policy
        head = {k: v.detach().cpu().contiguous() for k, v in self.value_head.state_dict().items()}

        def save(directory: Path) -> None:
            save_weights(policy, directory)
            tokenizer.save_pretrained(directory)
            save_file(head, directory / VALUE_HEAD)

        save_model_dir(save, path)
        return path


def prompt_indices(n_prompts: int, size: int, seed: int, start: int) -> list[int]:
    """``size`` prompt indices from position ``start`` of an endless stream of shuffled
    passes over ``range(n_prompts)``; pass ``e`` is a permutation drawn from ``(seed, e)``
    alone, so any step's prompts follow from its position (and a resumed run sees the
    prompts an uninterrupted one would)."""
    if n_prompts < 1:
        raise ValueError("no prompts to sample rollouts from")
    indices: list[int] = []
    position = start
    while len(indices) < size:
        epoch, offset = divmod(position, n_prompts)
        order = np.random.default_rng([seed, epoch]).permutation(n_prompts)
        taken = order[offset : offset + size - len(indices)].tolist()
        indices.extend(taken)
        position += len(taken)
    return indices


def rollout_seed(seed: int, step: int, process: int = 0) -> int:
    """The sampling seed of one process at one step, from nothing else."""
    return int(np.random.SeedSequence([seed, step, process]).generate_state(1)[0])


def length_penalty(lengths: Tensor, coef: float, free_tokens: int = 0) -> Tensor:
    """``coef * max(0, length - free_tokens)`` per response: what the score loses to length."""
    return coef * (lengths - free_tokens).clamp(min=0).to(torch.float32)


def last_token_mask(mask: Tensor) -> Tensor:
    """True at each row's last valid step (where the score is paid)."""
    mask = mask.bool()
    ends = torch.zeros_like(mask)
    ends[:, :-1] = mask[:, :-1] & ~mask[:, 1:]
    ends[:, -1] = mask[:, -1]
    return ends


def ppo_rewards(
    scores: Tensor,
    logps: Tensor,
    ref_logps: Tensor,
    mask: Tensor,
    kl_coef: float,
    estimator: str = "k1",
) -> tuple[Tensor, Tensor]:
    """Per-token rewards ``r_t = -kl_coef k_t + [t last] score`` and the per-token KL
    estimates ``k_t``, both ``[B, T]`` and 0 off ``mask`` (see the module docstring)."""
    mask = mask.bool()
    if scores.shape != mask.shape[:1] or not mask.any(dim=1).all():
        raise ValueError("each of the B scores needs a response of at least one token")
    kl = torch.where(mask, kl_estimate(logps, ref_logps, estimator), 0.0)
    rewards = -kl_coef * kl
    rewards = rewards + torch.where(last_token_mask(mask), scores[:, None].to(rewards), 0.0)
    return rewards, kl


def advantages_and_returns(
    rewards: Tensor,
    values: Tensor,
    mask: Tensor,
    *,
    gamma: float,
    lam: float,
    whiten_rewards: bool,
    whiten_advantages: bool,
) -> tuple[Tensor, Tensor]:
    """GAE advantages and value targets of a rollout, each whitening as asked: rewards
    keep their mean (their sign says good or bad), advantages are centred."""
    mask = mask.bool()
    if whiten_rewards:
        rewards = masked_whiten(rewards, mask, shift_mean=False)
    advantages, returns = gae(rewards, values, mask, gamma=gamma, lam=lam)
    if whiten_advantages:
        advantages = masked_whiten(advantages, mask)
    return advantages, returns


def judge_rates(
    judge: Callable[[Text, str], Any], prompts, texts, *, what: str = "rollout response"
) -> dict[str, float]:
    """``gold/<category>`` rates of the judge's verdicts (and ``gold/padded`` when the
    verdicts say whether a reply is padded); a category no response fell in is left out.
    A verdict the judge cannot give is an error naming the ``what`` and its index."""
    columns = judge_columns(judge, prompts, texts, name="judge", what=what)
    return {f"gold/{k}": float(v.mean()) for k, v in columns.items()}


@dataclass
class Rollout:
    """One batch of sampled responses and everything PPO's update reads of it.

    Token tensors are ``[B, L - 1]`` on the CPU (see the module docstring)."""

    prompts: list[Text]
    generations: list[Generation]
    batch: dict[str, Tensor]
    """The right-padded prompt + response batch: ``input_ids``, ``attention_mask``,
    ``response_mask`` ``[B, L]``."""
    mask: Tensor
    logps: Tensor
    """``log pi_old(y_t | ...)`` of the policy that sampled."""
    ref_logps: Tensor
    values: Tensor
    """The value head's estimates at sampling time."""
    proxy: Tensor
    """``[B]``: the reward function's scores."""
    scores: Tensor
    """``[B]``: the scores PPO maximizes, ``proxy`` less the length penalty."""

    @property
    def lengths(self) -> Tensor:
        return self.mask.sum(dim=1)

    @property
    def texts(self) -> list[str]:
        return [g.text for g in self.generations]

    def sequence_kl(self) -> Tensor:
        """``log pi(y | x) - log pi_ref(y | x)`` per response ``[B]``; its mean estimates
        the sequence-level ``KL(pi || pi_ref)``."""
        return torch.where(self.mask, self.logps - self.ref_logps, 0.0).sum(dim=1)

    def summary(self, kl_coef: float) -> dict[str, float]:
        """The rollout's metrics: mean reward (``proxy/mean``; ``score/mean`` after the length
        penalty), KL, the penalized ``objective`` PPO maximizes, and response length."""
        kl = self.sequence_kl()
        return {
            "proxy/mean": float(self.proxy.mean()),
            "score/mean": float(self.scores.mean()),
            "kl": float(kl.mean()),
            "kl_coef": kl_coef,
            "objective": float((self.scores - kl_coef * kl).mean()),
            "response/length": float(self.lengths.float().mean()),
            "response/finished": float(np.mean([g.finished for g in self.generations])),
        }

    def targets(self, kl_coef: float, *, estimator: str = "k1", **gae_options) -> dict[str, Tensor]:
        """What PPO's losses compare against, per token: the sampling policy's log-probs and
        values, and the advantages and returns of the penalized rewards (``gae_options``
        are those of :func:`advantages_and_returns`)."""
        rewards, _ = ppo_rewards(
            self.scores, self.logps, self.ref_logps, self.mask, kl_coef, estimator
        )
        advantages, returns = advantages_and_returns(rewards, self.values, self.mask, **gae_options)
        return {
            "old_logps": self.logps,
            "old_values": self.values,
            "advantages": advantages,
            "returns": returns,
        }

    def minibatch(self, rows: Sequence[int], **token_tensors: Tensor) -> dict[str, Tensor]:
        """``rows`` of the batch, cut to their longest sequence, with ``mask`` and each of
        ``token_tensors`` (``[B, L - 1]``) cut alike."""
        index = torch.as_tensor(list(rows))
        width = int(self.batch["attention_mask"][index].sum(dim=1).max())
        out = {k: v[index, :width] for k, v in self.batch.items()}
        out["mask"] = self.mask[index, : width - 1]
        out.update({k: v[index, : width - 1] for k, v in token_tensors.items()})
        return out


def collect_rollout(
    model: ActorCritic,
    reference: torch.nn.Module,
    tokenizer,
    prompts: list[Text],
    reward_fn: RewardFn,
    *,
    max_new_tokens: int,
    batch_size: int,
    seed: int,
    length_penalty_coef: float = 0.0,
    length_penalty_from: int = 0,
    backend: Backend | None = None,
) -> tuple[Rollout, dict[str, float]]:
    """Sample one response per prompt from ``model.policy`` (seeded), or from ``backend``
    serving its weights (one request per prompt, seeded from ``seed``), score it, and run the
    policy with its value head and the reference over it without gradients, ``batch_size``
    prompts or sequences at a time. Returns the rollout and the seconds each part took
    (``time/generate``, ``time/reward``, ``time/forward``)."""
    timer = time.perf_counter()
    if backend is None:
        groups = generate_samples(
            model.policy,
            tokenizer,
            prompts,
            max_new_tokens=max_new_tokens,
            batch_size=batch_size,
            seed=seed,
        )
        generations = [group[0] for group in groups]
    else:
        seeds = np.random.SeedSequence(seed).generate_state(len(prompts)) >> 1
        generations = generate_served(
            backend, tokenizer, prompts, seeds.tolist(), max_new_tokens=max_new_tokens
        )
    times = {"time/generate": time.perf_counter() - timer}
    timer = time.perf_counter()
    proxy = torch.as_tensor(reward_fn(prompts, [g.text for g in generations]), dtype=torch.float32)
    lengths = torch.tensor([len(g.response_ids) for g in generations])
    scores = proxy - length_penalty(lengths, length_penalty_coef, length_penalty_from)
    times["time/reward"] = time.perf_counter() - timer
    timer = time.perf_counter()
    pairs = [EncodedPair.from_ids(g.prompt_ids, g.response_ids) for g in generations]
    batch = collate(pairs, tokenizer.pad_token_id)
    mask = batch["response_mask"][:, 1:].bool()
    logps, ref_logps, values = [], [], []
    was_training = model.training
    model.eval()
    with torch.inference_mode():
        for start in range(0, len(pairs), batch_size):
            chunk = {k: v[start : start + batch_size] for k, v in batch.items()}
            logits, chunk_values = model(chunk)
            logps.append(token_logps(logits, chunk["input_ids"].to(logits.device)).float().cpu())
            values.append(chunk_values[:, :-1].float().cpu())
            ref_logps.append(response_token_logps(reference, chunk).float().cpu())
    model.train(was_training)
    times["time/forward"] = time.perf_counter() - timer
    rollout = Rollout(
        prompts=prompts,
        generations=generations,
        batch=batch,
        mask=mask,
        logps=torch.where(mask, torch.cat(logps), 0.0),
        ref_logps=torch.where(mask, torch.cat(ref_logps), 0.0),
        values=torch.where(mask, torch.cat(values), 0.0),
        proxy=proxy,
        scores=scores,
    )
    return rollout, times
