"""Truth probes per layer on held-out topics, against the model's stated judgement (Azaria &
Mitchell 2023: a middle layer's probe reads truth at 71-83%, above what the model says).

For each model, its statements (the world's sums for an organism model, the package's
English set or a user's file for others; :func:`~alignlab.interp.probes.load_statements`)
are run through it once, every layer's hidden state kept at ``position``
(:func:`~alignlab.models.hidden.collect_hidden_states`), and each probe method of
:data:`~alignlab.interp.probes.PROBES` is fitted per layer on ``folds`` folds of topics,
every statement scored by the probe that never saw its topic
(:func:`~alignlab.interp.probes.cross_fit`). The model is also asked whether each
statement is true (:func:`~alignlab.interp.capability.stated_truth`): its stated
judgement is the option it gives more probability. Accuracies are rates with
Clopper-Pearson intervals; probe minus stated is a paired bootstrap over the same
statements. The best layer is picked on the same held-out scores, so its accuracy is the
maximum of ``layers + 1`` estimates (optimistic); the middle layer's is fixed in advance.
``output_dir`` holds ``hidden/<key>.npy`` and ``stated/<key>.json`` (reused by reruns)
and the panel joins ``results.json``.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from alignlab.config import fingerprint
from alignlab.experiments.interp.base import InterpConfig, publish
from alignlab.interp.capability import stated_truth
from alignlab.interp.probes import (
    PROBES,
    WORLD_FORM,
    Features,
    Statement,
    contrast_texts,
    cross_fit,
    load_statements,
)
from alignlab.models.backends.hf import HFBackend
from alignlab.models.hidden import POSITIONS, collect_hidden_states, model_identity
from alignlab.progress import progress_bar
from alignlab.stats import Estimate, paired_difference, rate

STATED = "stated judgement"
RANKED = "stated, median threshold"


@dataclass
class ProbeConfig(InterpConfig):
    """Truth probes per layer on held-out topics, beside the model's stated judgement."""

    models: list[str] = field(default_factory=lambda: ["organism/base"])
    """Causal LM directories (or LoRA adapter directories) to probe."""
    statements: list[str] = field(default_factory=lambda: ["world"])
    """Each model's statements, or one source for all: ``world`` (the assistant world's
    sums), ``package`` (the package's English statements) or a JSONL file of
    ``{"statement", "label", "topic"}``."""
    methods: list[str] = field(default_factory=lambda: list(PROBES))
    """Probe methods (``logistic``, ``mean_difference``, ``ccs``)."""
    folds: int = 5
    """Folds of topics: each statement is scored by a probe fitted on the other folds."""
    position: str = "last"
    """Where a statement's hidden state is read: ``last`` token or ``mean`` over tokens."""
    world_form: str = WORLD_FORM
    """How the world's sums are stated (``{a}``, ``{b}``, ``{claim}``)."""
    false_per_true: int = 1
    """World statements: wrong sums per true one."""
    batch_size: int = 4
    """Texts per forward pass (the stated judgement scores 4x as many option sequences)."""
    stated: bool = True
    """Ask each model whether each statement is true, beside the probes."""
    seed: int = 0
    """Seeds the topic folds, the world's wrong sums and CCS's starts."""

    def __post_init__(self) -> None:
        if not self.models:
            raise ValueError("models: name at least one model")
        if len(self.statements) not in (1, len(self.models)):
            raise ValueError(
                f"statements: give one source, or one per model ({len(self.models)}), "
                f"got {len(self.statements)}"
            )
        unknown = [m for m in self.methods if m not in PROBES]
        if unknown or not self.methods:
            raise ValueError(f"methods: unknown {unknown}; known: {', '.join(PROBES)}")
        if self.position not in POSITIONS:
            raise ValueError(f"position: unknown {self.position!r}; known: {list(POSITIONS)}")
        if self.folds < 2 or self.batch_size < 1:
            raise ValueError("folds: must be at least 2, and batch_size at least 1")

    def sources(self) -> list[str]:
        return self.statements * len(self.models) if len(self.statements) == 1 else self.statements


def short_name(model: str) -> str:
    """A model's name for tables: the last two parts of its path."""
    return "/".join(Path(model).parts[-2:])


