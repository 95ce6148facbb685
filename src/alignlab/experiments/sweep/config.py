"""The config of a Goodhart sweep (``alignlab goodhart sweep --config FILE``).

Defaults fit the assistant organism after ``alignlab train sft`` and ``alignlab train
reward`` with their default configs (``runs/sft/model``, ``runs/reward/model``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from alignlab.goodhart.warning import WarningConfig


def _powers_of_two() -> list[int]:
    return [2**k for k in range(9)]


@dataclass
class BestOfNSweep:
    """Best-of-n over a grid of n, every n estimated from the same ``max(ns)`` samples."""

    ns: list[int] = field(default_factory=_powers_of_two)
    """The n values (KL ``log n - (n - 1) / n``, analytic)."""
    temperature: float = 1.0
    """Sampling temperature; at 1.0 the analytic KL is to the policy itself."""
    oracle: bool = True
    """Also select by the gold reward from the same samples (the oracle bound)."""
    exclude: list[str] = field(default_factory=list)
    """Judge categories the proxy's selection passes over while any other response is
    available: a format check before the reward model (``["malformed"]`` keeps best-of-n to
    responses the world's grammar reads). Needs ``judge``."""
    samples_dir: str | None = None
    """Where samples and their scores are cached, shared by sweeps of the same policy and
    prompts; unset: ``output_dir/samples``."""


@dataclass
class PPOSweep:
    """PPO at several KL coefficients; every step's rollout is a point."""

    kl_coefs: list[float] = field(default_factory=lambda: [0.1, 0.02, 0.0])
    """Fixed KL coefficients, one PPO run each."""
    steps: int = 60
    """PPO steps per run."""
    measure_every: int = 10
    """Measure the held-out split every this many steps (and at step 0 and the end)."""
    oracle: bool = False
    """Also run PPO on the gold reward at each KL coefficient (the oracle bound)."""
    settings: dict[str, Any] = field(default_factory=dict)
    """Any other :class:`~alignlab.trainers.ppo.PPOConfig` field (rollout_size, lr, ...)."""


@dataclass
class DPOSweep:
    """DPO at several betas; each trained policy (and the starting one) is a point."""

    betas: list[float] = field(default_factory=lambda: [1.0, 0.3, 0.1, 0.03])
    """DPO's inverse temperatures, one run each; smaller means further from the start."""
    train_file: str = "organism/data/prefs.jsonl"
    """The comparisons DPO trains on."""
    samples_per_prompt: int = 4
    """Responses sampled per prompt to measure each policy (KL by sampling)."""
    oracle: bool = False
    """Also run DPO on the same pairs relabelled by the gold reward (ties dropped)."""
    settings: dict[str, Any] = field(default_factory=dict)
    """Any other :class:`~alignlab.trainers.dpo.DPOConfig` field (lr, epochs, ...)."""


@dataclass
class SweepConfig:
    """One optimizer across a range of optimization pressure, measured point by point."""

    optimizer: Literal["best_of_n", "ppo", "dpo"] = "best_of_n"
    """The optimizer swept: best-of-n over n, PPO over KL coefficient and steps, DPO over beta."""
    policy: str = "runs/sft/model"
    """The starting policy (also the KL reference)."""
    reward: str = "runs/reward/model"
    """The proxy optimized: a reward model, ensemble (``DIR@min``), or ``module:function``."""
    gold: str | None = "gold"
    """The gold reward, or a held-out judge's (a second reward model) where none exists."""
    judge: str | None = "gold"
    """A judge whose categories and padding become failure-mode rates; unset: none."""
    heldout_reward: str | None = None
    """A held-out reward model tracked as an early-warning signal."""
    ensemble: str | None = None
    """A reward ensemble directory whose members' disagreement is tracked as a signal."""
    prompts: str = "organism/data/prompts_train.jsonl"
    """Prompts the optimizer works on (the ``train`` split)."""
    heldout_prompts: str | None = "organism/data/prompts_heldout.jsonl"
    """Prompts from held-out templates (the ``heldout`` split); unset: train split only."""
    max_prompts: int = 200
    """Measure on at most this many prompts per split, spread evenly over the file."""
    max_new_tokens: int = 48
    """Longest response, in tokens."""
    batch_size: int = 16
    """Prompts per generation batch."""
    output_dir: str = "runs/goodhart"
    """Where the sweep writes points.jsonl, curves.json, plots and its runs."""
    seed: int = 0
    """Seed for sampling, training and bootstrap intervals."""
    threads: int = 1
    """Torch CPU threads (small models on busy CPUs run best on 1); 0 keeps the default."""
    device: str | None = None
    """Device for policies and reward models; unset: the best available."""
    plots: bool = True
    """Draw gold and proxy against sqrt(KL) (PNG and SVG) next to curves.json."""
    best_of_n: BestOfNSweep = field(default_factory=BestOfNSweep)
    ppo: PPOSweep = field(default_factory=PPOSweep)
    dpo: DPOSweep = field(default_factory=DPOSweep)
    warning: WarningConfig = field(default_factory=WarningConfig)

    def __post_init__(self) -> None:
        if self.max_prompts < 1 or self.max_new_tokens < 1 or self.batch_size < 1:
            raise ValueError("max_prompts, max_new_tokens and batch_size: must be >= 1")
        if not self.best_of_n.ns or min(self.best_of_n.ns) < 1:
            raise ValueError(f"best_of_n.ns: must be positive integers, got {self.best_of_n.ns}")
        if not self.ppo.kl_coefs or min(self.ppo.kl_coefs) < 0:
            raise ValueError(f"ppo.kl_coefs: must be >= 0, got {self.ppo.kl_coefs}")
        if self.ppo.steps < 1 or self.ppo.measure_every < 1:
            raise ValueError("ppo.steps and ppo.measure_every: must be >= 1")
        if not self.dpo.betas or min(self.dpo.betas) <= 0:
            raise ValueError(f"dpo.betas: must be > 0, got {self.dpo.betas}")
        if self.dpo.samples_per_prompt < 1 or self.warning.smooth < 1:
            raise ValueError("dpo.samples_per_prompt and warning.smooth: must be >= 1")
        if self.warning.patience < 1:
            raise ValueError("warning.patience: must be >= 1")

    @property
    def splits(self) -> dict[str, str]:
        """Split name to prompts file."""
        out = {"train": self.prompts}
        if self.heldout_prompts is not None:
            out["heldout"] = self.heldout_prompts
        return out
