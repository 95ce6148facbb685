"""The guard against divergence, shared by every trainer's loop.

The guard stops the run, before the step is applied, when a loss or gradient is not
finite or the loss smoothed over about 10 steps rises past ``divergence_factor`` times
its running minimum (:class:`DivergenceGuard`). A checkpoint is marked good once a step
computed on its weights passed the guard with a raw loss within the factor too; the
error names the last good one and sets later ones aside (:mod:`alignlab.trainers.rundir`).
Every check is collective, so all processes stop together.
"""

from __future__ import annotations

from pathlib import Path

import torch
from accelerate import Accelerator
from torch import Tensor

from alignlab.trainers.rundir import last_good_checkpoint, set_aside_after


class DivergenceError(RuntimeError):
    """The loss diverged: the run stopped before the update was applied."""


class NonFiniteLossError(DivergenceError):
    """A NaN or infinite loss, gradient or weight: the run stopped."""


def stop_run(accelerator: Accelerator, run_dir: Path, message: str, error=NonFiniteLossError):
    """Set aside the checkpoints after the last good one and raise ``error`` naming it."""
    good = last_good_checkpoint(run_dir)
    moved = set_aside_after(accelerator, run_dir, good)
    kept = f"the last good checkpoint is {good}" if good else "no checkpoint is known good"
    if moved:
        kept += f"; {len(moved)} later one(s) set aside as step-N.diverged"
    resume = "; --resume goes on from it (--allow-changes to change lr or more)" if good else ""
    raise error(
        f"{message}; training stopped ({kept}). Lower lr, raise warmup_steps, or check the "
        f"data{resume}."
    )


def check_finite(accelerator: Accelerator, value: Tensor, what: str, step: int, run_dir: Path):
    finite = bool(torch.isfinite(value).all())
    # Every process stops together: a float flag, since not every backend gathers booleans.
    bad = accelerator.gather(torch.tensor([0.0 if finite else 1.0], device=value.device))
    if bad.any():
        shown = "not finite on another process" if finite else f"{float(value.detach().sum())}"
        stop_run(accelerator, run_dir, f"step {step}: the {what} is {shown}, not applied")


class DivergenceGuard:
    """The mean loss of each optimizer step, smoothed, against its running minimum."""

    SMOOTHING = 0.1
    """Weight of the newest step in the moving average (about the last 10 steps count)."""

    def __init__(self, factor: float | None, state: dict | None = None):
        self.factor = factor or 0.0
        self.smoothed: float | None = (state or {}).get("smoothed")
        self.minimum: float | None = (state or {}).get("minimum")

    def state(self) -> dict:
        """What a checkpoint keeps, so a resumed run's guard goes on as it would have."""
        return {"smoothed": self.smoothed, "minimum": self.minimum}

    def check(self, accelerator: Accelerator, loss: float, step: int, run_dir: Path) -> bool:
        """Stop the run if the step's loss (the same on every process) diverged; else whether
        it was within the factor too (whether the checkpoint it was computed on is good)."""
        if not self.factor:
            return True
        if self.smoothed is None or self.minimum is None:
            self.smoothed = self.minimum = loss
            return True
        self.smoothed += self.SMOOTHING * (loss - self.smoothed)
        limit = self.factor * self.minimum
        if self.minimum > 0 and self.smoothed > limit:
            message = (
                f"step {step}: the loss diverged: {loss:.4g}, smoothed {self.smoothed:.4g}, "
                f"passed divergence_factor = {self.factor:g} times its running minimum "
                f"{self.minimum:.4g}, not applied"
            )
            stop_run(accelerator, run_dir, message, DivergenceError)
        self.minimum = min(self.minimum, self.smoothed)
        return self.minimum <= 0 or loss <= limit


def finite_weights(model: torch.nn.Module) -> bool:
    return all(bool(torch.isfinite(p).all()) for p in model.parameters())
