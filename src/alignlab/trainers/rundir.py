"""A training run's directory and what it holds::

    output_dir/config.toml              the resolved config now in force
    output_dir/changes.jsonl            each resume that changed the config: old and new values
    output_dir/metrics.jsonl            one JSON object per logged step
    output_dir/checkpoints/step-N/      accelerate state: weights, optimizer, scheduler, RNG
    output_dir/model/                   the final HF model directory (safetensors, tokenizer); of a
                                        LoRA run, its adapter unless merge_lora

A checkpoint is written under a temporary name and renamed when complete, so a run
killed while saving leaves its previous checkpoint as the latest. It is *good* (its
``trainer_state.json`` says ``"good": true``) once a step computed on its weights gave a
sane loss; a run stopped by the divergence guard names the last good one and sets the
later ones aside as ``step-N.diverged``, so ``--resume`` starts from the good one.

Resuming refuses a config that differs from ``config.toml`` in a field that changes what
the run computes (all but :data:`HOW_IT_RUNS`, and the length of a run whose learning rate
is constant) unless ``allow_changes`` is set; every change is appended to changes.jsonl.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
import tomllib
from collections.abc import Callable
from dataclasses import fields, replace
from pathlib import Path
from typing import Any

from alignlab.config import changed_fields, to_dict, to_toml
from alignlab.models.adapters import save_adapter

CHECKPOINTS = "checkpoints"
STATE_FILE = "trainer_state.json"
CHANGES_FILE = "changes.jsonl"
HOW_IT_RUNS = frozenset(
    {
        "progress",
        "threads",
        "log_every",
        "eval_every",
        "save_every",
        "keep_checkpoints",
        "divergence_factor",
        "merge_lora",
        "rollout_api_key_env",
        "rollout_concurrency",
    }
)
"""Fields a resumed run may change freely: they change how it runs, not what it computes."""
# Not changes: the output_dir of a run moved elsewhere is where it now is.
_NOT_RECORDED = frozenset({"resume", "allow_changes", "progress", "output_dir"})


class CheckpointError(ValueError):
    """A checkpoint file that cannot be read: truncated, corrupted or tampered with."""


def prepare_run_dir(run_dir: Path, config: Any, *, resume: bool) -> None:
    """Create ``run_dir`` and write ``config.toml``; refuse to start over an earlier run, and
    to resume one with a changed config unless ``config.allow_changes`` (then record it)."""
    names = ("metrics.jsonl", CHECKPOINTS, "model", "member_0")
    earlier = [n for n in names if (run_dir / n).exists()]
    if earlier and not resume:
        raise ValueError(
            f"{run_dir}: holds an earlier run ({', '.join(earlier)}); "
            "resume it (--resume, resume = true) or choose another output_dir"
        )
    new = tomllib.loads(to_toml(to_dict(config)))
    stored = run_dir / "config.toml"
    if earlier and stored.exists():
        _check_changes(run_dir, tomllib.loads(stored.read_text(encoding="utf-8")), new, config)
    run_dir.mkdir(parents=True, exist_ok=True)
    stored.write_text(to_toml(to_dict(config)), encoding="utf-8")


def _check_changes(run_dir: Path, old: dict, new: dict, config: Any) -> None:
    """Refuse (or, with ``allow_changes``, record) the fields in which ``new`` differs."""
    defaults = {f.name: f.default for f in fields(config)}
    changed = [
        name
        for name in changed_fields(old, new)
        # A field added to the config class since the run began, left at its default.
        if name not in _NOT_RECORDED and (name in old or new.get(name) != defaults.get(name))
    ]
    if not changed:
        return
    constant = old.get("lr_schedule") == new.get("lr_schedule") == "constant"
    free = HOW_IT_RUNS | ({"max_steps", "epochs"} if constant else set())
    altering = [name for name in changed if name not in free]
    shown = ", ".join(f"{n} ({old.get(n)!r} -> {new.get(n)!r})" for n in altering)
    if altering and not getattr(config, "allow_changes", False):
        raise ValueError(
            f"{run_dir}: cannot resume it with a changed config: {shown}. Resume with the "
            "config.toml it holds, or pass --allow-changes (allow_changes = true) to go on "
            f"with the change recorded in {CHANGES_FILE}"
        )
    last = latest_checkpoint(run_dir)
    entry = {
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "from_step": checkpoint_step(last) if last else 0,
        "changed": {n: {"old": old.get(n), "new": new.get(n)} for n in changed},
        "allowed_by": "allow_changes" if altering else "safe",
    }
    from accelerate import PartialState

    if PartialState().is_main_process:
        with (run_dir / CHANGES_FILE).open("a", encoding="utf-8") as f:
            f.write(json.dumps(entry) + "\n")


def read_changes(run_dir: str | Path) -> list[dict]:
    """The entries of a run's changes.jsonl, oldest first."""
    path = Path(run_dir) / CHANGES_FILE
    lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
    return [json.loads(line) for line in lines if line.strip()]


