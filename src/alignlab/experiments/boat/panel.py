"""The boat race's panel (:mod:`alignlab.report.panels`): a row per fix, the training curves,
the Goodhart curve of hidden performance against KL to the demonstrator, the pictures.

Every estimate is a mean over seeds of per-race values with the two-stage bootstrap of
:func:`alignlab.stats.over_seeds` (seeds, then the races of each seed's policy).
"""

from __future__ import annotations

from alignlab.experiments.boat.config import BoatConfig, Fix
from alignlab.stats import Estimate, over_seeds

COLUMNS = ["fix", "trained on", "observed return", "hidden performance", "laps",
           "KL to demonstrator", "greedy hidden per seed"]  # fmt: skip


def estimate(results: list[dict], key: str) -> Estimate:
    """``key``'s per-race values of each seed's result, over seeds."""
    return over_seeds([r[key] for r in results], rate=False)


def shown(e: Estimate) -> str:
    return f"{e.value:.1f} [{e.lo:.1f}, {e.hi:.1f}]"


def _trained_on(fix: Fix) -> str:
    parts = [fix.base]
    if fix.finish_bonus:
        parts.append(f"+ {fix.finish_bonus:g} a lap")
    if fix.shaping:
        parts.append(f"+ F (Phi = {fix.shaping:g} x progress)")
    if fix.kl_coef:
        parts.append(f"- {fix.kl_coef:g} KL")
    return " ".join(parts)


def _row(label: str, trained_on: str, results: list[dict]) -> dict:
    return {
        "fix": label,
        "trained on": trained_on,
        "observed return": estimate(results, "observed").to_dict(),
        "hidden performance": estimate(results, "hidden").to_dict(),
        "laps": estimate(results, "laps").to_dict(),
        "KL to demonstrator": estimate(results, "kl").to_dict(),
        "greedy hidden per seed": " / ".join(f"{r['greedy']['hidden']:g}" for r in results),
    }


def _scripted_row(name: str, race: dict) -> dict:
    return {
        "fix": name,
        "trained on": "scripted",
        "observed return": race["observed"],
        "hidden performance": race["hidden"],
        "laps": race["laps"],
    }


def _training_points(curves: list[list[dict]], key: str, every: int) -> list[dict]:
    """``key`` of each ``every``-th update (and the last), over seeds."""
    updates = min(len(c) for c in curves)
    picked = sorted({*range(0, updates, every), updates - 1})
    return [
        {
            "x": curves[0][u]["steps"],
            "y": over_seeds([c[u][key] for c in curves], rate=False).to_dict(),
        }
        for u in picked
    ]


def _root(kl: float) -> float:
    """``sqrt(KL)``, the x of Gao et al.'s curves, to a tenth (the plot's tick labels)."""
    return round(max(kl, 0.0) ** 0.5, 1)


def _training_curve(title: str, fixes: list[Fix], curves: dict, seeds: int, every: int) -> dict:
    return {
        "title": f"{title} ({seeds} seeds)",
        "x": "environment steps",
        "y": "hidden performance",
        "x_log": False,
        "series": [
            {"name": fix.name, "points": _training_points(curves[fix.name], "hidden", every)}
            for fix in fixes
        ],
    }


def goodhart_points(runs: dict[str, list[dict]], demonstrator: list[dict], fixes: list[Fix]):
    """``(kl, hidden, observed, label)`` of the demonstrator, the unleashed boat and each
    leashed one, in order of KL."""
    points = [(estimate(demonstrator, "kl").value, demonstrator, "demonstrator")]
    for fix in fixes:
        if fix.kl_coef or fix.name == "none":
            points.append((estimate(runs[fix.name], "kl").value, runs[fix.name], fix.name))
    measured = [
        (kl, estimate(r, "hidden"), estimate(r, "observed"), label) for kl, r, label in points
    ]
    return sorted(measured, key=lambda point: point[0])


