"""The report's figures, drawn with matplotlib and embedded as base64 PNG."""

from __future__ import annotations

import base64
import io
import textwrap

import numpy as np

COLORS = ["#1f77b4", "#2ca02c", "#d62728", "#9467bd", "#ff7f0e", "#8c564b", "#17becf"]


def _figure(ncols: int = 1, width: float = 5.2, height: float = 3.6):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, ncols, figsize=(width * ncols, height), squeeze=False)
    return plt, fig, axes[0]


def _png(plt, fig) -> str:
    buffer = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buffer, format="png", dpi=110)
    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _value(estimate) -> float:
    if estimate is None or estimate.get("value") is None:
        return float("nan")
    return float(estimate["value"])


def _errors(estimates) -> np.ndarray:
    """Asymmetric error bars ``[2, N]`` from estimates (0 where an interval is missing)."""
    lo, hi = [], []
    for e in estimates:
        v = _value(e)
        lo.append(v - e["lo"] if e and e.get("lo") is not None else 0.0)
        hi.append(e["hi"] - v if e and e.get("hi") is not None else 0.0)
    return np.array([lo, hi])


def _r2(fit: dict) -> str:
    return "–" if fit.get("r2") is None else f"{fit['r2']:.2f}"


def goodhart_plot(curves: list[dict]) -> str | None:
    """Gold (with fitted curves) and proxy against sqrt(KL), one line per curve."""
    curves = [c for c in curves if c.get("points")]
    if not curves:
        return None
    plt, fig, (gold_ax, proxy_ax) = _figure(2)
    for color, curve in zip(COLORS, curves, strict=False):
        d = np.array([p["sqrt_kl"] for p in curve["points"]])
        gold = [p["gold"] for p in curve["points"]]
        gold_ax.errorbar(
            d,
            [_value(g) for g in gold],
            yerr=_errors(gold),
            fmt="o",
            color=color,
            label=curve["name"],
            capsize=2,
            markersize=4,
        )
        fit = curve.get("fit")
        if fit and fit.get("alpha") is not None and len(d) > 1:
            grid = np.linspace(0, d.max(), 100)
            x = np.log(np.where(grid > 0, grid, 1.0))
            shape = grid * (
                fit["alpha"] - fit["beta"] * (grid if fit["form"] == "best_of_n" else x)
            )
            gold_ax.plot(
                grid,
                fit["offset"] + shape,
                "-",
                color=color,
                alpha=0.7,
                label=f"fit ({fit['form']}, R²={_r2(fit)})",
            )
        else:
            gold_ax.plot(d, [_value(g) for g in gold], "-", color=color, alpha=0.4)
        proxy = [p.get("proxy") for p in curve["points"]]
        if curve["name"] != "PPO-oracle" and all(p and p.get("value") is not None for p in proxy):
            proxy_ax.plot(
                d, [_value(p) for p in proxy], "o-", color=color, label=curve["name"], markersize=4
            )
    gold_ax.set(
        xlabel="√KL to the starting policy",
        ylabel="gold utility",
        title="gold: rises, then falls under a proxy",
    )
    proxy_ax.set(
        xlabel="√KL to the starting policy",
        ylabel="proxy reward (reward model)",
        title="proxy: keeps rising",
    )
    gold_ax.legend(fontsize=7)
    proxy_ax.legend(fontsize=7)
    return _png(plt, fig)


def ladder_plot(rows: list[dict]) -> str | None:
    """Gold utility of each stage, and its sycophancy and padding rates."""
    rows = [r for r in rows if (r.get("metrics") or {}).get("gold")]
    if not rows:
        return None
    plt, fig, (ax,) = _figure(1, width=7.5)
    x = np.arange(len(rows))
    names = ["gold", "sycophancy", "padding", "harmful_compliance"]
    width = 0.8 / len(names)
    for k, (name, color) in enumerate(zip(names, COLORS, strict=False)):
        estimates = [r["metrics"].get(name) for r in rows]
        values = [_value(e) for e in estimates]
        ax.bar(
            x + (k - 1.5) * width,
            values,
            width,
            yerr=_errors([e or {} for e in estimates]),
            color=color,
            label=name.replace("_", " "),
            capsize=2,
        )
    ax.set_xticks(x, [r["stage"] for r in rows], rotation=20, fontsize=8)
    ax.set(ylim=(0, 1.05), ylabel="share / utility", title="each stage on held-out prompts")
    ax.legend(fontsize=7, ncols=4)
    return _png(plt, fig)


