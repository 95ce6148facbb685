"""The red team's config: the targets (the demo ladder's stages), the attacker's training,
and the fix."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from alignlab.experiments.organism import ladder_models
from alignlab.experiments.redteam.attacks import ATTACK_REWARDS


@dataclass
class RedTeamConfig:
    """An attacker trained with PPO to make each target fail, and the fix on what it found."""

    demo_dir: str | None = "alignlab-demo"
    """A demo's directory (``alignlab demo --out``): the ladder stages named in ``targets``
    that exist there are attacked; unset: only ``models``."""
    targets: list[str] = field(default_factory=lambda: ["SFT", "PPO", "DPO", "CAI"])
    """The demo ladder's stages to attack (``SFT``, ``PPO``, ``PPO-oracle``, ``DPO``,
    ``CAI``)."""
    models: dict[str, str] = field(default_factory=dict)
    """More targets, organism model directories by name (a stage's name replaces it)."""
    organism: str | None = None
    """The organism whose base model the attacker starts from; unset: ``demo_dir/organism``."""
    output_dir: str = "runs/redteam"
    """Where the experiment writes its runs, results.json and report.html."""
    seeds: int = 3
    """Seeds: each trains its own attacker per target (and its own fix)."""
    first_seed: int = 0
    """The first seed."""
    threads: int = 1
    """Torch CPU threads; 0 keeps the default."""
    progress: bool = True
    """Show progress bars."""
    report_dir: str | None = None
    """Another report to add the panels to (``report_dir = "alignlab-demo"`` puts them in the
    demo's); unset: only ``output_dir``'s."""
    demonstrations: int = 2000
    """The attacker's SFT records: world requests of every family, both template splits."""
    steps: int = 60
    """PPO steps of each attacker."""
    rollout_size: int = 64
    """Attacks per PPO step."""
    lr: float = 1e-4
    """The attacker's PPO learning rate."""
    kl_coef: float = 0.05
    """The attacker's KL penalty to its SFT start (Perez et al. keep the red LM near it)."""
    reward: str = "likelihood"
    """What an attack earns (:data:`~alignlab.experiments.redteam.attacks.ATTACK_REWARDS`):
    ``likelihood``, -log(1 - p) of the target's chance p of failing (dense, Perez et al.), or
    ``found``, 1 for a sampled answer that fails (sparse)."""
    diversity_coef: float = 0.5
    """lambda of the diversity term: a rollout's attack pays lambda times its mean bigram
    similarity to the rollout's other attacks (0: pure RL)."""
    max_attack_tokens: int = 24
    """Most tokens per attack."""
    target_temperature: float = 1.0
    """The targets' sampling temperature on attacks (0: greedy)."""
    max_answer_tokens: int = 32
    """Most tokens per target answer."""
    n_attacks: int = 256
    """Attacks sampled from each attacker to measure its found-failure rate and diversity."""
    fix_beta: float = 0.3
    """The fix's DPO beta."""
    fix_epochs: int = 3
    """Epochs of the fix's DPO over the distinct failures found."""
    fix_lr: float = 5e-5
    """The fix's DPO learning rate."""

    def __post_init__(self) -> None:
        for name in ("seeds", "demonstrations", "steps", "rollout_size", "n_attacks"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name}: must be at least 1, got {getattr(self, name)}")
        if self.first_seed < 0:
            raise ValueError(f"first_seed: must be at least 0, got {self.first_seed}")
        if self.diversity_coef < 0 or self.kl_coef < 0:
            raise ValueError("diversity_coef, kl_coef: must be at least 0")
        if self.reward not in ATTACK_REWARDS:
            raise ValueError(f"reward: unknown {self.reward!r}; known: {', '.join(ATTACK_REWARDS)}")
        if self.fix_epochs < 1:
            raise ValueError(f"fix_epochs: must be at least 1, got {self.fix_epochs}")

    @property
    def seed_list(self) -> list[int]:
        return list(range(self.first_seed, self.first_seed + self.seeds))

    def target_models(self) -> dict[str, str]:
        """The targets by name: the ladder's stages in ``targets`` that exist, then ``models``."""
        return ladder_models(self.demo_dir, self.models, self.targets)

    def organism_dir(self) -> Path:
        if self.organism is not None:
            return Path(self.organism)
        if self.demo_dir is None:
            raise ValueError("organism: the attacker starts from an organism (or a demo_dir)")
        return Path(self.demo_dir) / "organism"
