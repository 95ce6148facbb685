"""Best-of-n sweeps: one set of samples per split, every n estimated from all of them.

For each split the policy samples ``max(ns)`` responses per prompt once. The samples and
each scorer's scores of them are cached under ``samples_dir/<key>/`` (the key fingerprints
the policy, prompts and sampling settings), so sweeps of several proxies over the same
policy share them, and an interrupted sweep resumes where it stopped::

    samples_dir/<key>/<split>.jsonl              {"index": p, "prompt": ..., "responses": [...]}
    samples_dir/<key>/scores/<split>-<part>-<spec key>.npz   one scorer's columns

The draws are :func:`alignlab.trainers.best_of_n.draw`'s, batch by batch, and each n's
point weights a prompt's samples by the chance that each is the proxy's pick of a random
n-subset (:func:`~alignlab.trainers.best_of_n.selection_weights`, the order-statistics
estimator of :mod:`alignlab.trainers.best_of_n`);
KL is analytic, ``log n - (n - 1) / n``. With ``exclude``, responses the judge puts in
those categories rank below every other, so the proxy picks one only when a whole subset
is excluded (the analytic KL is then an upper bound). With ``oracle`` the same samples are ranked by
the gold reward instead (run ``oracle/best_of_n``). The gold reward takes few distinct
values, so the oracle's picks tie often and its true KL lies below the analytic one: the
oracle curve sits to the right of where it belongs, which understates the bound (and so
overstates a proxy's efficiency against it).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from alignlab.config import fingerprint
from alignlab.data.io import complete_lines, read_records
from alignlab.data.records import Text
from alignlab.experiments.sweep.config import SweepConfig
from alignlab.goodhart.points import PointStore, exact
from alignlab.goodhart.scoring import (
    PART_VERSIONS,
    Columns,
    Scorers,
    point,
    reshape,
    word_counts,
)
from alignlab.models.loading import load_causal_lm, load_tokenizer
from alignlab.objectives import best_of_n_kl
from alignlab.progress import progress_bar
from alignlab.trainers.best_of_n import draw, selection_weights
from alignlab.trainers.tracking import spread

RUN = "best_of_n"
ORACLE_RUN = "oracle/best_of_n"


def read_prompt_samples(path: str, max_prompts: int) -> list:
    """At most ``max_prompts`` records of a Sample file, spread evenly over it: the prompts
    a sweep optimizes over, with their ``meta``."""
    samples = read_records(path, "sample")
    if not samples:
        raise ValueError(f"{path}: holds no prompts")
    return spread(samples, max_prompts)


def read_prompts(path: str, max_prompts: int) -> list[Text]:
    """The prompts of :func:`read_prompt_samples`."""
    return [s.input for s in read_prompt_samples(path, max_prompts)]


def _stamp(spec: str) -> list:
    """What a spec's scores depend on beyond its text: a model directory's file times."""
    path = Path(spec.rpartition("@")[0] if "@" in spec else spec)
    if not path.is_dir():
        return []
    return sorted((str(p.relative_to(path)), p.stat().st_mtime) for p in path.rglob("*.json"))


def samples_key(config: SweepConfig, split: str) -> str:
    return fingerprint(
        "best_of_n-samples",
        str(Path(config.policy).resolve()),
        _stamp(config.policy),
        str(Path(config.splits[split]).resolve()),
        config.max_prompts,
        max(config.best_of_n.ns),
        config.max_new_tokens,
        config.best_of_n.temperature,
        config.batch_size,
        config.seed,
    )


def sample(config: SweepConfig, split: str, directory: Path, load_policy) -> list[list[str]]:
    """``max(ns)`` responses per prompt, read back from ``directory/<split>.jsonl`` where a
    previous run wrote them; each batch of prompts is appended as it finishes.
    ``load_policy()`` gives ``(policy, tokenizer)`` and is called only if sampling is due."""
    prompts = read_prompts(config.splits[split], config.max_prompts)
    path = directory / f"{split}.jsonl"
    done: dict[int, list[str]] = {}
    if path.exists():
        for _, line in complete_lines(path):  # a torn last line is cut, so appends stay whole
            try:
                row = json.loads(line)
                done[row["index"]] = row["responses"]
            except (json.JSONDecodeError, KeyError):
                continue
    n_max, size = max(config.best_of_n.ns), config.batch_size
    path.parent.mkdir(parents=True, exist_ok=True)
    todo = [
        start
        for start in range(0, len(prompts), size)
        if any(i not in done for i in range(start, min(start + size, len(prompts))))
    ]
    if todo:
        policy, tokenizer = load_policy()
    remaining = sum(len(prompts[start : start + size]) for start in todo)
    with progress_bar(remaining, f"best-of-{n_max} {split}", unit="prompt") as advance:
        for start in todo:
            chunk = prompts[start : start + size]
            texts = draw(
                policy,
                tokenizer,
                chunk,
                n_max,
                start=start,
                seed=config.seed,
                max_new_tokens=config.max_new_tokens,
                temperature=config.best_of_n.temperature,
                batch_size=size,
            )
            with path.open("a", encoding="utf-8") as f:
                for offset, responses in enumerate(texts):
                    row = {"index": start + offset, "prompt": chunk[offset], "responses": responses}
                    f.write(json.dumps(row) + "\n")
                    done[start + offset] = responses
            advance(len(chunk))
    return [done[i] for i in range(len(prompts))]


def scored(
    scorers: Scorers, prompts: list[Text], responses: list[list[str]], directory: Path, split: str
) -> Columns:
    """Every scorer's columns ``[prompts, samples]``, each read from its cache when there."""
    flat_prompts = [p for p, group in zip(prompts, responses, strict=True) for _ in group]
    flat_texts = [t for group in responses for t in group]
    columns: Columns = {"length": word_counts(flat_texts)}
    for part in scorers.parts:
        spec = scorers.specs.get(part, part)
        key = fingerprint(
            spec, _stamp(spec), *([PART_VERSIONS[part]] if part in PART_VERSIONS else [])
        )
        path = directory / "scores" / f"{split}-{part}-{key}.npz"
        if path.exists():
            with np.load(path) as saved:
                columns.update({k: saved[k] for k in saved.files})
            continue
        found = scorers.part(part, flat_prompts, flat_texts)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.stem}.tmp.npz")
        np.savez_compressed(tmp, **found)
        os.replace(tmp, path)
        columns.update(found)
    return reshape(scorers.with_proxy(columns), len(prompts))