def real_ladder_plot(section: dict) -> str | None:
    """Each stage of the real-model ladder: every figure a bar with its 95% interval."""
    rows = section.get("rows") or []
    columns = [
        c
        for c in section.get("columns") or {}
        if any((r.get("metrics") or {}).get(c) for r in rows)
    ]
    if not rows or not columns:
        return None
    plt, fig, (ax,) = _figure(1, width=8.5)
    x = np.arange(len(rows))
    width = 0.85 / len(columns)
    for k, name in enumerate(columns):
        estimates = [(r.get("metrics") or {}).get(name) for r in rows]
        ax.bar(
            x + (k - (len(columns) - 1) / 2) * width,
            [_value(e) for e in estimates],
            width,
            yerr=_errors([e or {} for e in estimates]),
            color=COLORS[k % len(COLORS)],
            label=section["columns"][name],
            capsize=2,
        )
    ax.set_xticks(x, [r["stage"] for r in rows], rotation=15, fontsize=8)
    ax.set(ylim=(0, 1.05), ylabel="share of held-out samples", title=str(section.get("model", "")))
    ax.legend(fontsize=6, ncols=3)
    return _png(plt, fig)


def judges_plot(models: dict) -> str | None:
    """Agreement with gold of each judge of pairs, beside the annotators' own agreement."""
    judges = models.get("judges") or []
    if not judges:
        return None
    plt, fig, (ax,) = _figure(1, width=6.5)
    y = np.arange(len(judges))
    estimates = [j.get("gold_agreement") or {} for j in judges]
    ax.barh(
        y,
        [_value(e) for e in estimates],
        xerr=_errors(estimates),
        color=COLORS[0],
        capsize=3,
        label="agrees with gold",
    )
    accuracy = [j.get("annotator_accuracy") for j in judges]
    if any(accuracy):
        ax.plot(
            [_value(a) for a in accuracy],
            y,
            "D",
            color=COLORS[2],
            label="agrees with annotators' labels",
        )
    if models.get("annotator_ceiling") is not None:
        ax.axvline(
            models["annotator_ceiling"],
            color="gray",
            ls="--",
            label="annotators agree with each other",
        )
    ax.set_yticks(y, [j["name"] for j in judges], fontsize=8)
    values = [_value(e) for e in estimates if e] + [_value(a) for a in accuracy if a]
    low = min([0.4, *(v - 0.05 for v in values if np.isfinite(v))])
    ax.set(
        xlim=(max(low, 0.0), 1.0),
        xlabel="share of held-out pairs",
        title="who orders pairs like gold",
    )
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.18), ncols=2)
    return _png(plt, fig)


def forms_plot(forms: list[dict]) -> str | None:
    """One panel per form of Goodhart's law."""
    if not forms:
        return None
    plt, fig, axes = _figure(len(forms), width=4.2)
    for ax, form in zip(axes, forms, strict=True):
        rows = form["rows"]
        if form["form"] == "regressional":
            x = [r["noise"] for r in rows]
            ax.plot(x, [_value(r["gold_gain"]) for r in rows], "o-", label="gold gained")
            ax.set(xlabel="noise σ", ylabel="gold gained by selection")
            twin = ax.twinx()
            twin.plot(
                x,
                [_value(r["overestimate"]) for r in rows],
                "s-",
                color=COLORS[4],
                label="proxy overestimate (right)",
            )
            twin.set_ylabel("proxy minus gold of the pick")
            twin.legend(fontsize=7, loc="center right")
        elif form["form"] == "extremal":
            x = [r["n"] for r in rows]
            ax.plot(x, [r["gold_in_range"] for r in rows], "o-", label="gold, picks in range")
            ax.plot(x, [r["gold_out_of_range"] for r in rows], "o-", label="gold, picks beyond it")
            ax.plot(x, [_value(r["ood_fraction"]) for r in rows], "s:", label="share beyond it")
            ax.set(xscale="log", xlabel="n")
        else:
            x = [r["n"] for r in rows]
            ax.plot(x, [_value(r["detector"]) for r in rows], "o-", label="detector score")
            ax.plot(x, [_value(r["harm_rate"]) for r in rows], "s-", label="harmful (gold)")
            ax.set(xscale="log", xlabel="n")
        ax.set_title(form["form"])
        ax.legend(fontsize=7)
    return _png(plt, fig)


