"""The training loop every trainer shares, on ``accelerate``.

A trainer hands the loop a :class:`TrainingTask`: the model, the examples, how to batch them and
the loss of a batch (an objective from :mod:`alignlab.objectives`). The loop owns the
rest: AdamW with a warm-up schedule, gradient accumulation and clipping, ``metrics.jsonl``,
evaluation, checkpoints, resuming, and the guard against divergence.

The guard against divergence is :mod:`alignlab.trainers.guard`; how processes are formed,
:mod:`alignlab.trainers.processes`.

The loss of an optimizer step is normalized over the whole global batch: every process's
micro-batches of the accumulation window together. ``task.units(batch)`` says what the
objective's loss is a mean over (response tokens for SFT, comparisons for DPO and reward
models), and micro-batch ``b`` of ``N`` units in all is back-propagated as

    loss_b * n_b / N * P * G

(``P`` processes, whose gradients DDP and FSDP average, and ``G`` the accumulation steps
accelerate divides by), so the step's gradient is that of ``sum_b loss_b n_b / N``: one
batch of 8 examples, 2 processes of 4 and 4 accumulated micro-batches of 2 take the same
step, to float tolerance. The logged loss is that same global mean.

Steps count optimizer steps. The data order of epoch ``e`` is a permutation drawn from
``(seed, e)`` alone, so a resumed run replays the order it would have seen: it loads the
last checkpoint (weights, optimizer, scheduler, RNG states), drops the lines of
``metrics.jsonl`` written after it, skips the micro-batches of the epoch already consumed,
and ends at the same step as an uninterrupted run, with the same numbers.

When the task evaluates, the untrained model is evaluated first and logged as step 0, so
every curve starts at its origin (KL 0, the starting rewards). Evaluation runs on the main
process.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from accelerate import Accelerator
from accelerate.utils import DistributedType
from torch import Tensor
from torch.utils.data import DataLoader, Sampler

from alignlab.progress import err, progress_bar
from alignlab.trainers.config import LR_SCHEDULES, TrainConfig
from alignlab.trainers.guard import DivergenceGuard, check_finite, finite_weights, stop_run
from alignlab.trainers.rundir import (
    MetricsLog,
    checkpoint_state,
    latest_checkpoint,
    load_checkpoint,
    mark_good,
    save_checkpoint,
)

Loss = Callable[[torch.nn.Module, dict[str, Tensor]], tuple[Tensor, dict[str, Tensor]]]


@dataclass
class TrainingTask:
    """What a trainer hands the loop."""

    name: str
    """Shown on the progress bar."""
    model: torch.nn.Module
    """The module to train, on the accelerator's device, in train mode."""
    examples: Sequence[Any]
    """Training examples; ``collate`` turns a list of them into a batch."""
    collate: Callable[[list[Any]], dict[str, Tensor]]
    """A list of examples to a dict of tensors with an ``attention_mask`` (tokens/s counts it)."""
    loss: Loss
    """``loss(model, batch) -> (loss, metrics)``, as the objectives return them."""
    evaluate: Callable[[torch.nn.Module], dict[str, float]] | None = None
    """Evaluation metrics of the (unwrapped) model, logged at evaluation steps."""
    units: Callable[[dict[str, Tensor]], int] | None = None
    """What ``loss`` is a mean over in a batch (its response tokens, say); unset: its rows."""

    def count(self, batch: dict[str, Tensor]) -> int:
        """The batch's units: what its loss is a mean over."""
        return int(batch["attention_mask"].shape[0]) if self.units is None else self.units(batch)


class EpochSampler(Sampler[int]):
    """A permutation of ``range(n)`` drawn from ``(seed, epoch)`` alone."""

    def __init__(self, n: int, seed: int):
        self.n, self.seed, self.epoch = n, seed, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.n

    def __iter__(self):
        return iter(np.random.default_rng([self.seed, self.epoch]).permutation(self.n).tolist())


