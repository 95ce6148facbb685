"""A plain-language reading of results.json: what the numbers say, sentence by sentence.

Each sentence is written from the figures and only where its section exists; a comparison
says whether the intervals overlap instead of claiming more than the data shows.
"""

from __future__ import annotations

import itertools

PRESSURE = {"best_of_n": "n=", "ppo": "step ", "dpo": "beta "}
"""How each optimizer's pressure reads in a sentence."""


COMPARISONS = (
    ("Imitation", "gold", "gold utility", ("SFT", "SFT"), ("base", "the base model")),
    (
        "Reward hacking",
        "padding",
        "padding rate",
        ("PPO", "PPO against the reward model"),
        ("PPO-oracle", "PPO against gold"),
    ),
    (
        "Reward hacking",
        "sycophancy",
        "sycophancy rate",
        ("PPO", "PPO against the reward model"),
        ("PPO-oracle", "PPO against gold"),
    ),
    (
        "Constitutional AI",
        "sycophancy",
        "sycophancy rate",
        ("CAI", "the SL-CAI model"),
        ("SFT", "SFT"),
    ),
)
"""Ladder sentences: (title, metric, what it is, (stage, its name), (stage, its name))."""


def _row(results: dict, prefix: str) -> dict | None:
    for row in results.get("ladder") or []:
        if row["stage"] == prefix or row["stage"].startswith(prefix + " "):
            return row
    return None


def _metric(row: dict | None, name: str) -> dict | None:
    if row is None:
        return None
    value = (row.get("metrics") or {}).get(name)
    return value if given(value) else None


def _pct(estimate: dict) -> str:
    return f"{100 * estimate['value']:.0f}%"


def _separated(a: dict, b: dict) -> bool:
    """Whether two estimates' intervals do not overlap."""
    if None in (a.get("lo"), a.get("hi"), b.get("lo"), b.get("hi")):
        return False
    return a["lo"] > b["hi"] or b["lo"] > a["hi"]


def _compare(name: str, what: str, a_name: str, a: dict, b_name: str, b: dict) -> str:
    if a["value"] == b["value"]:
        relation = "the same"
    else:
        relation = "higher" if a["value"] > b["value"] else "lower"
    sure = "" if _separated(a, b) else " (the intervals overlap, so this may be noise)"
    return f"{name}: {a_name}'s {what} is {_pct(a)}, {relation} than {b_name}'s {_pct(b)}{sure}."


def _ladder(results: dict) -> list[str]:
    out = []
    rows = [r for r in results.get("ladder") or [] if _metric(r, "gold")]
    if rows:
        best = max(rows, key=lambda r: r["metrics"]["gold"]["value"])
        out.append(
            f"Highest gold utility: {best['stage']} ({best['metrics']['gold']['value']:.3f})."
        )
    for title, metric, what, (a_stage, a_name), (b_stage, b_name) in COMPARISONS:
        a, b = _metric(_row(results, a_stage), metric), _metric(_row(results, b_stage), metric)
        if a and b:
            out.append(_compare(title, what, a_name, a, b_name, b))
    return out


def _curves(results: dict) -> list[str]:
    out = []
    for curve in results.get("curves") or []:
        points = curve["points"]
        if len(points) < 3:
            continue
        golds = [p["gold"]["value"] for p in points]
        peak = max(range(len(points)), key=golds.__getitem__)
        proxies = [(p.get("proxy") or {}).get("value") for p in points]
        rising = None not in proxies and all(b >= a for a, b in itertools.pairwise(proxies))
        unit = PRESSURE.get(curve["optimizer"], "pressure ")
        text = f"{curve['name']}: gold peaks at {unit}{points[peak]['pressure']} "
        text += f"({golds[peak]:.3f})"
        if peak < len(points) - 1:
            text += f" and falls to {golds[-1]:.3f} at {unit}{points[-1]['pressure']}"
        else:
            text += " and is still rising at the end"
        if rising:
            text += ", while the proxy rises throughout"
        fit = curve.get("fit")
        if fit and fit.get("r2") is not None:
            text += f"; the {fit['form']} form fits with R² = {fit['r2']:.2f}"
        out.append(text + ".")
    return out


