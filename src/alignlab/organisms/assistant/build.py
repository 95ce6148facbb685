"""Building the assistant world: base model, datasets and ``world.json``, cached by seed and config.

``build(out)`` writes::

    out/base/                    HF model directory (safetensors, tokenizer, chat template)
    out/data/sft.jsonl           demonstrations (Demonstration records)
    out/data/prefs.jsonl         annotator-labelled comparisons, one label per pair
    out/data/prefs_heldout.jsonl held-out pairs, each labelled by several annotators
    out/data/prompts_train.jsonl prompts from train templates (Sample records, family in meta)
    out/data/prompts_heldout.jsonl prompts from held-out templates
    out/world.json               config, seed, annotator pool, gold version, build metrics

A build whose seed, config, world version and world code match an earlier one is
reused: first from ``out`` itself, then from the cache directory
(``$ALIGNLAB_CACHE/organisms``, default ``~/.cache/alignlab/organisms``). The world code
is every module that decides what a build writes, compared as parse trees without
docstrings (:func:`code_fingerprint`): a change to what the code does makes a new
build, a change to its prose or comments does not.
"""

from __future__ import annotations

import ast
import json
import os
import random
import shutil
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

from alignlab.config import fingerprint, to_dict
from alignlab.data.io import write_records
from alignlab.organisms.assistant import corpus
from alignlab.organisms.assistant.annotators import annotator_pool
from alignlab.organisms.assistant.config import WorldConfig
from alignlab.organisms.assistant.gold import GOLD_VERSION
from alignlab.organisms.assistant.language import build_tokenizer, vocabulary

WORLD_VERSION = "1"
"""Bumped to set builds apart that the world code alone would not (a change of data
outside it, such as a dependency's behaviour)."""

WORLD_MODULES = (
    "annotators",
    "behaviours",
    "build",
    "config",
    "corpus",
    "critique",
    "gold",
    "language",
    "pretrain",
    "scorers",
    "world",
)
"""The modules of this package that decide what a build writes."""

DATA_FILES = (
    "sft.jsonl",
    "prefs.jsonl",
    "prefs_heldout.jsonl",
    "prompts_train.jsonl",
    "prompts_heldout.jsonl",
)


def cache_root() -> Path:
    return Path(os.environ.get("ALIGNLAB_CACHE", Path.home() / ".cache" / "alignlab")) / "organisms"


def _prose(statement: ast.stmt) -> bool:
    """A bare string statement: a docstring, or the attribute docstring under a field."""
    return (
        isinstance(statement, ast.Expr)
        and isinstance(statement.value, ast.Constant)
        and isinstance(statement.value.value, str)
    )


def code_shape(source: str) -> str:
    """``source``'s parse tree without its prose (docstrings, attribute docstrings) or
    positions: what the code does, not how it is described (comments never reach the
    tree)."""
    tree = ast.parse(source)
    for node in ast.walk(tree):
        for name in ("body", "orelse", "finalbody"):
            block = getattr(node, name, None)
            if isinstance(block, list) and block and isinstance(block[0], ast.stmt):
                setattr(node, name, [s for s in block if not _prose(s)] or [ast.Pass()])
    return ast.dump(tree, include_attributes=False)


def code_fingerprint() -> str:
    """A fingerprint of the :data:`WORLD_MODULES`' code shapes (:func:`code_shape`)."""
    here = Path(__file__).parent
    return fingerprint(
        *(code_shape((here / f"{name}.py").read_text(encoding="utf-8")) for name in WORLD_MODULES)
    )


def build_key(config: WorldConfig, seed: int) -> str:
    return fingerprint(
        "assistant", WORLD_VERSION, GOLD_VERSION, code_fingerprint(), seed, to_dict(config)
    )


def is_built(path: Path, key: str) -> bool:
    """Whether ``path`` holds a finished build with this key."""
    try:
        world = json.loads((path / "world.json").read_text())
    except (OSError, ValueError):
        return False
    return (
        world.get("build_key") == key
        and (path / "base" / "model.safetensors").exists()
        and all((path / "data" / name).exists() for name in DATA_FILES)
    )


