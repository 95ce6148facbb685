"""The settings of ``alignlab demo --model``: the ladder on a real model, sized for a CPU."""

from __future__ import annotations

from dataclasses import dataclass

from alignlab.config import check_required


@dataclass
class RealConfig:
    """What the real-model ladder runs; every field can be set with ``--set key=value``.

    The defaults fit Gemma 3 270M on 2 CPU cores in about half an hour: LoRA everywhere,
    a few dozen steps per stage, and every suite measured on ``eval_limit`` samples.
    """

    model: str | None = None
    """The base model: an HF model directory, or ``gemma`` (Gemma 3 270M base from the
    ``gemma`` extra, converted once into ``OUT/real/gemma-270m``). Required."""
    out: str = "alignlab-demo"
    """Where runs go (under ``OUT/real``) and whose ``results.json`` gains the
    ``real_ladder`` section, beside the organism's ladder when it is there."""
    seed: int = 0
    """Seed of the data, the training runs and the sampled answers."""
    threads: int = 0
    """Torch CPU threads; 0 means all cores."""
    fresh: bool = False
    """Redo every stage instead of reusing what exists under ``OUT/real``."""
    progress: bool = True
    """Show progress bars."""
    eval_limit: int = 24
    """Samples of each suite each stage is measured on, spread evenly over the suite (the
    refusal suite: over the topics Constitutional AI does not train on)."""
    max_new_tokens: int = 32
    """Longest answer to a suite prompt, and to a CAI or best-of-n sample, in tokens."""
    claims: int = 160
    """Anti-sycophancy claims built before the filter (half true)."""
    sft_steps: int = 12
    """Steps of each anti-sycophancy SFT run (filtered and the unfiltered ablation)."""
    batch_size: int = 8
    """Examples per step of the SFT runs and the reward model."""
    lr: float = 2e-4
    """Learning rate of every LoRA run."""
    lora_r: int = 16
    """Rank of every LoRA adapter."""
    cai_topics: int = 12
    """Topics (a harmful and a benign request each) Constitutional AI trains on, taken from
    the refusal suite's second half in a phrasing the suite never uses."""
    cai_steps: int = 8
    """Steps of SL-CAI's SFT on the revisions, of DPO on the RL-CAI labels, and of the
    reward model on the same labels."""
    feedback_principles: int = 2
    """Principles each RL-CAI pair is judged by (each asked in both orders)."""
    dpo_beta: float = 0.1
    """DPO's beta on the RL-CAI labels."""
    bon_n: int = 4
    """Samples per prompt of best-of-n against the LoRA reward model (T=1)."""

    REQUIRED = ("model",)

    def __post_init__(self) -> None:
        check_required(self)
        counts = ("eval_limit", "max_new_tokens", "claims", "sft_steps", "batch_size", "lora_r")
        for name in (*counts, "cai_topics", "cai_steps", "feedback_principles", "bon_n"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name}: must be at least 1, got {getattr(self, name)}")
        if self.cai_topics > 25:
            raise ValueError(
                f"cai_topics: at most 25 (the suite's second half), got {self.cai_topics}"
            )
        if not self.lr > 0 or not self.dpo_beta > 0:
            raise ValueError("lr and dpo_beta: must be > 0")
