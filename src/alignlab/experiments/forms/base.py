"""What the Goodhart experiments share: the organism and starting policy, labelled pairs
from simulated annotator pools, reward models fitted to them, best-of-n sweeps against
them, and a table of every condition's figures across seeds.

An experiment writes under its ``output_dir``::

    sft/                                 the starting policy, when none is given
    seed-<s>/<condition>/pairs.jsonl     the comparisons a reward model is fitted to
    seed-<s>/<condition>/sweep/          its best-of-n sweep (points.jsonl, curves.json)
    summary.json                         per condition and seed, and across seeds
    experiment.json                      the settings the stored runs were made with

and shares with the other experiments a ``cache_dir``::

    samples/<key>/      best-of-n samples of a policy on a prompt set, and their scores
    rewards/<key>/      a reward-model run (model/), keyed by its pairs' contents and config

so every condition of a seed is optimized over the same samples, and a reward model two
experiments both need (the organism's own pool on the same pairs) is fitted once. Each
step is skipped when its output exists, so a rerun (``--seeds 5`` after ``--seeds 3``)
computes only what is new; a rerun whose other settings differ from ``experiment.json``'s
is refused, since it would reuse runs made under the old ones.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from alignlab.config import changed_fields, fingerprint, from_dict, to_dict
from alignlab.experiments.organism import ready_organism, sft_policy
from alignlab.experiments.sweep.config import SweepConfig
from alignlab.goodhart.curves import read_curves


@dataclass
class ExperimentConfig:
    """Options every Goodhart experiment shares."""

    organism: str = "organism"
    """The assistant organism's directory; built there (seed 0, default world) if missing."""
    policy: str | None = None
    """The starting policy; unset: SFT on the organism's demonstrations, in output_dir/sft."""
    output_dir: str = "runs/goodhart/experiment"
    """Where the experiment writes its runs and summary.json."""
    seeds: int = 3
    """Seeds to run: ``first_seed``, ``first_seed + 1``, ...; each draws its own annotator
    pool, labels, reward-model initialization and policy samples."""
    first_seed: int = 0
    """The first seed."""
    n_pairs: int = 6000
    """Comparisons drawn for each reward model (before any filtering)."""
    cache_dir: str = "runs/goodhart/cache"
    """Best-of-n samples and reward models, shared by every experiment (module docstring)."""
    threads: int = 1
    """Torch CPU threads; 0 keeps the default."""
    sweep: dict[str, Any] = field(default_factory=dict)
    """Overrides of every sweep's :class:`~alignlab.experiments.sweep.config.SweepConfig`
    (``max_prompts``, ``best_of_n.ns``, ...), as TOML would give them."""
    reward: dict[str, Any] = field(default_factory=dict)
    """Overrides of every :class:`~alignlab.trainers.reward.RewardConfig` (``lr``, ...)."""

    def __post_init__(self) -> None:
        if self.seeds < 1 or self.first_seed < 0 or self.n_pairs < 2:
            raise ValueError("seeds must be >= 1, first_seed >= 0 and n_pairs >= 2")

    @property
    def seed_list(self) -> list[int]:
        return list(range(self.first_seed, self.first_seed + self.seeds))


@dataclass
class Setup:
    """The organism, its world config and the starting policy, ready."""

    organism: Path
    world: Any
    """The organism's :class:`~alignlab.organisms.assistant.config.WorldConfig`."""
    policy: str


RERUN_FREE = frozenset({"seeds", "first_seed", "threads", "cache_dir"})
"""Settings a rerun into the same ``output_dir`` may change: which seeds, and how it runs."""


def claim_output_dir(config: ExperimentConfig) -> None:
    """Record the settings of the runs in ``output_dir`` (``experiment.json``), or refuse a
    config that differs from the recorded one in anything but :data:`RERUN_FREE`."""
    out = Path(config.output_dir)
    path = out / "experiment.json"
    settings = {k: v for k, v in to_dict(config).items() if k not in RERUN_FREE}
    if path.exists():
        stored = json.loads(path.read_text(encoding="utf-8"))
        changed = changed_fields(stored, settings)
        if changed:
            raise ValueError(
                f"{out}: holds runs made with other settings ({', '.join(changed)} differ from "
                f"{path.name}); choose another output_dir, or delete this one to start afresh"
            )
        return
    out.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(settings, indent=2) + "\n", encoding="utf-8")


def prepare(config: ExperimentConfig, *, claim: bool = True) -> Setup:
    """Claim ``output_dir`` for this config (unless ``claim`` is off: set-up only), build
    the organism if missing and train the starting policy if none is given."""
    if claim:
        claim_output_dir(config)
    organism, world_config = ready_organism(config.organism)
    policy = config.policy
    if policy is None:
        policy = sft_policy(organism, Path(config.output_dir) / "sft", config.threads)
    return Setup(organism, world_config, policy)


def annotator_pool(annotators, seed: int):
    """A pool drawn from an :class:`AnnotatorConfig` with the seed's own stream."""
    from alignlab.organisms.assistant.annotators import annotator_pool as draw

    return draw(annotators, random.Random(f"goodhart:{seed}:annotators"))


def labelled_pairs(world, pool, n_pairs: int, seed: int, path: Path, keep=None) -> Path:
    """``n_pairs`` comparisons labelled by ``pool`` (one label each) written to ``path``,
    keeping those ``keep(comparison)`` accepts; reused when ``path`` exists."""
    from alignlab.data.io import write_records
    from alignlab.organisms.assistant.corpus import comparisons

    if path.exists():
        return path
    pairs = comparisons(world, pool, n_pairs, 1, random.Random(f"goodhart:{seed}:pairs"))
    if keep is not None:
        pairs = [c for c in pairs if keep(c)]
    if not pairs:
        raise ValueError(f"{path}: no comparison passed the filter")
    write_records(path, pairs)
    return path