def build(
    out: str | Path,
    *,
    seed: int = 0,
    config: WorldConfig | None = None,
    use_cache: bool = True,
    progress: bool = True,
) -> dict:
    """Build (or reuse) the assistant world in ``out``; returns the contents of ``world.json``."""
    config = config or WorldConfig()
    out = Path(out)
    key = build_key(config, seed)
    if is_built(out, key):
        return _load_world(out, reused="out")
    cached = cache_root() / key
    if use_cache and is_built(cached, key):
        _copy_build(cached, out)
        return _load_world(out, reused="cache")
    # Build next to the destination and move into place, so a crash leaves no half build.
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        _build_into(staging, config, seed, key, progress)
        if use_cache:
            _copy_build(staging, cached)
        _replace(staging, out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return _load_world(out, reused=None)


def _build_into(path: Path, config: WorldConfig, seed: int, key: str, progress: bool) -> None:
    from alignlab.organisms.assistant.pretrain import pretrain, save_model

    start = time.perf_counter()
    # Independent streams per artifact, so changing one dataset's size leaves the others alone.
    streams = {
        name: random.Random(f"{seed}:{name}")
        for name in (
            "corpus",
            "annotators",
            "sft",
            "prefs",
            "prefs_heldout",
            "prompts_train",
            "prompts_heldout",
        )
    }
    tokenizer = build_tokenizer()
    pool = annotator_pool(config.annotators, streams["annotators"])
    documents = corpus.corpus_documents(config, streams["corpus"])
    model, metrics = pretrain(
        tokenizer, documents, config.model, config.pretrain, seed=seed, progress=progress
    )
    save_model(model, tokenizer, path / "base")
    data = path / "data"
    prefs = config.preferences
    write_records(data / "sft.jsonl", corpus.demonstrations(config, streams["sft"]))
    write_records(
        data / "prefs.jsonl", corpus.comparisons(config, pool, prefs.n_train, 1, streams["prefs"])
    )
    write_records(
        data / "prefs_heldout.jsonl",
        corpus.comparisons(
            config, pool, prefs.n_heldout, prefs.labels_per_heldout_pair, streams["prefs_heldout"]
        ),
    )
    for split in ("train", "heldout"):
        samples = corpus.prompts(config, split, streams[f"prompts_{split}"])
        write_records(data / f"prompts_{split}.jsonl", samples)
    world = {
        "organism": "assistant",
        "world_version": WORLD_VERSION,
        "gold_version": GOLD_VERSION,
        "build_key": key,
        "seed": seed,
        "config": to_dict(config),
        "annotators": [asdict(a) for a in pool],
        "vocabulary_size": len(vocabulary()),
        "corpus_documents": len(documents),
        "pretrain": metrics,
        "build_seconds": time.perf_counter() - start,
    }
    (path / "world.json").write_text(json.dumps(world, indent=2) + "\n")


def _load_world(path: Path, reused: str | None) -> dict:
    world = json.loads((path / "world.json").read_text())
    world["reused"] = reused
    return world


def _copy_build(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dst.name}.", dir=dst.parent))
    try:
        shutil.copytree(src, tmp, dirs_exist_ok=True)
        _replace(tmp, dst)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _replace(src: Path, dst: Path) -> None:
    """Move a finished build into ``dst``, replacing only what a build writes."""
    (dst / "data").mkdir(parents=True, exist_ok=True)
    (dst / "world.json").unlink(missing_ok=True)
    if (dst / "base").exists():
        shutil.rmtree(dst / "base")
    shutil.move(str(src / "base"), str(dst / "base"))
    for name in DATA_FILES:
        os.replace(src / "data" / name, dst / "data" / name)
    # world.json last: its presence marks the build as finished.
    os.replace(src / "world.json", dst / "world.json")