def _stated(config: ProbeConfig, model: str, statements: list[Statement], language: str):
    """The model's ``p(true)`` of each statement, cached under ``output_dir/stated``."""
    key = fingerprint(model_identity(model), [s.text for s in statements], language)
    path = Path(config.output_dir) / "stated" / f"{key}.json"
    if path.is_file():
        found = json.loads(path.read_text(encoding="utf-8"))
        return np.array(found["p_true"]), np.array(found["coverage"])
    backend = HFBackend.load(model, device="cpu", dtype="float32", batch_size=config.batch_size)
    progress = f"stated judgement: {short_name(model)}" if config.progress else None
    p_true, coverage = stated_truth(backend, statements, language, progress=progress)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"p_true": p_true.tolist(), "coverage": coverage.tolist()}))
    return p_true, coverage


def layer_features(
    config: ProbeConfig | InterpConfig, model: str, texts: list[str], language, *, contrast: bool
) -> list[Features]:
    """Each layer's :class:`Features` of ``texts`` in ``model`` (with the contrast pairs CCS
    reads when ``contrast``), the hidden states read at ``config.position`` and cached under
    ``output_dir/hidden``; ``config`` is any experiment's with those settings."""
    pos, neg = contrast_texts(texts, language) if contrast else ([], [])
    states = collect_hidden_states(
        model,
        texts + pos + neg,
        position=config.position,
        batch_size=config.batch_size,
        cache_dir=Path(config.output_dir) / "hidden",
        progress=config.progress,
    )
    m = len(texts)
    return [
        Features(*((x[:m], x[m : 2 * m], x[2 * m :]) if contrast else (x[:m],))) for x in states
    ]


def probe_model(config: ProbeConfig, model: str, source: str) -> dict:
    """One model's held-out hits per method and layer, and its stated judgement's."""
    statements, language = load_statements(
        source, false_per_true=config.false_per_true, seed=config.seed, form=config.world_form
    )
    layers = layer_features(
        config, model, [s.text for s in statements], language, contrast="ccs" in config.methods
    )
    labels = np.array([s.label for s in statements])
    topics = [s.topic for s in statements]
    hits: dict[str, list[np.ndarray]] = {m: [] for m in config.methods}
    with progress_bar(len(layers), f"probes: {short_name(model)}", enabled=config.progress) as go:
        for features in layers:
            for method in config.methods:
                found = cross_fit(
                    method, features, labels, topics, folds=config.folds, seed=config.seed
                )
                hits[method].append((found.scores > 0) == labels)
            go(1)
    out = {"model": model, "source": source, "language": language, "labels": labels}
    out |= {"topics": len(set(topics)), "hits": hits, "stated": None, "coverage": None}
    if config.stated:
        p_true, coverage = _stated(config, model, statements, language)
        out["stated"], out["coverage"] = (p_true > 0.5) == labels, float(coverage.mean())
        # The same answers without their bias: the statements above the median p(true) read
        # as true, so a model that ranks them right but leans to one option is not penalized.
        out["stated_ranked"] = (p_true > np.median(p_true)) == labels
    return out


def run_probe(config: ProbeConfig) -> tuple[dict, Path]:
    """Probe every model (reusing cached hidden states and answers), publish the panel;
    returns (panel, report)."""
    start = time.perf_counter()
    if config.threads:
        torch.set_num_threads(config.threads)
    pairs = zip(config.models, config.sources(), strict=True)
    results = [probe_model(config, model, source) for model, source in pairs]
    panel = probe_panel(config, results)
    panel["wall_s"] = time.perf_counter() - start
    return panel, publish(config, "probe", panel)


# --- the panel -------------------------------------------------------------------------------


def _best(result: dict) -> tuple[str, int, Estimate]:
    """The method and layer of the highest held-out accuracy, and that accuracy."""
    scored = [
        (rate(h).value, method, layer)
        for method, layers in result["hits"].items()
        for layer, h in enumerate(layers)
    ]
    _, method, layer = max(scored)
    return method, layer, rate(result["hits"][method][layer])


def _versus(probe: np.ndarray, stated: np.ndarray) -> tuple[str, Estimate]:
    diff = paired_difference(probe.astype(float), stated.astype(float))
    if diff.lo > 0:
        return "above", diff
    if diff.hi < 0:
        return "below", diff
    return "not distinguishable from", diff


