"""The debate panel: judge accuracy per condition, with 95% intervals over seeds and
questions, and accuracy against debater strength, from the verdicts of every seed.

Verdicts are rows ``{"item", "side", "transcript", "p_correct", ...}`` under a key per
condition (``naive-n1``, ``consultancy-n4``, ``debate-n16``; ``reader`` for a judge given
the context). A *split* is a row field (``misleading``) whose two values get a column each.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from alignlab.stats import over_seeds

SERIES = ("debate", "consultancy", "naive")


def condition_key(protocol: str, best_of: int) -> str:
    return f"{protocol}-n{1 if protocol == 'naive' else best_of}"


def conditions(best_of: Sequence[int]) -> list[tuple[str, int]]:
    """Every protocol and debater strength run: the naive judge once, the others at each n."""
    return [("naive", 1)] + [(p, n) for p in ("consultancy", "debate") for n in best_of]


def accuracy(per_seed: Sequence[dict], key: str, split: str | None = None, value=None) -> dict:
    """The share of transcripts after which the judge favours the right answer; with
    ``split``, of those whose ``split`` field is ``value``."""
    groups = [
        np.array(
            [r["p_correct"] > 0.5 for r in v[key] if split is None or r[split] == value], float
        )
        for v in per_seed
    ]
    return over_seeds(groups).to_dict()


def label(protocol: str, n: int) -> str:
    return protocol if protocol == "naive" else f"{protocol}, best-of-{n}"


def debate_panel(
    per_seed: Sequence[dict],
    best_of: Sequence[int],
    *,
    title: str,
    setting: dict,
    wall_s: float,
    splits: dict[str, tuple[str, str]] | None = None,
    reader: str | None = None,
) -> dict:
    """The panel. ``splits`` maps a row field to the column names of its true and false
    values; ``reader`` names the row of the ``reader`` verdicts, when there are any."""
    splits = splits or {}
    keys = ([(reader, "reader")] if reader else []) + [
        (label(p, n), condition_key(p, n)) for p, n in conditions(best_of)
    ]
    rows = []
    for name, key in keys:
        row = {"condition": name, "accuracy": accuracy(per_seed, key)}
        for field, (yes, no) in splits.items():
            row[yes] = accuracy(per_seed, key, field, True)
            row[no] = accuracy(per_seed, key, field, False)
        rows.append(row)
    n_items = len({r["item"] for r in per_seed[0]["naive-n1"]})
    series = [
        {
            "name": protocol,
            "points": [
                {"x": n, "y": accuracy(per_seed, condition_key(protocol, n))} for n in best_of
            ],
        }
        for protocol in SERIES
    ]
    columns = ["condition", "accuracy", *(c for pair in splits.values() for c in pair)]
    seeds = len(per_seed)
    return {
        "title": title,
        "finding": finding(rows, best_of, [c for pair in splits.values() for c in pair], reader),
        "setting": {"questions per seed": n_items, "seeds": seeds, **setting},
        "wall_s": wall_s,
        "table": {"columns": columns, "rows": rows},
        "curves": [
            {
                "title": f"judge accuracy against debater strength ({n_items} questions x "
                f"{seeds} seeds)",
                "x": "best-of-n per turn",
                "y": "judge accuracy",
                "x_log": True,
                "series": series,
            }
        ],
    }


def finding(
    rows: Sequence[dict],
    best_of: Sequence[int],
    columns: Sequence[str] = (),
    reader: str | None = None,
) -> str:
    """What the table shows, in a few sentences, from its numbers: the protocols' order, the
    trend with debater strength (per split ``columns``), and the ``reader`` row's accuracy
    beside the strongest debate."""
    by = {r["condition"]: r for r in rows}
    lo, hi = min(best_of), max(best_of)

    def value(protocol: str, n: int, column: str = "accuracy") -> float:
        return by[label(protocol, n)][column]["value"]

    naive, cons, deb = value("naive", 1), value("consultancy", lo), value("debate", lo)
    order = "held" if naive < cons < deb else "did not hold"
    text = (
        f"Judge accuracy naive {naive:.0%}, consultancy {cons:.0%}, debate {deb:.0%} with "
        f"plain advisors (best-of-{lo}): the order naive < consultancy < debate {order} "
        "(Khan et al. 2024: 48 / 54 / 76% for LLM judges)."
    )
    if hi == lo:
        return text
    top_cons, top_deb = value("consultancy", hi), value("debate", hi)
    apart = (
        by[label("debate", hi)]["accuracy"]["lo"] > by[label("consultancy", hi)]["accuracy"]["hi"]
    )
    text += (
        f" From best-of-{lo} to best-of-{hi}, debate went {deb:.0%} -> {top_deb:.0%} and "
        f"consultancy {cons:.0%} -> {top_cons:.0%}: stronger debaters "
        f"{'raised' if top_deb > deb else 'did not raise'} debate's accuracy and "
        f"{'lowered' if top_cons < cons else 'did not lower'} consultancy's; at best-of-{hi} "
        f"the intervals of debate and consultancy {'are apart' if apart else 'overlap'}."
    )
    for column in columns:
        text += (
            f" On {column}: consultancy {value('consultancy', lo, column):.0%} -> "
            f"{value('consultancy', hi, column):.0%}, debate {value('debate', lo, column):.0%} -> "
            f"{value('debate', hi, column):.0%}."
        )
    if reader is not None:
        text += (
            f" Given the whole context instead, the judge is right "
            f"{by[reader]['accuracy']['value']:.0%} of the time."
        )
    return text