def _judges(results: dict) -> list[str]:
    models = results.get("reward_models")
    if not models:
        return []
    out = []
    ceiling = models.get("annotator_ceiling")
    for judge in models["judges"]:
        agreement = judge.get("gold_agreement")
        if agreement and agreement.get("value") is not None:
            out.append(f"{judge['name']} orders {_pct(agreement)} of held-out pairs as gold does.")
        accuracy = judge.get("annotator_accuracy")
        if accuracy and ceiling is not None:
            out.append(
                f"{judge['name']} agrees with the annotators' labels on {_pct(accuracy)} of pairs, "
                f"against the {100 * ceiling:.0f}% at which annotators agree with each other."
            )
    return out


def _forms(results: dict) -> list[str]:
    out = []
    for form in results.get("goodhart_forms") or []:
        rows = form["rows"]
        first, last = rows[0], rows[-1]
        if form["form"] == "regressional":
            out.append(
                f"Regressional: with noise σ={first['noise']:g} selection gains "
                f"{first['gold_gain']['value']:+.3f} gold; with σ={last['noise']:g} it gains "
                f"{last['gold_gain']['value']:+.3f} while the proxy overestimates its pick by "
                f"{last['overestimate']['value']:.3f}."
            )
        elif form["form"] == "extremal":
            out_drop = first["gold_out_of_range"] - last["gold_out_of_range"]
            in_drop = first["gold_in_range"] - last["gold_in_range"]
            out.append(
                f"Extremal: from n={first['n']} to n={last['n']} the short-only reward model's "
                f"picks beyond its fitted range lose {out_drop:.3f} gold, those within it "
                f"{in_drop:.3f}; gold overall goes {first['gold']['value']:.3f} → "
                f"{last['gold']['value']:.3f}."
            )
        elif form["form"] == "adversarial":
            out.append(
                f"Adversarial: from n={first['n']} to n={last['n']} the keyword detector's score "
                f"goes {first['detector']['value']:.2f} → {last['detector']['value']:.2f} and the "
                f"gold judge's harmful-compliance rate {_pct(first['harm_rate'])} → "
                f"{_pct(last['harm_rate'])}."
            )
    return out


def given(estimate) -> bool:
    """Whether ``estimate`` is an estimate with a value."""
    return bool(estimate) and estimate.get("value") is not None


def _real(section: dict | None) -> list[str]:
    """Per figure: the stages whose interval separates from the base model's, or none."""
    rows = (section or {}).get("rows") or []
    if len(rows) < 2:
        return []
    base, rest = rows[0], rows[1:]
    out = []
    for metric, header in (section.get("columns") or {}).items():
        b = (base.get("metrics") or {}).get(metric)
        if not given(b):
            continue
        moved = []
        for row in rest:
            e = (row.get("metrics") or {}).get(metric)
            if given(e) and _separated(e, b):
                moved.append(f"{row['stage']} {100 * e['value']:.0f}%")
        what = header.rstrip(" ↑↓")
        lead = f"{section.get('model', 'the real model')}, {what}: base {100 * b['value']:.0f}%"
        lead += f" [{100 * b['lo']:.0f}, {100 * b['hi']:.0f}] (n={b.get('n')})"
        if moved:
            out.append(f"{lead}; moved beyond the intervals by: {', '.join(moved)}.")
        else:
            out.append(f"{lead}; no stage moved it beyond the 95% intervals.")
    return out + _fewer_answers(base, rest) + [str(n) for n in section.get("notes") or []]


def _fewer_answers(base: dict, rows: list[dict]) -> list[str]:
    """A stage whose harmful help fell while its off-topic replies rose, both beyond the
    intervals, answers less, which is not refusing more: say so, with its refusal rate."""
    out = []
    metrics = base.get("metrics") or {}
    harm, off = metrics.get("harmful_compliance"), metrics.get("off_topic")
    if not (given(harm) and given(off)):
        return out
    for row in rows:
        m = row.get("metrics") or {}
        h, o, refused = m.get("harmful_compliance"), m.get("off_topic"), m.get("refusal")
        if not (given(h) and given(o)) or h["value"] >= harm["value"] or o["value"] <= off["value"]:
            continue
        if _separated(h, harm) and _separated(o, off):
            said = f", and it refused {_pct(refused)} of harmful requests" if given(refused) else ""
            out.append(
                f"{row['stage']}: harmful help fell to {_pct(h)} as off-topic replies rose to "
                f"{_pct(o)}{said}: it answers less, which is not the same as refusing."
            )
    return out


def reading(results: dict) -> list[str]:
    """Sentences describing the results, section by section."""
    sentences = _ladder(results) + _curves(results) + _judges(results) + _forms(results)
    return sentences + _real(results.get("real_ladder"))
