"""Debate on the assistant organism: judge accuracy, naive / consultancy / debate, against
debater strength (Khan et al. 2024: 48 / 54 / 76% for LLM judges; stronger debaters raise
debate's accuracy and lower consultancy's).

Per seed, the organism's base model is fine-tuned on the hidden-context demonstrations of
:mod:`alignlab.organisms.assistant.hidden_context` (reading and quoting); the one model is
both the advisors (reading the story) and the judge (reading only the quotes), weak because
it lacks the story and because it matches names rather than places. Then every protocol
runs on fresh stories, each advisor's turn best-of-n on the judge's preference for n in
``best_of``. The runs, under ``output_dir/debate/<key>/`` (:func:`~.base.run_dir`)::

    seed-<s>/demos.jsonl, seed-<s>/sft/       the demonstrations and the fine-tuning run
    seed-<s>/reader.jsonl                     the judge reading the whole story
    seed-<s>/<protocol>-n<k>.jsonl            every transcript and the judge's verdict

are each reused when present, and the panel joins ``output_dir/results.json``.
"""

from __future__ import annotations

import json
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from alignlab.config import from_dict
from alignlab.data.io import write_records
from alignlab.experiments.organism import organism_key, ready_organism
from alignlab.experiments.oversight.base import OversightConfig, publish, run_dir, set_threads
from alignlab.experiments.oversight.debate_panel import condition_key, conditions, debate_panel
from alignlab.feedback.backend import ModelSpec, open_backend, output_cache
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
from alignlab.oversight.passages import PassageTask, read_passages
from alignlab.progress import progress_bar
from alignlab.trainers import SFTConfig, train_sft


def _sft_defaults() -> dict[str, Any]:
    return {"lr": 1e-3, "epochs": 2, "batch_size": 16, "max_length": 128}


@dataclass
class DebateConfig(OversightConfig):
    """Debate, consultancy and the naive judge on hidden-context stories."""

    n_demos: int = 4000
    """Reading and quoting demonstrations the advisor-judge model is fine-tuned on, per seed."""
    n_questions: int = 200
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
    passages: str | None = None
    """A passage file (JSONL of passage, question, two answers, correct; see
    :mod:`alignlab.oversight.passages`): run the protocols on its questions with the
    models ``judge``, ``advisor`` and ``opponent`` instead of on the organism's stories
    (nothing is trained; the seeds seed the advisors' samples)."""
    judge: ModelSpec | None = None
    """With ``passages``: the judge, a local model or an endpoint (``judge.base_url``)."""
    advisor: ModelSpec | None = None
    """With ``passages``: the consultant, and the first debater."""
    opponent: ModelSpec | None = None
    """With ``passages``: the second debater; unset: the advisor argues both sides."""
    argument_tokens: int = 120
    """With ``passages``: the longest argument an advisor writes, in tokens."""

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
        if self.passages is not None and (self.judge is None or self.advisor is None):
            raise ValueError("passages: needs the models judge and advisor (judge.model=...)")


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


def _run_conditions(config, out: Path, task, items, judge, advisors, seed: int) -> dict:
    """Every condition's verdicts for one seed, each read from ``out`` when there."""
    out.mkdir(parents=True, exist_ok=True)
    verdicts = {}
    todo = conditions(config.best_of)
    with progress_bar(len(todo), f"debate seed {seed}", enabled=config.progress) as advance:
        for protocol, n in todo:
            key = condition_key(protocol, n)
            setting = Setting(rounds=config.rounds, best_of=n, seed=seed)
            verdicts[key] = _judged(
                out / f"{key}.jsonl",
                lambda p=protocol, s=setting: run_protocol(p, task, items, judge, advisors, s),
            )
            advance()
    return verdicts


def run_seed(config: DebateConfig, organism: Path, seed: int) -> dict[str, list[dict]]:
    """Every condition's verdicts for one seed, keyed ``protocol-n<k>`` (and ``reader``:
    the judge reading the whole story)."""
    out = run_dir(config, "debate", organism_key(organism)) / f"seed-{seed}"
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
    verdicts.update(_run_conditions(config, out, task, items, backend, [backend], seed))
    for rows in verdicts.values():
        for row in rows:
            row["misleading"] = items[row["item"]].misleading
    return verdicts


def run_models(config: DebateConfig) -> list[dict]:
    """Every seed's verdicts on the passage file's questions, with the configured models."""
    items = read_passages(config.passages)
    out = run_dir(config, "debate")
    specs = [config.judge, config.advisor, config.opponent or config.advisor]
    cache = output_cache(str(out / "responses"), True, *specs)
    judge, advisor = open_backend(specs[0], cache), open_backend(specs[1], cache)
    opponent = advisor if config.opponent is None else open_backend(config.opponent, cache)
    return [
        _run_conditions(
            config,
            out / f"seed-{seed}",
            PassageTask(config.argument_tokens),
            items,
            judge,
            [advisor, opponent],
            seed,
        )
        for seed in config.seed_list
    ]


def run_debate(config: DebateConfig) -> tuple[dict, Path]:
    """Run every seed (reusing what exists) and publish the panel; returns it and the report."""
    started = time.perf_counter()
    set_threads(config.threads)
    if config.passages is not None:
        per_seed = run_models(config)
        names = [s.model for s in (config.judge, config.advisor, config.opponent) if s]
        result = debate_panel(
            per_seed,
            config.best_of,
            title="Debate: a judge who cannot see the passage",
            setting={"rounds": config.rounds, "passages": config.passages, "models": names},
            wall_s=time.perf_counter() - started,
        )
    else:
        organism, _ = ready_organism(config.organism)
        per_seed = [run_seed(config, organism, seed) for seed in config.seed_list]
        result = debate_panel(
            per_seed,
            config.best_of,
            title="Debate: a judge who cannot see the story",
            setting={
                "rounds": config.rounds,
                "misleading share": config.misleading_rate,
                "advisors and judge": "the organism's base fine-tuned to read and quote",
            },
            wall_s=time.perf_counter() - started,
            splits={"misleading": ("misleading stories", "plain stories")},
            reader="judge reading the whole story",
        )
    return result, publish(config, "debate", result)
