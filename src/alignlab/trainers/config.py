"""What every trainer's config shares: the starting model, the optimizer, the schedule,
logging and checkpoints (:class:`TrainConfig`), and, for trainers of a policy, how it is
evaluated while it trains (:class:`PolicyTrainConfig`); and PPO's config, the largest
(:class:`PPOConfig`). A trainer that wants other defaults for shared fields says so with
:func:`with_defaults` instead of declaring the fields again.

Defaults fit the assistant organism (``alignlab organism build``) on a 2-core CPU: small
batches, one pass over its data, a checkpoint every 50 steps. No default points at a
model or data file: the inputs a run must have (each config's ``REQUIRED`` fields: the
starting ``model``, the training data) default to unset and are refused until given
(:func:`alignlab.config.check_required`); optional inputs (``eval_prompts``, a reward
model's ``eval_file``) default to unset, which switches them off.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Literal

from alignlab.config import check_required
from alignlab.models.backends import check_server
from alignlab.models.loading import LoraSpec
from alignlab.trainers.weight_sync import check_weight_sync

LR_SCHEDULES = {"constant": "constant_with_warmup", "linear": "linear", "cosine": "cosine"}


def with_defaults(**defaults):
    """A config dataclass's decorator (under ``@dataclass``) that gives inherited fields other
    defaults, so each field stays declared and documented once, in the class that
    introduces it, while a trainer picks the values that suit it."""

    def wrap(cls):
        annotations = dict(inspect.get_annotations(cls))
        for name, value in defaults.items():
            owner = next(
                (b for b in cls.__mro__[1:] if name in inspect.get_annotations(b)),
                None,
            )
            if owner is None:
                raise TypeError(f"{cls.__name__}: no inherited field {name!r} to give a default")
            annotations[name] = inspect.get_annotations(owner)[name]
            setattr(cls, name, value)
        cls.__annotations__ = annotations
        return cls

    return wrap


def _at_least(config: object, minimum: int, *names: str) -> None:
    for name in names:
        value = getattr(config, name)
        if value is not None and value < minimum:
            raise ValueError(f"{name}: must be >= {minimum}, got {value}")


@dataclass
class TrainConfig:
    """Options every trainer shares."""

    REQUIRED = ("model",)

    model: str | None = None
    """Starting weights: a local HF model directory (safetensors) or a hub id. Required."""
    chat_template: str | None = None
    """A Jinja chat template file replacing the tokenizer's own; a tokenizer with none gets
    the base-model few-shot format of alignlab.models.dialogue."""
    seed: int = 0
    """Seed for data order, initialization and evaluation sampling; same seed, same numbers."""
    epochs: int = 1
    """Passes over the training data (when ``max_steps`` is unset)."""
    max_steps: int | None = None
    """Stop after this many optimizer steps (PPO: steps of rollout, then update), cycling
    through the data as often as needed."""
    batch_size: int = 8
    """Examples (pairs for preference trainers, responses for PPO) per micro-batch on each
    process."""
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
    merge_lora: bool = False
    """Save a LoRA run's model merged into full weights instead of as a peft adapter."""
    trust_remote_code: bool = False
    """Let a model directory run its own Python code when it loads."""
    divergence_factor: float | None = 10.0
    """Stop the run when the loss, smoothed over about 10 steps, rises past this many times
    its running minimum (while that is positive; PPO's loss is centred on 0 and is only
    checked for being finite); 0 or unset disables. On the organism's runs the smoothed loss
    stays within 2.3 times its minimum."""
    resume: bool = False
    """Continue the run in ``output_dir`` from its last checkpoint."""
    allow_changes: bool = False
    """On resume, accept a config that differs from the run's ``config.toml`` in fields that
    change what it computes (seed, lr, batch size, data, model, schedule, ...), recording
    the change in ``changes.jsonl``; without it such a resume is refused."""
    progress: bool = True
    """Show a progress bar on stderr."""

    def __post_init__(self) -> None:
        check_required(self)
        _at_least(self, 1, "epochs", "max_steps", "batch_size", "grad_accum", "log_every")
        _at_least(self, 1, "keep_checkpoints")
        _at_least(self, 0, "seed", "warmup_steps", "eval_every", "save_every", "threads")
        _at_least(self, 2, "max_length")
        if self.lr <= 0:
            raise ValueError(f"lr: must be > 0, got {self.lr}")
        if self.weight_decay < 0 or self.max_grad_norm < 0:
            raise ValueError("weight_decay and max_grad_norm: must be >= 0")
        if self.divergence_factor and self.divergence_factor <= 1:
            raise ValueError(
                f"divergence_factor: must be > 1, or 0 to disable, got {self.divergence_factor}"
            )


