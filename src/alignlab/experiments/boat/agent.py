"""PPO on a discrete-action ``gymnasium`` environment, on alignlab's own objectives.

Each update samples ``episodes_per_update`` episodes (:mod:`.rollout`), computes GAE
advantages and returns with :func:`alignlab.objectives.gae` on the ``[B, T]`` episode rows,
and runs ``epochs`` passes of minibatch steps on the clipped losses of
:mod:`alignlab.objectives.ppo` (Schulman et al. 2017): ``policy_loss + vf_coef value_loss -
entropy_coef entropy_bonus``, with advantages whitened over the batch.

**KL leash.** Given a reference policy ``pi_ref`` (observations to action probabilities)
and ``kl_coef = beta > 0``, each step's reward becomes ``r_t - beta k_t`` with ``k_t = log
pi(a_t | s_t) - log pi_ref(a_t | s_t)`` (the k1 estimate, as the language-model trainer
penalizes each token), so PPO maximizes ``E[sum_t r_t] - beta KL`` of the trajectory
distributions (Ziegler et al. 2019). The KL each update reports is exact: ``sum_t
KL(pi(. | s_t) || pi_ref(. | s_t))`` over an episode's states, averaged over episodes.

**Start.** ``init = "reference"`` first clones ``pi_ref`` into the policy (cross-entropy
to its probabilities on the given states), as RLHF starts from its reference;
``"scratch"`` starts from a nearly uniform policy. Everything is seeded (``torch``'s
generator for sampling and minibatches, the environments' reset seeds), so a run repeats
its numbers on one machine with one thread.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import gymnasium as gym
import torch
from torch import Tensor

from alignlab.experiments.boat.rollout import ActorCritic, Episodes, action_logps, rollout
from alignlab.objectives import (
    entropy_bonus,
    gae,
    kl_estimate,
    masked_whiten,
    policy_loss,
    value_loss,
)

Reference = Callable[[Tensor], Tensor]
"""A reference policy: observations ``[..., D]`` to action probabilities ``[..., A]``."""

INITS = ("reference", "scratch")


@dataclass
class AgentConfig:
    """PPO's settings for a boat (any small discrete-action environment)."""

    episodes_per_update: int = 16
    """Episodes sampled per PPO update."""
    epochs: int = 4
    """Passes over each update's steps."""
    minibatches: int = 4
    """Minibatches per pass."""
    lr: float = 1e-3
    """Adam learning rate."""
    gamma: float = 0.99
    """Discount of the returns GAE estimates (shaping's potential uses the same)."""
    lam: float = 0.95
    """GAE's lambda."""
    clip_range: float = 0.2
    """PPO's policy clip epsilon."""
    clip_range_value: float = 10.0
    """The value clip, in reward units: returns here reach tens, so 0.2 would freeze the
    critic."""
    vf_coef: float = 0.5
    """Weight of the value loss."""
    entropy_coef: float = 0.01
    """Weight of the entropy bonus."""
    max_grad_norm: float = 0.5
    """Gradient-norm clip."""
    hidden_size: int = 64
    """Width of the policy's and the value function's two hidden layers."""
    init: str = "reference"
    """``reference``: clone the reference policy before PPO; ``scratch``: start uniform."""
    clone_steps: int = 300
    """Adam steps of cloning the reference (``init = "reference"``)."""
    clone_lr: float = 1e-2
    """Adam learning rate of cloning the reference."""

    def __post_init__(self) -> None:
        if self.init not in INITS:
            raise ValueError(f"init: unknown {self.init!r}; known: {', '.join(INITS)}")
        for name in ("episodes_per_update", "epochs", "minibatches", "hidden_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name}: must be at least 1, got {getattr(self, name)}")
        if not 0.0 < self.gamma <= 1.0 or not 0.0 <= self.lam <= 1.0:
            raise ValueError("gamma must lie in (0, 1] and lam in [0, 1]")


def exact_kl(logps: Tensor, ref_probs: Tensor) -> Tensor:
    """``KL(pi || pi_ref) = sum_a pi(a) (log pi(a) - log pi_ref(a))`` per state ``[...]``."""
    return (logps.exp() * (logps - ref_probs.log())).sum(-1)


def episode_kl(net: ActorCritic, episodes: Episodes, reference: Reference) -> Tensor:
    """Each episode's ``sum_t KL(pi(. | s_t) || pi_ref(. | s_t))``, ``[B]``."""
    with torch.no_grad():
        logps, _ = action_logps(net, episodes.obs)
        kl = exact_kl(logps, reference(episodes.obs))
    return torch.where(episodes.mask, kl, 0.0).sum(1)


def clone(net: ActorCritic, obs: Tensor, reference: Reference, steps: int, lr: float) -> float:
    """Fit the policy to ``reference`` on states ``obs`` (cross-entropy); the final KL."""
    target = reference(obs)
    optimizer = torch.optim.Adam(net.policy.parameters(), lr=lr)
    kl = torch.tensor(math.nan)
    for _ in range(steps):
        logps, _ = action_logps(net, obs)
        loss = -(target * logps).sum(-1).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        kl = exact_kl(logps.detach(), target).mean()
    return float(kl)