class _Window:
    """What the steps since the last logged one add up to: each step's global loss, the
    other metrics summed over micro-batches, tokens, gradient norms and the last lr."""

    def __init__(self) -> None:
        self.sums: dict[str, float] = {}
        self.count = 0
        self.tokens = 0
        self.losses: list[float] = []
        """Each step's global mean loss (:func:`_accumulate`)."""
        self.grad_norms: list[float] = []
        self.lr = 0.0
        self.started = time.perf_counter()

    def add(self, metrics: dict[str, Tensor], tokens: int) -> None:
        for name, value in metrics.items():
            if name != "loss":
                self.sums[name] = self.sums.get(name, 0.0) + float(value.detach())
        self.count += 1
        self.tokens += tokens

    def row(self, accelerator: Accelerator) -> dict[str, float]:
        """The mean step loss, the other metrics' means over micro-batches and processes, the
        last lr, and tokens per second over all processes."""
        names = sorted(self.sums)
        local = torch.tensor(
            [self.sums[n] / self.count for n in names] + [float(self.tokens)],
            device=accelerator.device,
            dtype=torch.float64 if accelerator.device.type == "cpu" else torch.float32,
        )
        means = (accelerator.reduce(local, reduction="sum") / accelerator.num_processes).tolist()
        tokens = means.pop() * accelerator.num_processes
        seconds = max(time.perf_counter() - self.started, 1e-9)
        return {
            "loss": float(np.mean(self.losses)),
            "lr": self.lr,
            **dict(zip(names, means, strict=True)),
            "grad_norm": float(np.mean(self.grad_norms)),
            "tokens_per_s": float(tokens) / seconds,
        }


def follow_config(config: TrainConfig, optimizer, scheduler) -> None:
    """After loading a checkpoint: the lr, schedule and weight decay of ``config``, not of
    the checkpoint (they differ only where ``allow_changes`` let them)."""
    inner = scheduler.scheduler
    inner.base_lrs = [config.lr] * len(optimizer.param_groups)
    for group, factor in zip(optimizer.param_groups, inner.lr_lambdas, strict=True):
        group["initial_lr"] = config.lr
        group["weight_decay"] = config.weight_decay
        group["lr"] = config.lr * factor(inner.last_epoch)
    inner._last_lr = [group["lr"] for group in optimizer.param_groups]


def _data_loader(config: TrainConfig, task: TrainingTask) -> DataLoader:
    return DataLoader(
        task.examples,
        batch_size=config.batch_size,
        sampler=EpochSampler(len(task.examples), config.seed),
        collate_fn=task.collate,
        # Its own generator: starting an epoch must not draw from the global RNG, or a resumed
        # run's dropout would differ from an uninterrupted run's.
        generator=torch.Generator().manual_seed(config.seed),
    )


def make_scheduler(config: TrainConfig, optimizer, total: int, accelerator: Accelerator):
    from transformers import get_scheduler

    # accelerate steps a prepared scheduler once per process per optimizer step.
    return get_scheduler(
        LR_SCHEDULES[config.lr_schedule],
        optimizer,
        num_warmup_steps=config.warmup_steps * accelerator.num_processes,
        num_training_steps=total * accelerator.num_processes,
    )


def run_loop(
    config: TrainConfig, task: TrainingTask, run_dir: Path, accelerator: Accelerator
) -> torch.nn.Module:
    """Train ``task.model`` as ``config`` says, logging into ``run_dir``; return it unwrapped."""
    if not task.examples:
        raise ValueError(f"{task.name}: no training examples")
    if accelerator.distributed_type == DistributedType.DEEPSPEED and config.grad_accum > 1:
        raise ValueError(
            "grad_accum: under DeepSpeed alignlab accumulates no micro-batches itself; set "
            "grad_accum = 1 and raise batch_size or the number of processes"
        )
    params = [p for p in task.model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)
    model, optimizer, loader = accelerator.prepare(
        task.model, optimizer, _data_loader(config, task)
    )
    steps_per_epoch = math.ceil(len(loader) / config.grad_accum)
    total = config.max_steps or config.epochs * steps_per_epoch
    scheduler = accelerator.prepare(make_scheduler(config, optimizer, total, accelerator))

    step, guard = 0, DivergenceGuard(config.divergence_factor)
    checkpoint = latest_checkpoint(run_dir) if config.resume else None
    if checkpoint is not None:
        load_checkpoint(accelerator, checkpoint)
        follow_config(config, optimizer, scheduler)
        state = checkpoint_state(checkpoint)
        step, guard = state["step"], DivergenceGuard(config.divergence_factor, state.get("guard"))
    metrics = MetricsLog(run_dir / "metrics.jsonl")
    if accelerator.is_main_process:
        run_dir.mkdir(parents=True, exist_ok=True)
        metrics.truncate(step)
    if step == 0 and task.evaluate is not None:
        # The starting point of every curve: the untrained model, at KL 0 from the reference.
        start = {"step": 0, "epoch": 0.0}
        _log_step(config, task, run_dir, accelerator, model, metrics, start, total, guard)
    epoch, skip = divmod(step, steps_per_epoch)
    skip *= config.grad_accum  # micro-batches of this epoch already trained on

    window = _Window()
    enabled = config.progress and accelerator.is_main_process
    if accelerator.is_main_process and accelerator.num_processes > 1:
        kind = accelerator.distributed_type.value
        batch = config.batch_size * accelerator.num_processes * config.grad_accum
        err.print(
            f"{task.name}: {accelerator.num_processes} processes ({kind}), global batch {batch}"
        )
    with progress_bar(total, task.name, enabled=enabled, unit="step") as advance:
        advance(step)
        while step < total:
            loader.set_epoch(epoch)
            batches = accelerator.skip_first_batches(loader, skip) if skip else loader
            skip = 0
            for window_batches in _windows(batches, config.grad_accum):
                loss = _accumulate(task, window_batches, accelerator, model, window, step, run_dir)
                max_norm = config.max_grad_norm or math.inf
                norm = accelerator.clip_grad_norm_(model.parameters(), max_norm)
                if norm is None:  # DeepSpeed clips inside its step, by its own config
                    norm = torch.tensor(math.nan)
                else:
                    check_finite(accelerator, norm, "gradient norm", step + 1, run_dir)
                if guard.check(accelerator, loss, step + 1, run_dir):
                    mark_good(accelerator, run_dir, step)  # the weights it ran on
                window.grad_norms.append(float(norm))
                window.losses.append(loss)
                window.lr = optimizer.param_groups[0]["lr"]
                optimizer.step()
                scheduler.step()
                optimizer.zero_grad()
                step += 1
                shown = loss
                if _logging_due(config, task, step, total):
                    row = {"step": step, "epoch": round(step / steps_per_epoch, 4)}
                    row.update(window.row(accelerator))
                    _log_step(config, task, run_dir, accelerator, model, metrics, row, total, guard)
                    shown, window = row["loss"], _Window()
                advance(1, loss=f"{shown:.4f}")
                if step >= total:
                    break
            epoch += 1
    accelerator.wait_for_everyone()
    trained = accelerator.unwrap_model(model)
    accelerator.free_memory()
    return trained