def panel_plot(curves: list[dict]) -> str | None:
    """A panel's curves side by side: each series' estimates against x, with their 95%
    intervals as error bars; the legend sits below each plot, clear of the data."""
    curves = [c for c in curves if any(s.get("points") for s in c.get("series", []))]
    if not curves:
        return None
    plt, fig, axes = _figure(len(curves), width=4.6, height=3.9)
    for ax, curve in zip(axes, curves, strict=True):
        for color, series in zip(COLORS, curve["series"], strict=False):
            points = sorted(series.get("points", []), key=lambda p: p["x"])
            if not points:
                continue
            ys = [p["y"] for p in points]
            ax.errorbar(
                [p["x"] for p in points],
                [_value(y) for y in ys],
                yerr=_errors(ys),
                fmt="o-",
                color=color,
                label=series.get("name", ""),
                capsize=2,
                markersize=4,
            )
        xs = sorted({p["x"] for s in curve["series"] for p in s.get("points", [])})
        if curve.get("x_log"):
            ax.set_xscale("log", base=2)
        if len(xs) <= 10:
            ax.set_xticks(xs, [f"{x:g}" for x in xs])
        ax.set(xlabel=curve.get("x", ""), ylabel=curve.get("y", ""))
        ax.set_title(textwrap.fill(curve.get("title", ""), 48), fontsize=8)
        ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=2)
    return _png(plt, fig)


def values_plot(profiles: list[tuple[str, dict]], order: tuple[str, ...]) -> str | None:
    """Each run's centred value scores around Schwartz's circle (``order``), one closed line
    per run with its 95% intervals as a band; the dashed circle is 0, the mean rating."""
    profiles = [(n, p) for n, p in profiles if any(np.isfinite(_value(p.get(v))) for v in order)]
    if not profiles:
        return None
    plt, fig, _ = _figure(1, width=5.6, height=5.2)
    fig.clf()
    ax = fig.add_subplot(projection="polar")
    angles = np.linspace(0, 2 * np.pi, len(order), endpoint=False)
    closed = np.r_[angles, angles[:1]]
    values = [_value(p.get(v)) for _, p in profiles for v in order]
    bounds = [p[v][k] for _, p in profiles for v in order if p.get(v) for k in ("lo", "hi")]
    finite = [x for x in values + [b for b in bounds if b is not None] if np.isfinite(x)]
    low, high = min([*finite, 0.0]), max([*finite, 0.0])
    pad = 0.1 * (high - low or 1.0)
    for color, (name, profile) in zip(COLORS, profiles, strict=False):
        scores = np.array([_value(profile.get(v)) for v in order])
        ax.plot(closed, np.r_[scores, scores[:1]], "o-", color=color, label=name, markersize=3)
        lo = [(profile.get(v) or {}).get("lo") for v in order]
        hi = [(profile.get(v) or {}).get("hi") for v in order]
        if all(x is not None for x in lo + hi):
            ax.fill_between(closed, np.r_[lo, lo[:1]], np.r_[hi, hi[:1]], color=color, alpha=0.15)
    ax.plot(np.linspace(0, 2 * np.pi, 200), np.zeros(200), "--", color="gray", linewidth=0.8)
    ax.set_xticks(angles, list(order), fontsize=8)
    ax.tick_params(axis="y", labelsize=6)
    ax.set_ylim(low - pad, high + pad)
    ax.set_title("centred value scores on Schwartz's circle", fontsize=9)
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.08), ncols=2)
    return _png(plt, fig)
