"""The token-distribution shift's panel (the schema of :mod:`alignlab.report.panels`): per
stage and per prompt family, the shares of answer positions unshifted, marginal and
shifted, how many shifted tokens are stylistic, and the tokens shifted most; its finding
is composed from those numbers, and says where they agree with URIAL and where not."""

from __future__ import annotations

from collections.abc import Sequence

from alignlab.interp.shift import (
    BANDS,
    AnswerShift,
    by_family,
    shift_shares,
    stylistic_share,
    top_shifted,
)
from alignlab.stats import Estimate

BAND_LABELS = {
    "unshifted": "unshifted (rank 1)",
    "marginal": "marginal (rank 2-3)",
    "shifted": "shifted (rank > 3)",
}
COLUMNS = [
    "stage",
    "family",
    "answers",
    *BAND_LABELS.values(),
    "shifted, positions independent",
    "stylistic share of shifted",
    "stylistic share of marginal",
    "stylistic share of unshifted",
    "top shifted tokens",
    "top marginal tokens",
]


def _tokens(top: list[dict]) -> str:
    """``'However' x12 (base: 'The')``, ... as one string."""
    return ", ".join(f"{t['token']!r} x{t['count']} (base: {t['base_top']!r})" for t in top)


def _est(e: Estimate) -> dict | None:
    """An estimate for results.json; ``None`` (a dash) where it had no positions, since
    JSON has no NaN."""
    return e.to_dict() if e.n else None


def _row(stage: str, family: str, answers: Sequence[AnswerShift], top_k: int) -> dict:
    shares = shift_shares(answers)
    return {
        "stage": stage,
        "family": family,
        "answers": len(answers),
        **{BAND_LABELS[b]: _est(shares[b]) for b in BANDS},
        "shifted, positions independent": _est(shift_shares(answers, "positions")["shifted"]),
        **{f"stylistic share of {band}": _est(stylistic_share(answers, band)) for band in BANDS},
        "top shifted tokens": _tokens(top_shifted(answers, top_k)),
        "top marginal tokens": _tokens(top_shifted(answers, top_k, "marginal")),
    }


def _pct(e: Estimate) -> str:
    return f"{e.value:.1%} [{e.lo:.1%}, {e.hi:.1%}]"


def _unshifted_verdict(unshifted: dict[str, Estimate]) -> str:
    above = [s for s, e in unshifted.items() if e.lo > 0.5]
    below = [s for s, e in unshifted.items() if e.hi < 0.5]
    if len(above) == len(unshifted):
        return "most positions are unshifted at every stage, as URIAL found"
    parts = []
    if above:
        parts.append(f"most are unshifted at {', '.join(above)}")
    if below:
        parts.append(f"fewer than half at {', '.join(below)}, unlike URIAL")
    rest = [s for s in unshifted if s not in above and s not in below]
    if rest:
        parts.append(f"half cannot be told apart at {', '.join(rest)}")
    return "; ".join(parts)


def _style_verdict(moved: dict[str, Estimate], plain: dict[str, Estimate]) -> str:
    """Per stage, whether the moved positions' tokens are more stylistic than the unshifted
    ones' (the two intervals apart: a conservative test)."""
    more = [s for s in moved if moved[s].lo > plain[s].hi]
    less = [s for s in moved if moved[s].hi < plain[s].lo]
    rest = [s for s in moved if s not in more and s not in less]
    parts = []
    if more:
        parts.append(f"more stylistic at {', '.join(more)} (URIAL's finding for shifted tokens)")
    if less:
        parts.append(f"less stylistic at {', '.join(less)} (unlike URIAL's shifted tokens)")
    if rest:
        parts.append(f"not measurably different at {', '.join(rest)}")
    return "; ".join(parts)


def _style(results: dict[str, list[AnswerShift]], band: str) -> str:
    """A sentence comparing the stylistic share of ``band``'s tokens with the unshifted's."""
    moved = {s: stylistic_share(a, band) for s, a in results.items()}
    plain = {s: stylistic_share(a, "unshifted") for s, a in results.items()}
    defined = [s for s in moved if moved[s].n and plain[s].n]
    if not defined:
        return f" No stage has {band} and unshifted positions to compare."
    styles = "; ".join(f"{s}: {_pct(moved[s])} vs {_pct(plain[s])}" for s in defined)
    verdict = _style_verdict({s: moved[s] for s in defined}, {s: plain[s] for s in defined})
    return (
        f" Stylistic tokens among {band} vs unshifted positions ({styles}): against the "
        f"unshifted ones, the {band} tokens are {verdict}."
    )