def _windows(batches, size: int):
    """Consecutive lists of ``size`` micro-batches (the last one of an epoch may be shorter)."""
    window = []
    for batch in batches:
        window.append(batch)
        if len(window) == size:
            yield window
            window = []
    if window:
        yield window


def _accumulate(task, batches, accelerator, model, window, step, run_dir) -> float:
    """Back-propagate one optimizer step's micro-batches, each weighted by its share of the
    global batch's units (this module's docstring); return the step's global mean loss."""
    device = accelerator.device
    counts = [task.count(batch) for batch in batches]
    total = float(accelerator.reduce(torch.tensor(float(sum(counts)), device=device), "sum"))
    if total <= 0:
        raise ValueError(f"{task.name}: step {step + 1} has no units to average its loss over")
    scale = accelerator.num_processes * accelerator.gradient_accumulation_steps / total
    weighted = 0.0
    for i, (batch, n) in enumerate(zip(batches, counts, strict=True)):
        last = i == len(batches) - 1
        with contextlib.nullcontext() if last else accelerator.no_sync(model):
            loss, parts = task.loss(model, batch)
            check_finite(accelerator, loss, "loss", step + 1, run_dir)
            accelerator.backward(loss * (n * scale))
        weighted += float(loss.detach()) * n
        window.add(parts, int(batch["attention_mask"].sum()))
    return float(accelerator.reduce(torch.tensor(weighted, device=device), "sum")) / total


def _evaluating(config: TrainConfig, task: TrainingTask, step: int, total: int) -> bool:
    if task.evaluate is None:
        return False
    return step in (0, total) or bool(config.eval_every and step % config.eval_every == 0)


def _saving(config: TrainConfig, step: int) -> bool:
    return bool(step and config.save_every and step % config.save_every == 0)


def _logging_due(config: TrainConfig, task: TrainingTask, step: int, total: int) -> bool:
    # Checkpoint steps are always logged, so a resumed run never starts inside a log window.
    return (
        step == total
        or step % config.log_every == 0
        or _evaluating(config, task, step, total)
        or _saving(config, step)
    )


def _log_step(config, task, run_dir, accelerator, model, metrics, row, total, guard) -> None:
    """Evaluate if due, append ``row`` to metrics.jsonl, and checkpoint if due."""
    step = row["step"]
    if _evaluating(config, task, step, total):
        if accelerator.is_main_process:
            row.update(task.evaluate(accelerator.unwrap_model(model)))
        accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        metrics.append(row)
    if _saving(config, step):
        if not finite_weights(model):
            stop_run(accelerator, run_dir, f"step {step}: the weights are no longer finite")
        state = {"guard": guard.state()}
        save_checkpoint(accelerator, run_dir, step, config.keep_checkpoints, state)