def train_or_reuse(train: Callable[[Any], Path], config: Any) -> Path:
    """The model directory of ``config``'s run: ``output_dir/model`` when that run finished,
    else ``train(config)``, resuming the run when ``output_dir`` already holds part of it."""
    run_dir = Path(config.output_dir)
    if (run_dir / "model").exists():
        return run_dir / "model"
    if run_dir.exists() and not config.resume:
        config = replace(config, resume=True)
    return Path(train(config))


class MetricsLog:
    """``metrics.jsonl``: one JSON object per logged step, appended as training goes."""

    def __init__(self, path: Path):
        self.path = path

    def truncate(self, last_step: int) -> None:
        """Keep only the lines of steps up to ``last_step`` (and drop a half-written line)."""
        rows = [row for row in read_metrics(self.path) if row["step"] <= last_step]
        tmp = self.path.with_name(f".{self.path.name}.tmp")
        tmp.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
        os.replace(tmp, self.path)

    def append(self, row: dict) -> None:
        with self.path.open("a", encoding="utf-8") as f:
            f.write(json.dumps(row) + "\n")


def read_metrics(path: str | Path) -> list[dict]:
    """The rows of a ``metrics.jsonl``; a line cut short by a crash is skipped."""
    path = Path(path)
    if path.is_dir():
        path = path / "metrics.jsonl"
    if not path.exists():
        return []
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(row, dict) and "step" in row:
            rows.append(row)
    return rows


def checkpoint_steps(run_dir: Path) -> list[int]:
    """Steps of the complete checkpoints in ``run_dir``, ascending."""
    root = run_dir / CHECKPOINTS
    if not root.is_dir():
        return []
    steps = []
    for child in root.iterdir():
        name = child.name
        if name.startswith("step-") and name[5:].isdigit() and (child / STATE_FILE).exists():
            steps.append(int(name[5:]))
    return sorted(steps)


def checkpoint_dir(run_dir: Path, step: int) -> Path:
    return run_dir / CHECKPOINTS / f"step-{step}"


def latest_checkpoint(run_dir: Path) -> Path | None:
    """The last complete checkpoint, or None."""
    steps = checkpoint_steps(run_dir)
    return checkpoint_dir(run_dir, steps[-1]) if steps else None


def checkpoint_state(checkpoint: Path) -> dict:
    """A checkpoint's ``trainer_state.json``: its step, whether it is good, the guard's state."""
    return json.loads((checkpoint / STATE_FILE).read_text())


def checkpoint_step(checkpoint: Path) -> int:
    return checkpoint_state(checkpoint)["step"]


def mark_good(accelerator, run_dir: Path, step: int) -> None:
    """Mark ``checkpoints/step-<step>``, if there is one, good: a step computed on its weights
    gave a sane loss."""
    path = checkpoint_dir(run_dir, step) / STATE_FILE
    if accelerator.is_main_process and path.exists():
        state = json.loads(path.read_text())
        if not state.get("good"):
            tmp = path.with_name(f".{STATE_FILE}.tmp")
            tmp.write_text(json.dumps({**state, "good": True}))
            os.replace(tmp, path)


def last_good_checkpoint(run_dir: Path) -> Path | None:
    """The last checkpoint marked good, or None."""
    steps = checkpoint_steps(run_dir)
    good = [s for s in steps if checkpoint_state(checkpoint_dir(run_dir, s)).get("good")]
    return checkpoint_dir(run_dir, good[-1]) if good else None


def set_aside_after(accelerator, run_dir: Path, good: Path | None) -> list[Path]:
    """Rename the checkpoints after ``good`` (all, if None) to ``step-N.diverged``, so a
    resumed run starts from ``good``; return their new paths."""
    after = [s for s in checkpoint_steps(run_dir) if good is None or s > checkpoint_step(good)]
    moved = [checkpoint_dir(run_dir, s).with_name(f"step-{s}.diverged") for s in after]
    if accelerator.is_main_process:
        for step, target in zip(after, moved, strict=True):
            if target.exists():
                shutil.rmtree(target)
            os.replace(checkpoint_dir(run_dir, step), target)
    accelerator.wait_for_everyone()
    return moved


