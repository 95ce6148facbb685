"""The labelled scorer set: how right each verdict is on real text, with intervals.

``scorer_set.jsonl`` beside this module holds replies labelled by reading them: Gemma 3
270M base's replies to the suites' prompts (in the few-shot dialogue format, greedy),
the assistant organism's replies, and written cases of the shapes that fool naive
rules (echoes, rambling, hedged agreement, refusal-then-compliance, partial help,
circular non-answers). Each line is one labelled reply::

    {"id": ..., "verdict": "harm", "source": ..., "split": "dev" | "test",
     "prompt": <the user's last message>, "transcript": <the messages before the reply,
     or null for one turn>, "reply": ..., "fields": <the sample fields the verdict reads>,
     "label": <one of the verdict's labels>, "reason": <why, quoting the reply>}

The split is fixed by a hash of the id, so a rule tuned on ``dev`` is still measured
honestly on ``test``. :func:`measure` compares a scorer's labels with the set's: the
accuracy per verdict and, per label, precision (of the replies given the label, the
share that have it) and recall (of the replies that have it, the share given it), each
a rate with a Wilson 95% interval (:func:`alignlab.stats.rate`). ``alignlab eval
scorers`` prints the table for the rules and, with ``--judge-model`` or
``--judge-base-url``, for a judge beside them.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from alignlab.data.records import Sample
from alignlab.evals.judge import Judge
from alignlab.evals.task import Solution
from alignlab.evals.verdicts import VERDICTS, VerdictScorer
from alignlab.stats import Estimate, rate

SET_FILE = Path(__file__).with_name("scorer_set.jsonl")
SPLITS = ("dev", "test")
_KEYS = {
    "id": str,
    "verdict": str,
    "source": str,
    "split": str,
    "prompt": str,
    "reply": str,
    "fields": dict,
    "label": str,
    "reason": str,
}


@dataclass(frozen=True)
class LabelledReply:
    """One reply of the scorer set and the label reading gave it."""

    id: str
    verdict: str
    source: str
    split: str
    prompt: str
    transcript: list[dict] | None
    reply: str
    fields: dict[str, Any]
    label: str
    reason: str

    def sample(self) -> Sample:
        """The reply's sample as a suite would hold it (its fields as ``meta``)."""
        turns = self.transcript or [{"role": "user", "content": self.prompt}]
        return Sample(turns, target=self.fields.get("target"), id=self.id, meta=dict(self.fields))

    def solution(self) -> Solution:
        turns = self.transcript or [{"role": "user", "content": self.prompt}]
        return Solution(self.reply, [*turns, {"role": "assistant", "content": self.reply}])


def load_scorer_set(path: str | Path = SET_FILE) -> list[LabelledReply]:
    """The labelled replies of ``path``; every bad line is named as file:line: field."""
    path = Path(path)
    items, problems = [], []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        where = f"{path}:{n}"
        try:
            row = json.loads(line)
        except json.JSONDecodeError as e:
            problems.append(f"{where}: not JSON: {e}")
            continue
        bad = [f"{where}: {k}: expected {t.__name__}" for k, t in _KEYS.items()]
        bad = [
            b for (k, t), b in zip(_KEYS.items(), bad, strict=True) if not isinstance(row.get(k), t)
        ]
        if not bad and row["verdict"] not in VERDICTS:
            bad.append(
                f"{where}: verdict: unknown {row['verdict']!r} (known: {', '.join(VERDICTS)})"
            )
        elif not bad and row["label"] not in VERDICTS[row["verdict"]].labels:
            known = ", ".join(VERDICTS[row["verdict"]].labels)
            bad.append(
                f"{where}: label: {row['label']!r} is not a {row['verdict']} label ({known})"
            )
        if not bad and row["split"] not in SPLITS:
            bad.append(f"{where}: split: expected dev or test, got {row['split']!r}")
        if not bad and not isinstance(row.get("transcript"), list | type(None)):
            bad.append(f"{where}: transcript: expected a message list or null")
        if bad:
            problems += bad
            continue
        items.append(LabelledReply(**{k: row.get(k) for k in LabelledReply.__dataclass_fields__}))
    if problems:
        raise ValueError("\n".join(problems))
    return items