def finding(results: dict[str, list[AnswerShift]]) -> str:
    """The panel's first sentences, from the measured shares."""
    shares = {stage: shift_shares(answers) for stage, answers in results.items()}
    n = max(len(a) for a in results.values())
    per_stage = "; ".join(
        f"{s}: {_pct(sh['unshifted'])} unshifted, {_pct(sh['marginal'])} marginal, "
        f"{_pct(sh['shifted'])} shifted"
        for s, sh in shares.items()
    )
    verdict = _unshifted_verdict({s: sh["unshifted"] for s, sh in shares.items()})
    text = (
        f"On {n} prompts, the base model ranks the aligned model's own greedy token at each "
        f"answer position ({per_stage}): {verdict}."
    )
    any_shifted = any(sh["shifted"].value > 0 for sh in shares.values())
    if any_shifted:
        text += _style(results, "shifted")
    else:
        text += " No position is shifted at any stage: what alignment changed sits at ranks 2-3."
        text += _style(results, "marginal")
    band = "shifted" if any_shifted else "marginal"
    families = {
        family: shift_shares(answers)[band]
        for family, answers in by_family([a for r in results.values() for a in r]).items()
    }
    if len(families) > 1:
        top = max(families, key=lambda f: families[f].value)
        text += f" The most {band} family over all stages is {top} ({_pct(families[top])})."
    return text


def _curve(title: str, y: str, series: dict[str, list[Estimate]]) -> dict:
    return {
        "title": title,
        "x": "stage",
        "y": y,
        "x_log": False,
        "series": [
            {
                "name": name,
                "points": [{"x": i + 1, "y": e.to_dict()} for i, e in enumerate(pts) if e.n],
            }
            for name, pts in series.items()
        ],
    }


def shift_panel(config, results: dict[str, list[AnswerShift]], classifier, self_top) -> dict:
    """The panel of every stage's answers (``config``: a
    :class:`~alignlab.experiments.interp.shift.ShiftConfig`)."""
    rows = []
    for stage, answers in results.items():
        rows.append(_row(stage, "all", answers, config.top_k))
        rows += [_row(stage, f, a, config.top_k) for f, a in by_family(answers).items()]
    stages = list(results)
    order = ", ".join(f"{i + 1} = {s}" for i, s in enumerate(stages))
    shares = {s: shift_shares(a) for s, a in results.items()}
    families = list(by_family(next(iter(results.values()))))
    shifted_by_family = {
        f: [shift_shares(by_family(results[s]).get(f, []))["shifted"] for s in stages]
        for f in families
    }
    return {
        "title": "Token-distribution shift of alignment (URIAL)",
        "finding": finding(results),
        "setting": {
            "base model": config.base_model,
            "aligned models": ", ".join(f"{s}: {p}" for s, p in config.aligned.items()),
            "prompts": ", ".join(config.prompts),
            "n": f"{max(len(a) for a in results.values())} prompts "
            f"({config.n_prompts or 'all'} per file, seed {config.seed}), greedy answers of "
            f"at most {config.max_new_tokens} tokens; positions per stage: "
            + ", ".join(f"{s} {sum(len(x.ranks) for x in a)}" for s, a in results.items()),
            "ranks": f"ties {config.ties}; bands rank 1 / 2-3 / > 3; end of turn "
            + ("counted" if config.count_end else "not counted"),
            "stylistic tokens": f"classifier {classifier}",
            "aligned model's own top-1 share (pipeline check)": ", ".join(
                f"{s} {v:.3f}" for s, v in self_top.items()
            ),
            "intervals": "95%, pooled share of positions; percentile bootstrap over answers "
            "widened to cover the count's Clopper-Pearson interval; 'positions independent': "
            "that Clopper-Pearson interval alone, for comparison",
            "stages on the curves' x axis": order,
        },
        "table": {"columns": COLUMNS, "rows": rows},
        "curves": [
            _curve(
                f"Shares of answer positions per stage ({order})",
                "share of positions",
                {BAND_LABELS[b]: [shares[s][b] for s in stages] for b in BANDS},
            ),
            _curve(
                f"Shifted share per prompt family ({order})",
                "share of positions shifted (rank > 3)",
                shifted_by_family,
            ),
            _curve(
                f"Stylistic tokens among each band's positions ({order})",
                "share stylistic",
                {b: [stylistic_share(results[s], b) for s in stages] for b in BANDS},
            ),
        ],
    }