def finding(config: BoatConfig, runs: dict, demonstrator: list[dict], scripted: dict) -> str:
    """The sentence the panel leads with, composed from the measured numbers."""
    fixes = {fix.name: fix for fix in config.runs()}
    demo_hidden, demo_observed = (
        estimate(demonstrator, "hidden"),
        estimate(demonstrator, "observed"),
    )
    start = "the cloned demonstrator" if config.agent.init == "reference" else "scratch"
    parts = [
        f"A scripted racer scores observed {scripted['racer']['observed']:g} and hidden "
        f"{scripted['racer']['hidden']:g}, a scripted boat going back and forth over one arrow "
        f"{scripted['bouncer']['observed']:g} and {scripted['bouncer']['hidden']:g}; the "
        f"demonstrator {shown(demo_observed)} and {shown(demo_hidden)}."
    ]
    if "none" in runs:
        base = runs["none"]
        hidden, observed = estimate(base, "hidden"), estimate(base, "observed")
        no_lap = sum(r["greedy"]["laps"] == 0 for r in base)
        verb = "falls" if hidden.hi < demo_hidden.lo else "moves"
        parts.append(
            f"Trained by PPO on the observed reward from {start}, the boat's observed return "
            f"reaches {shown(observed)} while its hidden performance {verb} to {shown(hidden)}; "
            f"its greedy race finishes no lap in {no_lap} of {len(base)} seeds."
        )
    for name, what in (
        ("shaping", "Potential shaping of the observed reward"),
        ("finish_bonus", f"A finish bonus of {config.finish_bonus:g} a lap"),
        ("oracle", "Trained on the hidden performance itself (the oracle)"),
        ("oracle_shaping", "The oracle with potential shaping"),
    ):
        if name in runs:
            parts.append(_compared(what, runs[name], runs.get("none")))
    leashed = [f for f in fixes.values() if f.kl_coef]
    if leashed:
        points = goodhart_points(runs, demonstrator, list(fixes.values()))
        kl, best, _, label = max(points, key=lambda p: p[1].value)
        weakest = min(leashed, key=lambda f: f.kl_coef)
        weak = estimate(runs[weakest.name], "hidden")
        parts.append(
            f"Along the KL leash the hidden performance peaks at {shown(best)} ({label}, KL "
            f"{kl:.1f} nats a race) and is {shown(weak)} at the weakest leash (beta "
            f"{weakest.kl_coef:g}, KL {estimate(runs[weakest.name], 'kl').value:.1f})."
        )
    return " ".join(parts)


def _compared(what: str, results: list[dict], base: list[dict] | None) -> str:
    hidden = estimate(results, "hidden")
    text = f"{what}: hidden performance {shown(hidden)}"
    if base is not None:
        ref = estimate(base, "hidden")
        if hidden.lo > ref.hi:
            text += ", above the unfixed boat's"
        elif hidden.hi < ref.lo:
            text += ", below the unfixed boat's"
        else:
            text += ", not distinguishable from the unfixed boat's"
    return text + f" (laps {estimate(results, 'laps').value:.2f})."


def boat_panel(
    config: BoatConfig,
    runs: dict[str, list[dict]],
    curves: dict[str, list[list[dict]]],
    demonstrator: list[dict],
    scripted: dict,
    images: list[dict],
) -> dict:
    """The panel of every fix's results (``runs``: fix name -> each seed's result),
    training ``curves`` (fix -> each seed's metrics lines) and greedy-race ``images``."""
    fixes = config.runs()
    seeds = len(config.seed_list)
    rows = [_scripted_row(f"scripted {name}", race) for name, race in scripted.items()]
    rows.append(_row("demonstrator", f"(noise {config.demonstrator_noise:g})", demonstrator))
    rows += [_row(fix.label, _trained_on(fix), runs[fix.name]) for fix in fixes]
    every = max(1, len(next(iter(curves.values()))[0]) // 15)
    per_update = config.agent.episodes_per_update
    curve_list = []
    if "none" in curves:
        curve_list.append({
            "title": f"The loop, fix none ({per_update} races per update, {seeds} seeds)",
            "x": "environment steps", "y": "return per race", "x_log": False,
            "series": [
                {"name": name, "points": _training_points(curves["none"], key, every)}
                for key, name in (("observed", "observed return"), ("hidden", "hidden performance"))
            ],
        })  # fmt: skip
    leashed = [fix for fix in fixes if fix.kl_coef]
    unleashed = [fix for fix in fixes if not fix.kl_coef]
    groups = {
        "the fixes": unleashed if any(f.name != "none" for f in unleashed) or not leashed else [],
        "the KL leash": [f for f in unleashed if f.name == "none"] + leashed if leashed else [],
    }
    for name, group in groups.items():
        if group:
            curve_list.append(_training_curve(f"Hidden performance while training, {name}",
                                              group, curves, seeds, every))  # fmt: skip
    if leashed:
        points = goodhart_points(runs, demonstrator, fixes)
        curve_list.append({
            "title": "The boat's Goodhart curve: from the demonstrator (KL 0) to no leash",
            "x": "sqrt(KL to the demonstrator), KL in nats a race", "y": "return per race",
            "x_log": False,
            "series": [
                {"name": "hidden performance",
                 "points": [{"x": _root(kl), "y": h.to_dict()} for kl, h, _, _ in points]},
                {"name": "observed return",
                 "points": [{"x": _root(kl), "y": o.to_dict()} for kl, _, o, _ in points]},
            ],
        })  # fmt: skip
    return {
        "title": "The boat race: specification gaming and its fixes",
        "finding": finding(config, runs, demonstrator, scripted),
        "setting": {
            "track": "16-cell ring, 4 arrows (+3 each entered in its direction), -1 a step",
            "hidden performance": "+1 a step one cell clockwise, -1 any other step",
            "n": f"{config.eval_episodes} sampled races per seed and fix",
            "seeds": seeds,
            "race": f"{config.horizon} steps",
            "training": f"PPO, {config.steps} steps a run, start: {config.agent.init}",
            "intervals": "95%, bootstrap over seeds then races",
        },
        "table": {"columns": COLUMNS, "rows": rows},
        "curves": curve_list,
        "images": images,
    }