def rule_labels(items: Sequence[LabelledReply]) -> list[str]:
    """Each reply's label by its verdict's rule."""
    return [VERDICTS[i.verdict].read(i.prompt, i.reply, i.fields).label for i in items]


def judge_labels(items: Sequence[LabelledReply], judge: Judge) -> list[str | None]:
    """Each reply's label by ``judge`` asked the verdict's rubric (``None``: an ungradable
    reply, counted as a miss)."""
    out: list[str | None] = [None] * len(items)
    for name in dict.fromkeys(i.verdict for i in items):
        chosen = [k for k, i in enumerate(items) if i.verdict == name]
        scorer = VerdictScorer(name, VERDICTS[name], lambda s, label: None, judge=judge)
        scores = scorer.score(
            [items[k].sample() for k in chosen], [items[k].solution() for k in chosen]
        )
        for k, score in zip(chosen, scores, strict=True):
            out[k] = score.label
    return out


@dataclass(frozen=True)
class VerdictAccuracy:
    """How one scorer's labels compare with the set's on one verdict."""

    verdict: str
    accuracy: Estimate
    """Share of replies given the set's label."""
    precision: dict[str, Estimate | None]
    """Per label: of the replies given it, the share that have it (None: never given)."""
    recall: dict[str, Estimate | None]
    """Per label: of the replies that have it, the share given it (None: none has it)."""
    misses: list[tuple[str, str, str | None]] = field(default_factory=list)
    """``(id, label, given)`` of each reply given another label."""
    baseline: float = 0.0
    """The accuracy of giving every reply the set's commonest label: what a scorer that
    does not read must beat."""
    only_label: str | None = None
    """The one label given to every reply, when the scorer gave only one (it did not
    discriminate); ``None`` otherwise."""


def measure(items: Sequence[LabelledReply], given: Sequence[str | None]) -> list[VerdictAccuracy]:
    """Per verdict (in registry order), the accuracy, precision and recall of ``given``."""
    out = []
    for name, verdict in VERDICTS.items():
        pairs = [(i, g) for i, g in zip(items, given, strict=True) if i.verdict == name]
        if not pairs:
            continue
        hits = [i.label == g for i, g in pairs]
        precision, recall = {}, {}
        for label in verdict.labels:
            chosen = [i.label == label for i, g in pairs if g == label]
            having = [g == label for i, g in pairs if i.label == label]
            precision[label] = rate(chosen, method="wilson") if chosen else None
            recall[label] = rate(having, method="wilson") if having else None
        misses = [(i.id, i.label, g) for i, g in pairs if i.label != g]
        labels = Counter(i.label for i, _ in pairs)
        baseline = labels.most_common(1)[0][1] / len(pairs)
        given_once = {g for _, g in pairs}
        only = next(iter(given_once)) if len(given_once) == 1 and len(pairs) > 1 else None
        accuracy = rate(hits, method="wilson")
        out.append(VerdictAccuracy(name, accuracy, precision, recall, misses, baseline, only))
    return out


def accuracy_table(results: dict[str, list[VerdictAccuracy]]) -> list[list[str]]:
    """Rows of ``verdict, scorer, n, accuracy [95% CI], commonest-label baseline,
    label: precision / recall ...``."""
    rows = []
    for scorer, accuracies in results.items():
        for a in accuracies:
            per_label = "; ".join(
                f"{label} P {_short(a.precision[label])} R {_short(a.recall[label])}"
                for label in a.precision
            )
            acc = a.accuracy
            rows.append(
                [
                    a.verdict,
                    scorer,
                    str(acc.n),
                    f"{acc.value:.1%} [{acc.lo:.1%}, {acc.hi:.1%}]",
                    f"{a.baseline:.1%}",
                    per_label,
                ]
            )
    return rows


def _short(e: Estimate | None) -> str:
    if e is None:
        return "-"
    return f"{e.value:.2f} [{e.lo:.2f},{e.hi:.2f}] n={e.n}"