def ppo_update(
    net: ActorCritic,
    optimizer: torch.optim.Optimizer,
    episodes: Episodes,
    config: AgentConfig,
    generator: torch.Generator,
    reference: Reference | None = None,
    kl_coef: float = 0.0,
) -> dict[str, float]:
    """One PPO update on ``episodes``, leashed to ``reference`` by ``kl_coef``; the mean of
    its minibatch metrics."""
    mask = episodes.mask
    rewards = episodes.rewards
    if reference is not None and kl_coef > 0:
        ref_logps = reference(episodes.obs).log().gather(-1, episodes.actions[..., None])
        k1 = kl_estimate(episodes.logps, ref_logps.squeeze(-1), "k1")
        rewards = rewards - kl_coef * torch.where(mask, k1, 0.0)
    advantages, returns = gae(rewards, episodes.values, mask, gamma=config.gamma, lam=config.lam)
    advantages = masked_whiten(advantages, mask)
    valid = mask.reshape(-1)
    flat = {
        "obs": episodes.obs.reshape(-1, episodes.obs.shape[-1])[valid],
        "actions": episodes.actions.reshape(-1)[valid],
        "logps": episodes.logps.reshape(-1)[valid],
        "values": episodes.values.reshape(-1)[valid],
        "advantages": advantages.reshape(-1)[valid],
        "returns": returns.reshape(-1)[valid],
    }
    n = flat["actions"].numel()
    size = math.ceil(n / config.minibatches)
    totals: dict[str, float] = {}
    count = 0
    for _ in range(config.epochs):
        order = torch.randperm(n, generator=generator)
        for start in range(0, n, size):
            batch = {k: v[order[start : start + size]][None] for k, v in flat.items()}
            ones = torch.ones_like(batch["actions"], dtype=torch.bool)
            logits, values = net(batch["obs"])
            logps = torch.log_softmax(logits, -1).gather(-1, batch["actions"][..., None])
            p_loss, p_metrics = policy_loss(
                logps.squeeze(-1), batch["logps"], batch["advantages"], ones,
                clip_range=config.clip_range,
            )  # fmt: skip
            v_loss, v_metrics = value_loss(
                values, batch["values"], batch["returns"], ones,
                clip_range_value=config.clip_range_value,
            )  # fmt: skip
            entropy = entropy_bonus(logits, ones)
            loss = p_loss + config.vf_coef * v_loss - config.entropy_coef * entropy
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), config.max_grad_norm)
            optimizer.step()
            metrics = {
                "policy_loss": p_loss,
                "value_loss": v_loss,
                "entropy": entropy,
                **p_metrics,
                **v_metrics,
            }
            for key, value in metrics.items():
                totals[key] = totals.get(key, 0.0) + float(value.detach())
            count += 1
    return {key: value / count for key, value in totals.items()}


Log = Callable[[int, Episodes, dict[str, float]], None]
"""Called after each update with its index, its episodes and its metrics."""


def train_agent(
    make_env: Callable[[], gym.Env],
    config: AgentConfig,
    *,
    steps: int,
    seed: int,
    reference: Reference | None = None,
    clone_obs: Tensor | None = None,
    kl_coef: float = 0.0,
    log: Log | None = None,
) -> ActorCritic:
    """Train a fresh :class:`ActorCritic` on ``make_env``'s reward by PPO (module docstring)
    for ``steps`` environment steps (rounded up to whole updates);
    ``reference`` is the KL leash's ``pi_ref`` (``kl_coef``) and, with ``init =
    "reference"``, the policy cloned on states ``clone_obs`` first."""
    if kl_coef < 0 or steps < 1:
        raise ValueError(f"need kl_coef >= 0 and steps >= 1, got {kl_coef} and {steps}")
    if (kl_coef > 0 or config.init == "reference") and reference is None:
        raise ValueError("a KL leash or init = 'reference' needs a reference policy")
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    probe = make_env()
    net = ActorCritic(probe.observation_space.shape[0], probe.action_space.n, config.hidden_size)
    if config.init == "reference":
        if clone_obs is None:
            raise ValueError("init = 'reference' needs the states to clone on (clone_obs)")
        clone(net, clone_obs, reference, config.clone_steps, config.clone_lr)
    optimizer = torch.optim.Adam(net.parameters(), lr=config.lr)
    done, update = 0, 0
    while done < steps:
        episodes = rollout(
            net,
            make_env,
            config.episodes_per_update,
            generator=generator,
            seed=seed * 1_000_003 + update * config.episodes_per_update,
        )
        # The sampling policy's KL on its own episodes, before the update moves it.
        kl = None if reference is None else float(episode_kl(net, episodes, reference).mean())
        metrics = ppo_update(net, optimizer, episodes, config, generator, reference, kl_coef)
        if kl is not None:
            metrics["kl"] = kl
        metrics["return"] = float(episodes.returns().mean())
        done += episodes.steps
        metrics["steps"] = done
        if log is not None:
            log(update, episodes, metrics)
        update += 1
    return net
