"""Debate on the assistant organism: judge accuracy, naive / consultancy / debate, against
debater strength (Khan et al. 2024: 48 / 54 / 76% for LLM judges; stronger debaters raise
debate's accuracy and lower consultancy's).

Per seed, the organism's base model is fine-tuned on the hidden-context demonstrations of
:mod:`alignlab.organisms.assistant.hidden_context` (reading and quoting); the one model is
both the advisors (reading the story) and the judge (reading only the quotes), weak because
it lacks the story and because it matches names rather than places. Then every protocol
runs on fresh stories, each advisor's turn best-of-n on the judge's preference for n in
``best_of``. ``output_dir`` holds::

    seed-<s>/demos.jsonl, seed-<s>/sft/       the demonstrations and the fine-tuning run
    seed-<s>/<protocol>-n<k>.jsonl            every transcript and the judge's verdict

each reused when present, and the panel joins ``results.json``.
"""

from __future__ import annotations

import json
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from alignlab.config import from_dict
from alignlab.data.io import write_records
from alignlab.experiments.organism import ready_organism
from alignlab.experiments.oversight.base import OversightConfig, publish, set_threads
from alignlab.models.adapters import is_model_dir
from alignlab.models.backends import HFBackend
from alignlab.models.backends.batch import option_probs_many
from alignlab.organisms.assistant.hidden_context import (
    MAX_FACTS,
    HiddenContextTask,
    Story,
    demonstrations,
    draw_story,
    reader_prompt,
)
from alignlab.oversight.debate import Judged, Setting, run_protocol
from alignlab.progress import progress_bar
from alignlab.stats import over_seeds
from alignlab.trainers import SFTConfig, train_sft

PROTOCOL_NAMES = ("naive", "consultancy", "debate")


def _sft_defaults() -> dict[str, Any]:
    return {"lr": 1e-3, "epochs": 2, "batch_size": 16, "max_length": 128}


@dataclass
class DebateConfig(OversightConfig):
    """Debate, consultancy and the naive judge on hidden-context stories."""

    output_dir: str = "runs/oversight/debate"
    """Where the experiment writes its runs, results.json and report.html."""
    n_demos: int = 4000
    """Reading and quoting demonstrations the advisor-judge model is fine-tuned on, per seed."""
    n_questions: int = 80
    """Test stories per seed; each protocol runs on every one (consultancy and debate
    twice, once per assignment of sides)."""
    max_facts: int = 4
    """A story states 2 to this many facts."""
    misleading_rate: float = 0.5
    """Share of stories whose wrong answer a true sentence of the story names."""
    rounds: int = 2
    """Turns of each advisor."""
    best_of: list[int] = field(default_factory=lambda: [1, 4, 16])
    """Debater strengths: arguments sampled per turn, the judge's favourite kept."""
    sft: dict[str, Any] = field(default_factory=_sft_defaults)
    """Settings of the fine-tuning (any :class:`~alignlab.trainers.SFTConfig` field)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.n_demos < 2 or self.n_questions < 1:
            raise ValueError("n_demos: must be at least 2, and n_questions at least 1")
        if not 2 <= self.max_facts <= MAX_FACTS:
            raise ValueError(f"max_facts: must lie in [2, {MAX_FACTS}], got {self.max_facts}")
        if not 0.0 <= self.misleading_rate <= 1.0:
            raise ValueError(f"misleading_rate: must lie in [0, 1], got {self.misleading_rate}")
        if not self.best_of or min(self.best_of) < 1:
            raise ValueError(
                f"best_of: must be a non-empty list of counts >= 1, got {self.best_of}"
            )
        Setting(rounds=self.rounds)  # checks rounds


def stories(config: DebateConfig, seed: int) -> list[Story]:
    """The seed's test stories."""
    rng = random.Random(f"debate:{seed}:stories")
    return [
        draw_story(rng, rng.randint(2, config.max_facts), rng.random() < config.misleading_rate)
        for _ in range(config.n_questions)
    ]


def _model(config: DebateConfig, organism: Path, out: Path, seed: int) -> Path:
    """The seed's advisor-judge model: the base fine-tuned on reading and quoting."""
    model = out / "sft" / "model"
    if is_model_dir(model):
        return model
    demos = out / "demos.jsonl"
    rng = random.Random(f"debate:{seed}:demos")
    write_records(
        demos, demonstrations(rng, config.n_demos, config.max_facts, config.misleading_rate)
    )
    settings = {
        **config.sft,
        "model": str(organism / "base"),
        "train_file": str(demos),
        "output_dir": str(out / "sft"),
        "seed": seed,
        "threads": config.threads,
        "eval_every": 0,
        "save_every": 0,
        "progress": config.progress,
        "resume": (out / "sft" / "metrics.jsonl").exists(),
    }
    return train_sft(from_dict(SFTConfig, settings, source="debate sft"))


def _judged(path: Path, run) -> list[dict]:
    """Verdicts as JSON rows, from ``path`` or from ``run()`` (then written to ``path``)."""
    if path.exists():
        return [json.loads(line) for line in path.read_text().splitlines()]
    rows = [
        {"item": j.item, "side": j.side, "transcript": j.transcript, "p_correct": j.p_correct}
        for j in run()
    ]
    tmp = path.with_suffix(".tmp")
    tmp.write_text("".join(json.dumps(r) + "\n" for r in rows))
    tmp.replace(path)
    return rows


def _conditions(config: DebateConfig) -> list[tuple[str, int]]:
    return [("naive", 1)] + [(p, n) for p in PROTOCOL_NAMES[1:] for n in config.best_of]