def fit_reward(
    config: ExperimentConfig, setup: Setup, train_file: Path, seed: int, **fields
) -> Path:
    """A reward model (or ensemble, ``ensemble=K``) fitted to ``train_file``, in the cache
    under a key of the file's contents and the run's config; reused when finished."""
    from alignlab.trainers import RewardConfig, train_reward

    settings = {
        "eval_every": 0,
        "save_every": 0,
        **config.reward,
        **fields,
        "model": setup.policy,
        "train_file": str(train_file),
        "eval_file": str(setup.organism / "data" / "prefs_heldout.jsonl"),
        "seed": seed,
    }
    contents = hashlib.sha256(Path(train_file).read_bytes()).hexdigest()
    policy = str(Path(setup.policy).resolve())
    key = fingerprint("reward", contents, policy, {**settings, "train_file": None})
    out = Path(config.cache_dir) / "rewards" / key
    model = out / "model"
    members = settings.get("ensemble", 1)
    if (model / (f"member_{members - 1}" if members > 1 else "") / "config.json").exists():
        return model
    settings.update(
        output_dir=str(out),
        threads=config.threads,
        progress=False,
        resume=out.exists() and any(out.iterdir()),
    )
    return train_reward(from_dict(RewardConfig, settings, source=f"reward {out}"))


def sweep_config(
    config: ExperimentConfig,
    setup: Setup,
    reward: str,
    out: Path,
    seed: int,
    *,
    exclude: Sequence[str] = (),
    **fields,
) -> SweepConfig:
    """The best-of-n sweep of ``reward`` from the starting policy, with the experiment's
    ``sweep`` overrides, on the organism's train and held-out prompts; ``exclude`` names
    judge categories the selection passes over."""
    base = {
        "optimizer": "best_of_n",
        "policy": setup.policy,
        "prompts": str(setup.organism / "data" / "prompts_train.jsonl"),
        "heldout_prompts": str(setup.organism / "data" / "prompts_heldout.jsonl"),
        "threads": config.threads,
    }
    sweep = from_dict(SweepConfig, {**base, **config.sweep}, source="sweep")
    best_of_n = replace(
        sweep.best_of_n,
        samples_dir=str(Path(config.cache_dir) / "samples"),
        exclude=list(exclude),
    )
    return replace(
        sweep, reward=reward, output_dir=str(out), seed=seed, best_of_n=best_of_n, **fields
    )


def run_bon(sweep: SweepConfig) -> dict:
    """Run (or resume) a best-of-n sweep; return its ``curves.json``."""
    from alignlab.experiments.sweep.runner import run_sweep

    return read_curves(run_sweep(sweep))


def splits(body: dict) -> list[str]:
    """The splits a ``curves.json`` body has curves on, in order."""
    return list(dict.fromkeys(c["split"] for c in body["curves"]))


def curve(body: dict, run: str, split: str) -> dict:
    """The curve of ``run`` on ``split`` in a ``curves.json`` body."""
    for entry in body["curves"]:
        if entry["run"] == run and entry["split"] == split:
            return entry
    raise KeyError(f"no curve {run!r} on {split!r}")


def curve_figures(entry: dict) -> dict[str, float | None]:
    """A best-of-n curve's headline figures: where gold peaks, how far it falls after, and
    how well best-of-n's form fits it."""
    points = entry["points"]
    peak = entry["peak"]
    fit = entry["fits"].get(entry["expected_form"])
    return {
        "gold_start": points[0]["gold"]["value"],
        "gold_peak": peak["gold"]["value"],
        "peak_gain": peak["gold"]["value"] - points[0]["gold"]["value"],
        "peak_n": points[peak["index"]]["settings"].get("n", peak["pressure"]),
        "gold_last": points[-1]["gold"]["value"],
        "drop": entry["overoptimization"]["drop"],
        "proxy_gain": points[-1]["proxy"]["value"] - points[0]["proxy"]["value"],
        "proxy_monotone": float(entry["proxy_monotone"]),
        "fit_r2": None if fit is None else fit["r2"],
        "fit_d_star": None if fit is None else fit["d_star"],
        "peak_grid_distance": entry["peak_grid_distance"],
    }


def across_seeds(rows: list[dict], by: tuple[str, ...]) -> list[dict]:
    """Per group of ``rows`` sharing the ``by`` fields: each numeric figure's mean, standard
    deviation (ddof 1), min and max over the group's seeds."""
    groups: dict[tuple, list[dict]] = {}
    for row in rows:
        groups.setdefault(tuple(row[k] for k in by), []).append(row)
    out = []
    for key, members in groups.items():
        entry: dict = dict(zip(by, key, strict=True))
        entry["seeds"] = len(members)
        names = [k for k in members[0] if k not in (*by, "seed")]
        for name in names:
            values = np.array([m[name] for m in members if m[name] is not None], dtype=float)
            if values.size == 0:
                continue
            entry[name] = {
                "mean": float(values.mean()),
                "sd": float(values.std(ddof=1)) if values.size > 1 else 0.0,
                "min": float(values.min()),
                "max": float(values.max()),
            }
        out.append(entry)
    return out


def write_summary(config: ExperimentConfig, body: dict) -> Path:
    """Write ``summary.json`` (with the experiment's config) into ``output_dir``."""
    path = Path(config.output_dir) / "summary.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"config": to_dict(config), **body}, indent=2) + "\n")
    return path
