"""What every trainer's config shares: the starting model, the optimizer, the schedule,
logging and checkpoints (:class:`TrainConfig`), and, for trainers of a policy, how it is
evaluated while it trains (:class:`PolicyTrainConfig`).

Defaults fit the assistant organism (``alignlab organism build``) on a 2-core CPU: small
batches, one pass over its data, a checkpoint every 50 steps.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from alignlab.models.loading import LoraSpec

LR_SCHEDULES = {"constant": "constant_with_warmup", "linear": "linear", "cosine": "cosine"}


def _at_least(config: object, minimum: int, *names: str) -> None:
    for name in names:
        value = getattr(config, name)
        if value is not None and value < minimum:
            raise ValueError(f"{name}: must be >= {minimum}, got {value}")


@dataclass
class TrainConfig:
    """Options every trainer shares."""

    model: str = "organism/base"
    """Starting weights: a local HF model directory (safetensors) or a hub id."""
    seed: int = 0
    """Seed for data order, initialization and evaluation sampling; same seed, same numbers."""
    epochs: int = 1
    """Passes over the training data (when ``max_steps`` is unset)."""
    max_steps: int | None = None
    """Stop after this many optimizer steps, cycling through the data as often as needed."""
    batch_size: int = 8
    """Examples (pairs, for preference trainers) per micro-batch on each process."""
    grad_accum: int = 1
    """Micro-batches whose gradients add up to one optimizer step."""
    lr: float = 1e-4
    """Peak learning rate of AdamW."""
    weight_decay: float = 0.0
    """AdamW's decoupled weight decay."""
    warmup_steps: int = 0
    """Steps of linear warm-up from 0 to ``lr``."""
    lr_schedule: Literal["constant", "linear", "cosine"] = "linear"
    """Learning rate after warm-up: constant, or decaying to 0 at the last step."""
    max_grad_norm: float = 1.0
    """Clip the gradient's global L2 norm to this; 0 disables clipping."""
    max_length: int = 256
    """Longest prompt plus response in tokens; longer pairs keep the prompt's end."""
    log_every: int = 1
    """Write a line to metrics.jsonl every this many steps (and at evaluation and checkpoints)."""
    eval_every: int = 50
    """Evaluate every this many steps, and at the end; 0 evaluates at the end only."""
    save_every: int = 50
    """Checkpoint every this many steps; 0 never checkpoints (the final model is still saved)."""
    keep_checkpoints: int = 2
    """How many of the latest checkpoints to keep."""
    dtype: str = "float32"
    """Dtype of the weights: float32, bfloat16, float16, or auto."""
    mixed_precision: Literal["no", "bf16", "fp16"] = "no"
    """Autocast the forward pass to this precision (accelerate's mixed precision)."""
    cpu: bool = False
    """Train on the CPU even when an accelerator is present."""
    threads: int = 0
    """Torch CPU threads; 0 keeps torch's default (small models on busy CPUs run best on 1)."""
    lora: LoraSpec | None = None
    """Train low-rank adapters instead of all weights (a ``[lora]`` table: r, alpha, ...)."""
    trust_remote_code: bool = False
    """Let a model directory run its own Python code when it loads."""
    resume: bool = False
    """Continue the run in ``output_dir`` from its last checkpoint."""
    progress: bool = True
    """Show a progress bar on stderr."""

    def __post_init__(self) -> None:
        _at_least(self, 1, "epochs", "max_steps", "batch_size", "grad_accum", "log_every")
        _at_least(self, 1, "keep_checkpoints")
        _at_least(self, 0, "seed", "warmup_steps", "eval_every", "save_every", "threads")
        _at_least(self, 2, "max_length")
        if self.lr <= 0:
            raise ValueError(f"lr: must be > 0, got {self.lr}")
        if self.weight_decay < 0 or self.max_grad_norm < 0:
            raise ValueError("weight_decay and max_grad_norm: must be >= 0")


@dataclass
class PolicyTrainConfig(TrainConfig):
    """Options of trainers that train a policy, which is evaluated by sampling from it."""

    reference: str | None = None
    """The reference policy for KL (and DPO's reference); unset: the starting ``model``."""
    eval_prompts: str | None = None
    """Prompts (Sample records) to sample from the policy at each evaluation; unset: none."""
    eval_max_prompts: int = 64
    """Evaluate on at most this many of ``eval_prompts``, spread evenly over the file."""
    eval_max_new_tokens: int = 48
    """Longest sampled response, in tokens."""
    eval_temperature: float = 1.0
    """Sampling temperature; at 1.0 the KL estimate is that of the policy itself."""
    eval_batch_size: int = 32
    """Prompts per generation batch."""
    reward: str | None = None
    """The proxy reward tracked at evaluation: a reward model, ensemble, or module:function."""
    gold: str | None = None
    """The gold (or held-out) reward tracked at evaluation, as a reward spec (e.g. ``gold``)."""
    judge: str | None = None
    """A judge whose categories and padding become failure-mode rates at evaluation: a
    ``module:function`` returning an object with ``category`` and ``padded`` per response
    (``gold``: the organism's); unset: none."""

    def __post_init__(self) -> None:
        super().__post_init__()
        _at_least(self, 1, "eval_max_prompts", "eval_max_new_tokens", "eval_batch_size")
        if self.eval_temperature <= 0:
            raise ValueError(f"eval_temperature: must be > 0, got {self.eval_temperature}")
        tracked = [n for n in ("reward", "gold", "judge") if getattr(self, n) is not None]
        if tracked and self.eval_prompts is None:
            raise ValueError(f"{tracked[0]}: is tracked on samples, so eval_prompts must be set")