def run_seed(config: DebateConfig, organism: Path, seed: int) -> dict[str, list[dict]]:
    """Every condition's verdicts for one seed, keyed ``protocol-n<k>`` (and ``reader``:
    the judge reading the whole story)."""
    out = Path(config.output_dir) / f"seed-{seed}"
    out.mkdir(parents=True, exist_ok=True)
    model = _model(config, organism, out, seed)
    backend = HFBackend.load(model, batch_size=64)
    task, items = HiddenContextTask(), stories(config, seed)

    def reader() -> list[Judged]:
        probs = option_probs_many(
            backend,
            [reader_prompt(s) for s in items],
            [task.options(s) for s in items],
            [None] * len(items),
        )
        return [
            Judged(i, -1, (), p.probs[s.correct])
            for i, (s, p) in enumerate(zip(items, probs, strict=True))
        ]

    verdicts = {"reader": _judged(out / "reader.jsonl", reader)}
    conditions = _conditions(config)
    with progress_bar(len(conditions), f"debate seed {seed}", enabled=config.progress) as advance:
        for protocol, n in conditions:
            setting = Setting(rounds=config.rounds, best_of=n, seed=seed)
            verdicts[f"{protocol}-n{n}"] = _judged(
                out / f"{protocol}-n{n}.jsonl",
                lambda p=protocol, s=setting: run_protocol(p, task, items, backend, [backend], s),
            )
            advance()
    for rows in verdicts.values():
        for row in rows:
            row["misleading"] = items[row["item"]].misleading
    return verdicts


def _accuracy(per_seed: list[dict], key: str, where=None) -> dict:
    groups = [
        np.array(
            [r["p_correct"] > 0.5 for r in v[key] if where is None or r["misleading"] == where],
            float,
        )
        for v in per_seed
    ]
    return over_seeds(groups).to_dict()


def _label(protocol: str, n: int) -> str:
    return protocol if protocol == "naive" else f"{protocol}, best-of-{n}"


def panel(config: DebateConfig, per_seed: list[dict], wall_s: float) -> dict:
    """The debate panel: accuracy of every condition (overall, on misleading and on plain
    stories), and accuracy against debater strength."""
    rows = [
        {
            "condition": "judge reading the whole story",
            "accuracy": _accuracy(per_seed, "reader"),
            "misleading stories": _accuracy(per_seed, "reader", True),
            "plain stories": _accuracy(per_seed, "reader", False),
        }
    ]
    for protocol, n in _conditions(config):
        key = f"{protocol}-n{n}"
        rows.append(
            {
                "condition": _label(protocol, n),
                "accuracy": _accuracy(per_seed, key),
                "misleading stories": _accuracy(per_seed, key, True),
                "plain stories": _accuracy(per_seed, key, False),
            }
        )
    seeds, n_items = len(per_seed), config.n_questions
    series = [
        {
            "name": name,
            "points": [
                {"x": n, "y": _accuracy(per_seed, f"{protocol}-n{1 if protocol == 'naive' else n}")}
                for n in config.best_of
            ],
        }
        for name, protocol in (
            ("debate", "debate"),
            ("consultancy", "consultancy"),
            ("naive", "naive"),
        )
    ]
    return {
        "title": "Debate: a judge who cannot see the story",
        "finding": finding(rows, config),
        "setting": {
            "stories per seed": n_items,
            "seeds": seeds,
            "rounds": config.rounds,
            "misleading share": config.misleading_rate,
            "advisors and judge": "the organism's base fine-tuned to read and quote",
        },
        "wall_s": wall_s,
        "table": {
            "columns": ["condition", "accuracy", "misleading stories", "plain stories"],
            "rows": rows,
        },
        "curves": [
            {
                "title": f"judge accuracy against debater strength ({n_items} stories x {seeds} seeds)",
                "x": "best-of-n per turn",
                "y": "judge accuracy",
                "x_log": True,
                "series": series,
            }
        ],
    }


def finding(rows: list[dict], config: DebateConfig) -> str:
    """What the table shows, in a sentence or two, from its numbers."""
    acc = {r["condition"]: r["accuracy"]["value"] for r in rows}
    lo, hi = min(config.best_of), max(config.best_of)
    naive = acc["naive"]
    cons = (acc[_label("consultancy", lo)], acc[_label("consultancy", hi)])
    deb = (acc[_label("debate", lo)], acc[_label("debate", hi)])
    order = "held" if naive < cons[0] < deb[0] else "did not hold"
    text = (
        f"Judge accuracy naive {naive:.0%}, consultancy {cons[0]:.0%}, debate {deb[0]:.0%} with "
        f"plain advisors: the order naive < consultancy < debate {order} (Khan et al. 2024: "
        f"48 / 54 / 76%)."
    )
    if hi > lo:
        text += (
            f" From best-of-{lo} to best-of-{hi}, debate went {deb[0]:.0%} -> {deb[1]:.0%} and "
            f"consultancy {cons[0]:.0%} -> {cons[1]:.0%}: stronger debaters "
            f"{'raised' if deb[1] > deb[0] else 'did not raise'} debate's accuracy and "
            f"{'lowered' if cons[1] < cons[0] else 'did not lower'} consultancy's."
        )
    return text


def run_debate(config: DebateConfig) -> tuple[dict, Path]:
    """Run every seed (reusing what exists) and publish the panel; returns it and the report."""
    started = time.perf_counter()
    set_threads(config.threads)
    organism, _ = ready_organism(config.organism)
    per_seed = [run_seed(config, organism, seed) for seed in config.seed_list]
    result = panel(config, per_seed, time.perf_counter() - started)
    Path(config.output_dir).mkdir(parents=True, exist_ok=True)
    return result, publish(config.output_dir, "debate", result)