@dataclass
class PolicyTrainConfig(TrainConfig):
    """Options of trainers that train a policy, which is evaluated by sampling from it."""

    TRACKED = ("reward", "gold", "judge")
    """The fields measured only on samples of ``eval_prompts``, so that setting one needs them."""

    reference: str | None = None
    """The reference policy for KL (and DPO's reference); unset: the starting ``model``."""
    eval_prompts: str | None = None
    """Prompts (Sample records) to sample from the policy at each evaluation; unset: none
    (PPO needs them, since it tracks its reward there; they may be its ``prompts``)."""
    eval_max_prompts: int = 64
    """Evaluate on at most this many of ``eval_prompts``, spread evenly over the file."""
    eval_max_new_tokens: int = 48
    """Longest sampled response, in tokens."""
    eval_temperature: float = 1.0
    """Sampling temperature; at 1.0 the KL estimate is that of the policy itself."""
    eval_batch_size: int = 32
    """Prompts per generation batch."""
    reward: str | None = None
    """The proxy reward: what PPO maximizes, and what every policy trainer tracks at
    evaluation: a reward model directory, an ensemble directory (``DIR@mean-1.0std``
    penalizes the members' disagreement, Coste et al. 2023; ``DIR@min``), or
    ``module:function`` (``gold``: the organism's own utility)."""
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
        tracked = [n for n in self.TRACKED if getattr(self, n) is not None]
        if tracked and self.eval_prompts is None:
            raise ValueError(f"{tracked[0]}: is tracked on samples, so eval_prompts must be set")


