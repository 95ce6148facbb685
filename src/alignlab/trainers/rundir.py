"""A training run's directory and what it holds::

    output_dir/config.toml              the resolved config
    output_dir/metrics.jsonl            one JSON object per logged step
    output_dir/checkpoints/step-N/      accelerate state: weights, optimizer, scheduler, RNG
    output_dir/model/                   the final HF model directory (safetensors, tokenizer)

A checkpoint is written under a temporary name and renamed when complete, so a run
killed while saving leaves its previous checkpoint as the latest.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from alignlab.config import to_dict, to_toml

CHECKPOINTS = "checkpoints"
STATE_FILE = "trainer_state.json"


def prepare_run_dir(run_dir: Path, config: Any, *, resume: bool) -> None:
    """Create ``run_dir`` and write ``config.toml``; refuse to start over an earlier run."""
    names = ("metrics.jsonl", CHECKPOINTS, "model", "member_0")
    earlier = [n for n in names if (run_dir / n).exists()]
    if earlier and not resume:
        raise ValueError(
            f"{run_dir}: holds an earlier run ({', '.join(earlier)}); "
            "resume it (--resume, resume = true) or choose another output_dir"
        )
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "config.toml").write_text(to_toml(to_dict(config)), encoding="utf-8")


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


def checkpoint_step(checkpoint: Path) -> int:
    return json.loads((checkpoint / STATE_FILE).read_text())["step"]


def _tied_weights_note(record: logging.LogRecord) -> bool:
    # Safetensors stores tied weights (embeddings shared with the output head) once and
    # loading restores the tie, so accelerate's note about removing them is noise.
    return "Removed shared tensor" not in record.getMessage()


def save_checkpoint(accelerator, run_dir: Path, step: int, keep: int) -> Path:
    """Save the accelerator's state as ``checkpoints/step-<step>``; keep the last ``keep``."""
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
        (tmp / STATE_FILE).write_text(json.dumps({"step": step}))
        if final.exists():
            shutil.rmtree(final)
        os.replace(tmp, final)
        for old in checkpoint_steps(run_dir)[:-keep]:
            shutil.rmtree(checkpoint_dir(run_dir, old))
    accelerator.wait_for_everyone()
    return final


def merged(model):
    """The plain model of a ``peft`` model, adapters merged into its weights; else ``model``."""
    from peft import PeftModel

    return model.merge_and_unload() if isinstance(model, PeftModel) else model


def save_model_dir(save, path: Path) -> None:
    """Call ``save(tmp)`` to write a model directory, then move it to ``path`` whole."""
    tmp = path.with_name(f".{path.name}.tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    save(tmp)
    if path.exists():
        shutil.rmtree(path)
    os.replace(tmp, path)
