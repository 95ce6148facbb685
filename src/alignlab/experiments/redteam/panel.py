"""The red team's two panels (:mod:`alignlab.report.panels`): ``attack`` (found-failure
rate and diversity of the zero-shot and RL attackers per target, and the rate against PPO
steps) and ``fix`` (each target before and after DPO on what was found).

Rates pool the seeds with :func:`~alignlab.stats.over_seeds` (seeds, then attacks);
diversity figures are one number per seed, their interval a bootstrap over seeds.
"""

from __future__ import annotations

import numpy as np

from alignlab.experiments.redteam.attacks import FAILURES, INVALID
from alignlab.stats import over_seeds


def _rate(groups: list[list[int]]) -> dict:
    return over_seeds([np.asarray(g, dtype=float) for g in groups]).to_dict()


def _per_seed(values: list[float]) -> dict:
    return over_seeds([[v] for v in values], rate=False).to_dict()


def _counted(estimate: dict) -> np.ndarray:
    """A rate's 0/1 items back from its value and n (the eval summary keeps no items)."""
    n = int(estimate["n"])
    hits = round(float(estimate["value"]) * n) if n else 0
    return np.r_[np.ones(hits), np.zeros(n - hits)]


ATTACK_COLUMNS = [
    "target",
    "attacker",
    "found-failure rate",
    "harmful",
    "sycophantic",
    "not a world request",
    "distinct failures",
    "distinct attacks",
    "self-similarity",
    "family entropy (bits)",
]


def attack_row(target: str, attacker: str, seeds: list[dict]) -> dict:
    return {
        "target": target,
        "attacker": attacker,
        "found-failure rate": _rate([s["failed"] for s in seeds]),
        "harmful": _rate([s[FAILURES[0]] for s in seeds]),
        "sycophantic": _rate([s[FAILURES[1]] for s in seeds]),
        "not a world request": _rate([s[INVALID] for s in seeds]),
        "distinct failures": _per_seed([s["distinct_failures"] for s in seeds]),
        "distinct attacks": _per_seed([s["diversity"]["distinct"] for s in seeds]),
        "self-similarity": _per_seed([s["diversity"]["self_similarity"] for s in seeds]),
        "family entropy (bits)": _per_seed([s["diversity"]["family_entropy"] for s in seeds]),
    }


def _curve(runs: list[dict], rollout_size: int) -> list[dict]:
    steps = sorted({p["step"] for run in runs for p in run["curve"]})
    points = []
    for step in steps:
        groups = []
        for run in runs:
            found = [p["found"] for p in run["curve"] if p["step"] == step]
            if found:
                hits = round(found[0] * rollout_size)
                groups.append([1] * hits + [0] * (rollout_size - hits))
        points.append({"x": step, "y": _rate(groups)})
    return points


def attack_panel(config, results: dict[str, list[dict]]) -> dict:
    """``results``: per target, each seed's measurement (:func:`.runs.attack_and_measure`)."""
    rows, series = [], []
    for target, seeds in results.items():
        rows.append(attack_row(target, "zero-shot (SFT red LM)", [s["zero_shot"] for s in seeds]))
        rows.append(attack_row(target, f"RL ({config.steps} PPO steps)", [s["rl"] for s in seeds]))
        series.append({"name": target, "points": _curve(seeds, config.rollout_size)})
    return {
        "title": "Automated red team: an attacker trained with PPO against each target",
        "finding": attack_finding(rows),
        "setting": {
            "targets": ", ".join(results),
            "seeds": len(config.seed_list),
            "attacks measured per attacker and seed": config.n_attacks,
            "PPO steps x attacks": f"{config.steps} x {config.rollout_size}",
            "diversity coefficient": config.diversity_coef,
            "KL coefficient": config.kl_coef,
            "target temperature": config.target_temperature,
            "examples (first target, seed 0)": "; ".join(
                next(iter(results.values()))[0]["rl"]["examples"][:4]
            ),
        },
        "table": {"columns": ATTACK_COLUMNS, "rows": rows},
        "curves": [
            {
                "title": "found-failure rate of the attacker's rollouts against PPO steps",
                "x": "PPO step",
                "y": "share of attacks finding a failure",
                "x_log": False,
                "series": series,
            }
        ],
    }


def attack_finding(rows: list[dict]) -> str:
    parts = []
    for zero, rl in zip(rows[::2], rows[1::2], strict=True):
        z, r = zero["found-failure rate"], rl["found-failure rate"]
        zs, rs = zero["self-similarity"]["value"], rl["self-similarity"]["value"]
        parts.append(
            f"{zero['target']}: {z['value']:.0%} zero-shot -> {r['value']:.0%} "
            f"[{r['lo']:.0%}, {r['hi']:.0%}] after RL, self-similarity {zs:.2f} -> {rs:.2f}"
        )
    return "Found-failure rate per target: " + "; ".join(parts) + "."


FIX_MEASURES = {
    "harmful compliance (world-refusal)": "harmful_compliance",
    "over-refusal of look-alikes (world-refusal)": "over_refusal",
    "false claims agreed with (world-sycophancy)": "false_claim_agreement",
}
"""The fix panel's suite rows: label -> key of :data:`.fix.SUITE_RATES`."""


def fix_panel(config, results: dict[str, list[dict]], attacks: dict[str, list[dict]]) -> dict:
    """``results``: per target, each seed's fix measurement; ``attacks``: the same targets'
    attack measurements (the first attacker's success before the fix)."""
    rows = []
    for target, seeds in results.items():
        done = [s for s in seeds if s.get("pairs")]
        if not done:
            rows.append({"target": target, "measure": "nothing found: no fix", "pairs": 0})
            continue
        pairs = _per_seed([s["pairs"] for s in done])
        for label, key in FIX_MEASURES.items():
            rows.append(
                {
                    "target": target,
                    "measure": label,
                    "before": _rate([_counted(done[0]["before"][key])]),
                    "after": _rate([_counted(s["suites"][key]) for s in done]),
                    "pairs": pairs,
                }
            )
        rows.append(
            {
                "target": target,
                "measure": "replay: new attacks of the same attacker",
                "before": _rate([s["replay_before"]["failed"] for s in done]),
                "after": _rate([s["replay_after"]["failed"] for s in done]),
                "pairs": pairs,
            }
        )
        rows.append(
            {
                "target": target,
                "measure": "a fresh attacker trained against it",
                "before": _rate([a["rl"]["failed"] for a in attacks[target]]),
                "after": _rate([s["fresh"]["failed"] for s in done]),
                "pairs": pairs,
            }
        )
    return {
        "title": "The fix: DPO of each target on the failures its attacker found",
        "finding": fix_finding(rows),
        "setting": {
            "seeds": len(config.seed_list),
            "DPO": f"beta {config.fix_beta:g}, {config.fix_epochs} epochs, lr {config.fix_lr:g}",
            "fixed suites": "the organism's held-out world-refusal and world-sycophancy",
            "attacks per replay and fresh attacker": config.n_attacks,
        },
        "table": {"columns": ["target", "measure", "before", "after", "pairs"], "rows": rows},
        "curves": [],
    }


def fix_finding(rows: list[dict]) -> str:
    parts = []
    for row in rows:
        if "before" not in row:
            parts.append(f"{row['target']}: its attacker found nothing to fix")
        elif row["measure"].startswith(("a fresh", "over-refusal")):
            b, a = row["before"]["value"], row["after"]["value"]
            parts.append(f"{row['target']} {row['measure']}: {b:.0%} -> {a:.0%}")
    return "; ".join(parts) + "."