def load_checkpoint(accelerator, checkpoint: Path) -> None:
    """Load ``checkpoint`` into the accelerator's prepared objects. A file that cannot be read
    raises :class:`CheckpointError` naming it; a state that does not fit them, a ValueError."""
    from accelerate.utils import load

    rng = checkpoint / f"random_states_{accelerator.process_index}.pkl"
    if rng.exists():  # accelerate skips an unreadable one silently
        _readable(rng, lambda path: load(path))
    try:
        accelerator.load_state(str(checkpoint))
    except Exception as e:
        for path in sorted(checkpoint.iterdir()):
            if path.suffix == ".safetensors":
                _readable(path, _safetensors_header)
            elif path.suffix in (".bin", ".pkl"):
                _readable(path, lambda path: load(path, map_location="cpu"))
        if not isinstance(e, (RuntimeError, KeyError, ValueError)):
            raise
        raise ValueError(
            f"{checkpoint}: cannot resume from it with this config (resume with the model, "
            f"lora and optimizer settings the run started with): {str(e)[:300]}"
        ) from e


def _safetensors_header(path: Path) -> None:
    from safetensors import safe_open

    with safe_open(str(path), "pt") as f:
        f.keys()


def _readable(path: Path, read: Callable[[Path], Any]) -> None:
    try:
        read(path)
    except Exception as e:
        # Never the advice to load with weights_only=False: that would run the file's code.
        cause = "truncated or corrupted" if path.stat().st_size else "empty"
        if "weights_only" in str(e) or "Unpickl" in type(e).__name__:
            cause = (
                "tampered with or not written by this trainer: it holds objects other than tensors"
            )
        raise CheckpointError(
            f"{path}: unreadable checkpoint file ({cause}); resume from an earlier checkpoint "
            "(move this one aside) or start the run again"
        ) from None


def _tied_weights_note(record: logging.LogRecord) -> bool:
    # Safetensors stores tied weights (embeddings shared with the output head) once and
    # loading restores the tie, so accelerate's note about removing them is noise.
    return "Removed shared tensor" not in record.getMessage()


def save_checkpoint(
    accelerator, run_dir: Path, step: int, keep: int, state: dict | None = None
) -> Path:
    """Save the accelerator's state as ``checkpoints/step-<step>`` (``state`` joins its
    trainer_state.json); keep the last ``keep``, and the last good one."""
    final = checkpoint_dir(run_dir, step)
    tmp = final.with_name(f".{final.name}.tmp")
    if accelerator.is_main_process and tmp.exists():
        shutil.rmtree(tmp)
    accelerator.wait_for_everyone()
    logger = logging.getLogger("accelerate.utils.other")
    logger.addFilter(_tied_weights_note)
    try:
        accelerator.save_state(str(tmp))
    finally:
        logger.removeFilter(_tied_weights_note)
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        (tmp / STATE_FILE).write_text(json.dumps({**(state or {}), "step": step}))
        if final.exists():
            shutil.rmtree(final)
        os.replace(tmp, final)
        good = last_good_checkpoint(run_dir)
        for old in checkpoint_steps(run_dir)[:-keep]:
            if good is None or old != checkpoint_step(good):
                shutil.rmtree(checkpoint_dir(run_dir, old))
    accelerator.wait_for_everyone()
    return final


def merged(model):
    """The plain model of a ``peft`` model, adapters merged into its weights; else ``model``."""
    from peft import PeftModel

    return model.merge_and_unload() if isinstance(model, PeftModel) else model


def save_weights(model, directory: Path) -> None:
    """Write ``model`` to ``directory``: a ``peft`` model as its adapter (safetensors, with
    the base model's absolute path when local), any other as full safetensors weights."""
    from peft import PeftModel

    if isinstance(model, PeftModel):
        save_adapter(model, directory)
    else:
        model.save_pretrained(directory)


def save_model_dir(save, path: Path) -> None:
    """Call ``save(tmp)`` to write a model directory, then move it to ``path`` whole."""
    tmp = path.with_name(f".{path.name}.tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    save(tmp)
    if path.exists():
        shutil.rmtree(path)
    os.replace(tmp, path)
