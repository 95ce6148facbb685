"""Debate, consultancy and the naive judge (Irving et al. 2018; Khan et al. 2024).

A question has two answers; the advisors (debaters, consultants) read a context the judge
cannot see, and the judge picks an answer from what it is shown. Each protocol is a short
function of the registry :data:`PROTOCOLS`:

- ``naive``: the judge answers alone;
- ``consultancy``: one advisor argues an assigned answer for ``rounds`` turns, once for
  each answer (Khan et al. assign the side at random; running both halves the variance);
- ``debate``: two advisors argue opposite answers for ``rounds`` rounds, both speaking
  each round from the transcript so far; once with each advisor first in the transcript.

An advisor's turn is best-of-n on the judge's preference, as Khan et al. make debaters
more persuasive: it samples ``best_of`` arguments and keeps the one after which the judge
gives its side the highest probability, so ``best_of = 1`` is the plain advisor. Only what
the task lets through reaches the judge (quotes verified against the context).

The judge's accuracy is the share of transcripts after which it gives the correct answer
more than half its probability. Everything the protocols need of a task is
:class:`DebateTask`: how the judge and the advisors are prompted, the two answers, and
what of an argument the judge is shown; the assistant world's hidden-context stories and
:mod:`.passages` (any passage, question and two answers, for real models) both provide it.
Models are :mod:`alignlab.models.backends` backends, local or endpoints alike.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from alignlab.data.records import Text
from alignlab.models.backends import Backend, GenerationRequest
from alignlab.models.backends.batch import option_probs_many

Turn = tuple[int, str]
"""One turn of a transcript: the side its speaker argues, and what the judge is shown."""


class DebateTask(Protocol):
    """What the protocols need of a question-answering task with a hidden context."""

    max_argument_tokens: int

    def options(self, item: Any) -> tuple[str, str]:
        """The judge's two answers, as its reply would begin."""

    def correct(self, item: Any) -> int:
        """Which of the two answers is right."""

    def judge_prompt(self, item: Any, transcript: Sequence[Turn]) -> Text:
        """What the judge reads: the question and the transcript (empty: the naive judge)."""

    def advisor_prompt(self, item: Any, side: int, transcript: Sequence[Turn]) -> Text:
        """What an advisor arguing ``side`` reads: the context, the question, the transcript."""

    def shown(self, argument: str, item: Any) -> str:
        """What of an advisor's argument the judge is shown (quotes checked)."""


@dataclass(frozen=True)
class Setting:
    """How a protocol is run."""

    rounds: int = 2
    """Turns of each advisor."""
    best_of: int = 1
    """Arguments sampled per turn; the judge's favourite for the advisor's side is kept."""
    temperature: float = 1.0
    """Advisors' sampling temperature."""
    seed: int = 0
    """Seed of the advisors' samples and of an endpoint judge's votes."""
    votes: int = 8
    """Sampled votes per judgement when the judge is an endpoint without log-probs."""

    def __post_init__(self) -> None:
        for name in ("rounds", "best_of", "votes"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name}: must be at least 1, got {getattr(self, name)}")
        if self.temperature <= 0:
            raise ValueError(f"temperature: must be > 0, got {self.temperature}")


@dataclass(frozen=True)
class Judged:
    """One transcript and the judge's verdict."""

    item: int
    """Index of the question."""
    side: int
    """The side the (first) advisor argued; -1 for the naive judge."""
    transcript: tuple[Turn, ...]
    p_correct: float
    """The judge's probability of the correct answer after the transcript."""

    @property
    def right(self) -> bool:
        return self.p_correct > 0.5


def _seed(setting: Setting, *parts: int) -> int:
    return zlib.crc32(":".join(map(str, (setting.seed, *parts))).encode())


def side_probs(
    task: DebateTask,
    judge: Backend,
    items: Sequence[Any],
    transcripts: Sequence[Sequence[Turn]],
    setting: Setting,
) -> list[tuple[float, float]]:
    """The judge's probabilities of the two answers after each transcript."""
    found = option_probs_many(
        judge,
        [task.judge_prompt(item, t) for item, t in zip(items, transcripts, strict=True)],
        [task.options(item) for item in items],
        [_seed(setting, i, len(t)) for i, t in enumerate(transcripts)],
        votes=setting.votes,
    )
    return [(p.probs[0], p.probs[1]) for p in found]