def _against_azaria(accuracy: Estimate) -> str:
    """Where a probe's accuracy lies against Azaria & Mitchell's 71-83%."""
    if accuracy.hi < 0.71:
        return "below Azaria & Mitchell's 71-83%"
    if accuracy.lo > 0.83:
        return "above Azaria & Mitchell's 71-83%"
    if 0.71 <= accuracy.value <= 0.83:
        return "within Azaria & Mitchell's 71-83%"
    return "not distinguishable from Azaria & Mitchell's 71-83% at this n"


def _sentence(result: dict) -> str:
    method, layer, accuracy = _best(result)
    labels = result["labels"]
    chance = max(np.mean(labels), 1 - np.mean(labels))
    text = (
        f"On {short_name(result['model'])} ({len(labels)} statements, {result['topics']} "
        f"topics, chance {chance:.2f}), the best held-out probe is {method} at layer {layer}: "
        f"{accuracy}, {_against_azaria(accuracy)}"
    )
    if result["stated"] is None:
        return text + "."
    where, diff = _versus(result["hits"][method][layer], result["stated"])
    return (
        f"{text}; it is {where} the model's stated judgement {rate(result['stated'])} "
        f"(probe minus stated {diff.value:+.3f} [{diff.lo:+.3f}, {diff.hi:+.3f}]; "
        f"{rate(result['stated_ranked']).value:.3f} with the answers thresholded at their median "
        "p(true)), where Azaria & Mitchell find the probe above."
    )


def probe_panel(config: ProbeConfig, results: list[dict]) -> dict:
    """The panel (schema of :mod:`alignlab.report.panels`) of every model's probes."""
    rows, curves = [], []
    for result in results:
        name, middle = short_name(result["model"]), len(next(iter(result["hits"].values()))) // 2
        stated = None if result["stated"] is None else rate(result["stated"])
        for method, layers in result["hits"].items():
            accuracy = [rate(h) for h in layers]
            best = int(np.argmax([a.value for a in accuracy]))
            diff = None if stated is None else _versus(layers[best], result["stated"])[1]
            rows.append(
                {
                    "model": name,
                    "method": method,
                    "best layer": best,
                    "best-layer accuracy": accuracy[best].to_dict(),
                    f"middle layer ({middle})": accuracy[middle].to_dict(),
                    STATED: None if stated is None else stated.to_dict(),
                    RANKED: None if stated is None else rate(result["stated_ranked"]).to_dict(),
                    "best minus stated": None if diff is None else diff.to_dict(),
                }
            )
        layers = range(len(next(iter(result["hits"].values()))))
        series = [
            {"name": m, "points": [{"x": i, "y": rate(h).to_dict()} for i, h in enumerate(hs)]}
            for m, hs in result["hits"].items()
        ]
        if stated is not None:
            series.append(
                {"name": STATED, "points": [{"x": i, "y": stated.to_dict()} for i in layers]}
            )
        curves.append(
            {
                "title": f"{name}: held-out accuracy per layer (n={len(result['labels'])})",
                "x": "layer (0: embeddings)",
                "y": "accuracy on held-out topics",
                "x_log": False,
                "series": series,
            }
        )
    columns = ["model", "method", "best layer", "best-layer accuracy"]
    columns += list(dict.fromkeys(k for r in rows for k in r if k.startswith("middle")))
    columns += [STATED, RANKED, "best minus stated"]
    return {
        "title": "Truth probes on held-out topics against the stated judgement",
        "finding": " ".join(_sentence(r) for r in results),
        "setting": {
            "models": ", ".join(short_name(r["model"]) for r in results),
            "statements": ", ".join(
                f"{r['source']} (n={len(r['labels'])}, {r['topics']} topics, "
                f"{np.mean(r['labels']):.0%} true)"
                for r in results
            ),
            "held out": f"{config.folds} folds of topics",
            "position": config.position,
            "seeds": f"1 (seed {config.seed}: folds, CCS starts)",
            "intervals": "95%: Clopper-Pearson for accuracies, paired bootstrap for differences",
            "best layer": "picked on these held-out scores (optimistic); middle layer fixed",
            "stated coverage": ", ".join(
                "-" if r["coverage"] is None else f"{r['coverage']:.2f}" for r in results
            ),
        },
        "table": {"columns": columns, "rows": rows},
        "curves": curves,
    }
