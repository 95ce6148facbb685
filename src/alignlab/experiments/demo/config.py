"""The settings of ``alignlab demo``: sized so the whole ladder runs in minutes on a CPU."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class DemoConfig:
    """What the demo runs, stage by stage; every field can be set with ``--set key=value``."""

    out: str = "alignlab-demo"
    """Where runs, ``results.json`` and ``report.html`` go."""
    seed: int = 0
    """Seed of the organism and of every stage."""
    threads: int = 0
    """Torch CPU threads; 0 means all cores."""
    fresh: bool = False
    """Redo every stage, the organism included, instead of reusing what exists."""
    progress: bool = True
    """Show progress bars."""
    world: dict = field(default_factory=dict)
    """Settings of the organism's :class:`~alignlab.organisms.assistant.WorldConfig` (e.g.
    ``{pretrain = {steps = 200}}`` for a quick, weaker world); empty: the default world."""
    max_steps: int | None = None
    """Cap on the steps of SFT, the reward model, DPO and SL-CAI's SFT (unset: one epoch)."""
    eval_prompts: int | None = None
    """Held-out prompts each stage is measured on, taken evenly across families (unset: all)."""
    eval_samples: int = 2
    """Responses sampled (T=1) per held-out prompt to measure each stage."""
    ensemble: int = 3
    """Members of the reward-model ensemble (bootstrap resamples of the labels)."""
    ensemble_steps: int = 150
    """Training steps of each ensemble member (the single reward model trains a full epoch)."""
    bon_ns: list[int] = field(default_factory=lambda: [1, 2, 4, 8, 16, 32])
    """The n of the best-of-n sweep."""
    bon_prompts: int = 96
    """Held-out prompts of the best-of-n sweep (taken evenly across families)."""
    ppo_steps: int = 60
    """PPO steps, against the proxy and against the oracle."""
    ppo_lr: float = 1e-4
    """PPO learning rate."""
    ppo_kl_coef: float = 0.0
    """PPO's KL coefficient: no leash, so that over-optimization shows within the steps."""
    dpo_beta: float = 0.3
    """DPO's beta (0.1 follows the annotators' length bias further on this world)."""
    cai_samples: int = 4
    """Answers critiqued and revised per train prompt (SL-CAI)."""
    short_words: int = 12
    """Extremal form: the short-only reward model sees pairs of at most this many words."""
    noise_levels: list[float] = field(default_factory=lambda: [0.0, 0.1, 0.3, 1.0])
    """Regressional form: standard deviations of the noise added to gold to make proxies."""

    def __post_init__(self) -> None:
        checks = {
            "eval_samples": self.eval_samples,
            "ensemble": self.ensemble,
            "bon_prompts": self.bon_prompts,
            "ppo_steps": self.ppo_steps,
            "cai_samples": self.cai_samples,
            "max_steps": 1 if self.max_steps is None else self.max_steps,
            "eval_prompts": 1 if self.eval_prompts is None else self.eval_prompts,
        }
        for name, value in checks.items():
            if value < 1:
                raise ValueError(f"{name}: must be at least 1, got {value}")
        if not self.bon_ns or sorted(set(self.bon_ns)) != list(self.bon_ns) or self.bon_ns[0] != 1:
            raise ValueError(f"bon_ns: must rise strictly from 1, got {self.bon_ns}")
        if len(self.bon_ns) < 3:
            raise ValueError("bon_ns: needs at least three values to fit a curve")