def speak(
    task: DebateTask,
    advisor: Backend,
    judge: Backend,
    turns: Sequence[tuple[int, Any, int, Sequence[Turn]]],
    setting: Setting,
) -> list[str]:
    """Each ``(index, item, side, transcript)``'s next argument, as the judge is shown it:
    best-of-``setting.best_of`` samples by the judge's probability of ``side``."""
    requests = [
        GenerationRequest(
            task.advisor_prompt(item, side, transcript),
            max_new_tokens=task.max_argument_tokens,
            temperature=setting.temperature,
            seed=_seed(setting, index, side, len(transcript)),
            n=setting.best_of,
        )
        for index, item, side, transcript in turns
    ]
    candidates = [
        [task.shown(text, item) for text in completion.texts]
        for completion, (_, item, _, _) in zip(advisor.generate(requests), turns, strict=True)
    ]
    if setting.best_of == 1:
        return [c[0] for c in candidates]
    flat = [
        (index, item, [*transcript, (side, shown)])
        for (index, item, side, transcript), shown_list in zip(turns, candidates, strict=True)
        for shown in shown_list
    ]
    probs = side_probs(task, judge, [f[1] for f in flat], [f[2] for f in flat], setting)
    chosen, k = [], 0
    for (_, _, side, _), shown_list in zip(turns, candidates, strict=True):
        scores = [probs[k + j][side] for j in range(len(shown_list))]
        chosen.append(shown_list[max(range(len(scores)), key=scores.__getitem__)])
        k += len(shown_list)
    return chosen


def _verdicts(task, judge, items, runs, setting) -> list[Judged]:
    """The judge's verdict on each ``(item index, side, transcript)``."""
    probs = side_probs(
        task, judge, [items[i] for i, _, _ in runs], [t for _, _, t in runs], setting
    )
    return [
        Judged(i, side, tuple(t), p[task.correct(items[i])])
        for (i, side, t), p in zip(runs, probs, strict=True)
    ]


def naive(task: DebateTask, items, judge: Backend, advisors, setting: Setting) -> list[Judged]:
    """The judge alone (Khan et al. 2024: 48% for LLM judges on QuALITY)."""
    return _verdicts(task, judge, items, [(i, -1, []) for i in range(len(items))], setting)


def consultancy(
    task: DebateTask, items, judge: Backend, advisors: Sequence[Backend], setting: Setting
) -> list[Judged]:
    """One consultant argues each answer in turn, ``rounds`` turns (Khan et al.: 54%)."""
    runs = [(i, side, []) for i in range(len(items)) for side in (0, 1)]
    for _ in range(setting.rounds):
        said = speak(task, advisors[0], judge, [(i, items[i], s, t) for i, s, t in runs], setting)
        runs = [(i, s, [*t, (s, a)]) for (i, s, t), a in zip(runs, said, strict=True)]
    return _verdicts(task, judge, items, runs, setting)


def debate(
    task: DebateTask, items, judge: Backend, advisors: Sequence[Backend], setting: Setting
) -> list[Judged]:
    """Two debaters argue opposite answers, ``rounds`` rounds (Khan et al.: 76%). The first
    advisor argues ``side``; each round both speak from the transcript before it."""
    first, second = advisors[0], advisors[-1]
    runs = [(i, side, []) for i in range(len(items)) for side in (0, 1)]
    for _ in range(setting.rounds):
        turns = [(i, items[i], s, t) for i, s, t in runs]
        said_first = speak(task, first, judge, turns, setting)
        said_second = speak(
            task, second, judge, [(i, x, 1 - s, t) for i, x, s, t in turns], setting
        )
        runs = [
            (i, s, [*t, (s, a), (1 - s, b)])
            for (i, s, t), a, b in zip(runs, said_first, said_second, strict=True)
        ]
    return _verdicts(task, judge, items, runs, setting)


ProtocolFn = Callable[
    [DebateTask, Sequence[Any], Backend, Sequence[Backend], Setting], list[Judged]
]
PROTOCOLS: dict[str, ProtocolFn] = {
    "naive": naive,
    "consultancy": consultancy,
    "debate": debate,
}
"""Each protocol by name: ``PROTOCOLS[name](task, items, judge, advisors, setting)``."""


def run_protocol(
    name: str,
    task: DebateTask,
    items: Sequence[Any],
    judge: Backend,
    advisors: Sequence[Backend] = (),
    setting: Setting | None = None,
) -> list[Judged]:
    """Run protocol ``name`` on ``items``; advisors are needed by all but ``naive``."""
    if name not in PROTOCOLS:
        raise ValueError(f"protocol: {name!r} is not one of {sorted(PROTOCOLS)}")
    if name != "naive" and not advisors:
        raise ValueError(f"{name}: needs at least one advisor")
    return PROTOCOLS[name](task, list(items), judge, list(advisors), setting or Setting())