@dataclass
@with_defaults(
    reward="runs/reward/model",
    max_steps=100,
    batch_size=16,
    lr=3e-5,
    lr_schedule="constant",
    eval_every=20,
    save_every=20,
)
class PPOConfig(PolicyTrainConfig):
    """PPO-RLHF of a policy against a reward, with a KL penalty to its reference."""

    REQUIRED = (*PolicyTrainConfig.REQUIRED, "prompts")
    TRACKED = ()  # the reward is the objective; gold and the judge are measured on rollouts

    prompts: str | None = None
    """Prompts to sample rollouts from (Sample records: the ``input`` field). Required."""
    output_dir: str = "runs/ppo"
    """Where the run writes config.toml, metrics.jsonl, checkpoints/ and model/."""
    rollout_size: int = 64
    """Prompts per PPO step on each process, one response sampled (at temperature 1) each."""
    max_new_tokens: int = 32
    """Longest rollout response, in tokens."""
    forward_batch_size: int = 64
    """Prompts per generation batch and sequences per forward pass while scoring rollouts."""
    ppo_epochs: int = 1
    """Passes of minibatch updates over each rollout (each pass costs about three forward
    passes of the rollout; on the organism more passes bought no more gold per nat of KL)."""
    kl_coef: float = 0.1
    """``beta``: the penalty per nat of ``log pi / pi_ref``. When adaptive, its start: within
    about a factor of two of the value that holds ``kl_target`` (on the organism, 0.5 for
    a target of 0.5; :mod:`alignlab.trainers.kl_control`)."""
    kl_target: float | None = None
    """Adapt ``kl_coef`` so that the sequence-level KL tracks this many nats; unset: fixed."""
    kl_horizon: int = 2000
    """Responses over which the adaptive ``kl_coef`` may change by a factor of exp(0.2); at
    64 responses a step, 2000 makes K_beta = 0.032 (Ziegler et al. 2019: 0.1). The policy's
    KL answers a change of ``kl_coef`` only some tens of steps later, and a faster gain
    swings ``kl_coef`` past the value that holds the target (see
    :mod:`alignlab.trainers.kl_control`)."""
    kl_estimator: Literal["k1", "k2", "k3"] = "k1"
    """Per-token KL estimate in the penalty (``alignlab.objectives.kl``)."""
    gamma: float = 1.0
    """Discount of future rewards in the advantages."""
    lam: float = 0.95
    """GAE's lambda: lower trusts the value head more (less variance, more bias)."""
    clip_range: float = 0.2
    """PPO's epsilon: how far one update may move a token's probability ratio from 1."""
    clip_range_value: float = 0.2
    """How far one update may move a value estimate from its rollout value."""
    vf_coef: float = 0.1
    """Weight of the value loss against the policy loss."""
    entropy_coef: float = 0.0
    """Weight of the entropy bonus (subtracted from the loss)."""
    whiten_rewards: bool = False
    """Scale the per-token rewards of each rollout to unit variance (keeping their mean)."""
    whiten_advantages: bool = True
    """Centre and scale each rollout's advantages to unit variance."""
    length_penalty: float = 0.0
    """Subtract this from a response's score per token beyond ``length_penalty_from``."""
    length_penalty_from: int = 0
    """Response tokens free of the length penalty (0: every token pays)."""
    rollout_base_url: str | None = None
    """An OpenAI-compatible server (``http://127.0.0.1:8000/v1``) that samples the rollouts'
    responses, one seeded request each; the policy, value head and reference score them
    locally. Unset: the local policy samples."""
    rollout_api_key_env: str | None = None
    """The environment variable holding the rollout server's API key; unset: none is sent."""
    rollout_server: str = "transformers"
    """What serves ``rollout_base_url`` (transformers, vllm, llama.cpp, openai), for the request
    fields that make it sample as the local policy does (alignlab.models.backends.servers)."""
    rollout_concurrency: int = 8
    """Rollout requests in flight at once."""
    weight_sync: str = "reload"
    """How the rollout server comes to serve each step's policy: ``reload`` (a server that
    loads a saved model directory on demand, ``transformers serve``), ``vllm-lora`` (a LoRA
    policy's adapter, vLLM) or ``local`` (the local policy samples); a server that cannot
    take the weights falls back to ``local`` with a warning (alignlab.trainers.weight_sync)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        _at_least(self, 1, "rollout_size", "max_new_tokens", "forward_batch_size", "ppo_epochs")
        _at_least(self, 1, "kl_horizon", "rollout_concurrency")
        _at_least(self, 0, "length_penalty_from")
        check_weight_sync(self.weight_sync)
        check_server(self.rollout_server, "rollout_server")
        if self.rollout_api_key_env is not None and self.rollout_base_url is None:
            raise ValueError(
                "rollout_api_key_env: only a rollout server takes a key; set rollout_base_url"
            )
        if self.reward is None:
            raise ValueError("reward: PPO needs a reward to maximize")
        per_update = self.batch_size * self.grad_accum
        if self.rollout_size % per_update:
            raise ValueError(
                f"rollout_size ({self.rollout_size}) must be a multiple of batch_size * "
                f"grad_accum ({per_update}), so every update sees equally many responses"
            )
        if self.kl_coef < 0 or self.length_penalty < 0 or self.vf_coef < 0:
            raise ValueError("kl_coef, length_penalty and vf_coef: must be >= 0")
        if self.kl_target is not None and (self.kl_target <= 0 or self.kl_coef <= 0):
            raise ValueError("kl_target: must be > 0, and an adaptive kl_coef must start > 0")
        if self.clip_range <= 0 or self.clip_range_value <= 0:
            raise ValueError("clip_range and clip_range_value: must be > 0")
        if not (0 < self.gamma <= 1 and 0 <= self.lam <= 1):
            raise ValueError("gamma must lie in (0, 1] and lam in [0, 1]")

    @property
    def updates_per_step(self) -> int:
        return self.ppo_epochs * self.rollout_size // (self.batch_size * self.grad_accum)
