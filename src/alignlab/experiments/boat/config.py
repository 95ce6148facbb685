"""The boat-race experiment's config, and the fixes it measures as a registry.

A *fix* names what a boat is trained on; :data:`FIXES` maps each name to the runs it
stands for (``kl`` is one run per ``beta``), each a :class:`Fix`. Every run starts from
the same seeded network (by default the cloned demonstrator) and trains on
:class:`~alignlab.organisms.boat.TrainingReward` with its settings.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from alignlab.experiments.boat.agent import AgentConfig
from alignlab.organisms.boat import DEMONSTRATOR_NOISE, HORIZON


@dataclass(frozen=True)
class Fix:
    """One way to train a boat: a reward base, a finish bonus, shaping and a KL leash."""

    name: str  # the run's directory name: none, shaping, kl-0.5, ...
    label: str  # what the table calls it
    base: str = "observed"  # the reward base (REWARD_BASES): observed or hidden
    finish_bonus: float = 0.0  # paid for each finished lap
    shaping: float = 0.0  # scale of the potential Phi (cells clockwise of the finish line)
    kl_coef: float = 0.0  # beta of the KL leash to the demonstrator


def _none(config: BoatConfig) -> list[Fix]:
    return [Fix("none", "none: the observed reward")]


def _shaping(config: BoatConfig) -> list[Fix]:
    return [Fix("shaping", "observed + potential shaping", shaping=config.shaping)]


def _finish_bonus(config: BoatConfig) -> list[Fix]:
    label = f"observed + finish bonus {config.finish_bonus:g}"
    return [Fix("finish_bonus", label, finish_bonus=config.finish_bonus)]


def _kl(config: BoatConfig) -> list[Fix]:
    return [Fix(f"kl-{b:g}", f"observed, KL leash beta={b:g}", kl_coef=b) for b in config.betas]


def _oracle(config: BoatConfig) -> list[Fix]:
    return [Fix("oracle", "oracle: the hidden performance", base="hidden")]


def _oracle_shaping(config: BoatConfig) -> list[Fix]:
    label = "oracle + potential shaping"
    return [Fix("oracle_shaping", label, base="hidden", shaping=config.shaping)]


FIXES: dict[str, Callable[[BoatConfig], list[Fix]]] = {
    "none": _none,
    "shaping": _shaping,
    "finish_bonus": _finish_bonus,
    "kl": _kl,
    "oracle": _oracle,
    "oracle_shaping": _oracle_shaping,
}
"""Each fix's name and the runs it stands for under a config."""


def _default_fixes() -> list[str]:
    return list(FIXES)


def _default_betas() -> list[float]:
    return [0.1, 0.3, 0.5, 0.7, 1.0, 3.0]


@dataclass
class BoatConfig:
    """The boat race: specification gaming on the observed reward, and its fixes."""

    output_dir: str = "runs/boat"
    """Where the runs, results.json, report.html and the trajectory pictures go."""
    seeds: int = 3
    """Seeds per fix: ``first_seed``, ``first_seed + 1``, ...; a seed fixes the network's
    start, the sampled actions and the minibatches, shared by every fix."""
    first_seed: int = 0
    """The first seed."""
    steps: int = 30_000
    """Environment steps each run trains for (whole updates of
    ``agent.episodes_per_update`` races)."""
    fixes: list[str] = field(default_factory=_default_fixes)
    """Which fixes to run (:data:`FIXES`): ``none``, ``shaping`` (of the observed reward),
    ``finish_bonus``, ``kl`` (one run per beta), ``oracle`` (trained on the hidden
    performance, the upper bound) and ``oracle_shaping`` (shaping applied to it)."""
    betas: list[float] = field(default_factory=_default_betas)
    """Strengths beta of the KL leash to the demonstrator (fix ``kl``)."""
    finish_bonus: float = 20.0
    """Reward for each finished lap (fix ``finish_bonus``); racing beats bouncing on the
    observed reward once it exceeds 12 (a lap's 16 steps give 4 arrows racing, 8 bouncing)."""
    shaping: float = 1.0
    """Scale of the potential ``Phi`` (reward units per cell of progress) of the shaping
    fixes."""
    demonstrator_noise: float = DEMONSTRATOR_NOISE
    """Share of the uniform policy in the demonstrator (the scripted racer)."""
    horizon: int = HORIZON
    """Steps in a race."""
    eval_episodes: int = 64
    """Races sampled from each trained policy to measure it (and one greedy race)."""
    agent: AgentConfig = field(default_factory=AgentConfig)
    """PPO's settings, shared by every fix (``init``: start from the cloned demonstrator
    or from scratch)."""
    threads: int = 1
    """Torch CPU threads; 0 keeps the default."""
    progress: bool = True
    """Show a progress bar."""
    report_dir: str | None = None
    """Another report to add the panel to; unset: only ``output_dir``'s."""

    def __post_init__(self) -> None:
        if self.seeds < 1 or self.first_seed < 0:
            raise ValueError("seeds: must be at least 1, first_seed at least 0")
        if self.steps < 1 or self.eval_episodes < 1 or self.horizon < 1:
            raise ValueError("steps, eval_episodes, horizon: must be at least 1")
        unknown = [f for f in self.fixes if f not in FIXES]
        if unknown or not self.fixes:
            raise ValueError(f"fixes: unknown {unknown}; known: {', '.join(FIXES)}")
        if "kl" in self.fixes and (not self.betas or min(self.betas) <= 0):
            raise ValueError(f"betas: the kl fix needs positive betas, got {self.betas}")
        if not 0.0 < self.demonstrator_noise <= 1.0:
            raise ValueError("demonstrator_noise: must lie in (0, 1]")

    @property
    def seed_list(self) -> list[int]:
        return list(range(self.first_seed, self.first_seed + self.seeds))

    def runs(self) -> list[Fix]:
        """Every run's :class:`Fix`, in the order of ``fixes``."""
        return [fix for name in self.fixes for fix in FIXES[name](self)]