def ranking(columns: Columns, exclude: list[str]) -> np.ndarray:
    """The proxy, with responses in the ``exclude``d judge categories ranked last."""
    proxy = columns["proxy"].astype(float)
    found = [columns[f"failure/{c}"] for c in exclude if f"failure/{c}" in columns]
    if not found:
        return proxy
    return np.where(np.any(np.stack(found) > 0, axis=0), -np.inf, proxy)


class SampleSource:
    """The starting policy, loaded once, and its scored samples per split."""

    def __init__(self, config: SweepConfig, scorers: Scorers):
        self.config = config
        self.scorers = scorers
        self.root = Path(config.best_of_n.samples_dir or Path(config.output_dir) / "samples")
        self._model = None

    def columns(self, split: str) -> tuple[list[Text], Columns]:
        """The split's prompts and its samples' columns ``[prompts, max(ns)]``, sampled and
        scored as needed (module docstring)."""
        config = self.config
        directory = self.root / samples_key(config, split)
        prompts = read_prompts(config.splits[split], config.max_prompts)
        responses = sample(config, split, directory, self.policy)
        return prompts, scored(self.scorers, prompts, responses, directory, split)

    def policy(self):
        """``(policy, tokenizer)``, loaded on first use."""
        if self._model is None:
            config = self.config
            self._model = (
                load_causal_lm(config.policy, device=config.device),
                load_tokenizer(config.policy),
            )
        return self._model


def sweep_best_of_n(config: SweepConfig, store: PointStore, scorers: Scorers) -> None:
    """Add every missing best-of-n (and oracle) point of every split to ``store``."""
    runs = {RUN: "proxy"}
    if config.best_of_n.oracle:
        if scorers.gold is None:
            raise ValueError("best_of_n.oracle: ranks by the gold reward, so gold must be set")
        runs[ORACLE_RUN] = "gold"
    if config.best_of_n.exclude and scorers.judge is None:
        raise ValueError("best_of_n.exclude: names judge categories, so judge must be set")
    ns = sorted(set(config.best_of_n.ns))
    source = SampleSource(config, scorers)
    for split in config.splits:
        missing = [(r, n) for r in runs for n in ns if not store.has(r, split, n)]
        if not missing:
            continue
        prompts, columns = source.columns(split)
        rankings = {
            "proxy": ranking(columns, config.best_of_n.exclude),
            "gold": columns.get("gold"),
        }
        for run, n in missing:
            store.add(
                point(
                    columns,
                    run=run,
                    split=split,
                    pressure=n,
                    settings={"n": n},
                    kl=exact(best_of_n_kl(n), len(prompts)),
                    weights=selection_weights(rankings[runs[run]], n),
                    seed=config.seed,
                )
            )
