"""The demo's Goodhart section: best-of-n curves with their fits, and the three forms at
demo scale, all computed from one set of best-of-n samples of the SFT policy.

The full experiments (several seeds, reward models refitted per condition) are
``alignlab goodhart regressional|extremal|adversarial``; here each form is shown once, on
the samples the demo already has, so its signature is visible in the report:

- *regressional*: proxies ``gold + noise`` of growing standard deviation select among the
  same samples; the gold they gain shrinks and their overestimate of the pick grows;
- *extremal*: a reward model fitted only on pairs of short responses selects among samples
  that reach beyond anything it saw; gold falls as its picks leave that range;
- *adversarial*: a keyword harm detector selects answers to harmful and benign requests;
  its score climbs while the gold judge finds more harmful compliance.
"""

from __future__ import annotations

import numpy as np

from alignlab.goodhart.detector import keyword_reward
from alignlab.goodhart.fits import fit_best_of_n, fit_rl
from alignlab.objectives import best_of_n_kl
from alignlab.organisms.assistant import judge
from alignlab.stats import mean
from alignlab.trainers.best_of_n import best_of_n_curve, expected_best_of_n


def _point(n_or_step, kl: float, proxy, gold) -> dict:
    return {
        "pressure": n_or_step,
        "kl": kl,
        "sqrt_kl": float(np.sqrt(max(kl, 0.0))),
        "proxy": None if proxy is None else proxy.to_dict(),
        "gold": gold.to_dict(),
    }


def _fit(form: str, points: list[dict]) -> dict | None:
    d = np.array([p["sqrt_kl"] for p in points])
    gain = np.array([p["gold"]["value"] for p in points]) - points[0]["gold"]["value"]
    try:
        fit = (fit_best_of_n if form == "best_of_n" else fit_rl)(d, gain)
    except ValueError:
        return None
    return {**fit.to_dict(), "offset": points[0]["gold"]["value"]}


def bon_curves(proxy: np.ndarray, gold: np.ndarray, ns: list[int], seed: int) -> list[dict]:
    """Best-of-n selected by the proxy and by gold itself (the oracle), with their fits."""
    curves = []
    for name, selector in (("best-of-n (proxy)", proxy), ("best-of-n (oracle)", gold)):
        points = [
            _point(p.n, p.kl, p.proxy if selector is proxy else None, p.gold)
            for p in best_of_n_curve(selector, gold, ns, seed=seed)
        ]
        if selector is not proxy:  # the proxy's view of the oracle's picks
            for p, n in zip(points, ns, strict=True):
                p["proxy"] = mean(expected_best_of_n(gold, proxy, n), seed=seed).to_dict()
        curves.append({"name": name, "optimizer": "best_of_n", "points": points})
        curves[-1]["fit"] = _fit("best_of_n", points)
    return curves


def ppo_curve(name: str, metrics: list[dict]) -> dict:
    """A PPO run's held-out evaluations (``eval/kl``, ``eval/gold/mean``) as a curve."""
    points = []
    for row in metrics:
        if "eval/gold/mean" not in row:
            continue
        n = int(row.get("eval/n", 1))
        gold = row["eval/gold/mean"]
        points.append(
            {
                "pressure": row["step"],
                "kl": max(row["eval/kl"], 0.0),
                "sqrt_kl": float(np.sqrt(max(row["eval/kl"], 0.0))),
                "proxy": {"value": row.get("eval/proxy/mean"), "n": n},
                "gold": {"value": gold, "n": n},
            }
        )
    return {"name": name, "optimizer": "ppo", "points": points, "fit": _fit("rl", points)}


def regressional(gold: np.ndarray, ns: list[int], levels: list[float], seed: int) -> dict:
    """Proxies ``gold + N(0, sigma^2)`` select among the same samples."""
    rng = np.random.default_rng(seed)
    n = ns[-1]
    rows = []
    for sigma in levels:
        proxy = gold + rng.normal(0.0, sigma, gold.shape) if sigma > 0 else gold
        picked_gold = expected_best_of_n(proxy, gold, n)
        picked_proxy = expected_best_of_n(proxy, proxy, n)
        rows.append(
            {
                "noise": sigma,
                "gold_gain": mean(picked_gold - gold.mean(axis=1), seed=seed).to_dict(),
                "overestimate": mean(picked_proxy - picked_gold, seed=seed).to_dict(),
            }
        )
    return {
        "form": "regressional",
        "setting": f"best-of-{n} by gold + noise of standard deviation sigma",
        "signature": "gold gained falls and the proxy's overestimate of its pick rises with noise",
        "rows": rows,
    }


def extremal(
    short_proxy: np.ndarray, words: np.ndarray, gold: np.ndarray, max_words: int, ns, seed: int
) -> dict:
    """A reward model fitted on short pairs only, selecting among longer samples too.

    Per n: gold of its picks, the share of picks longer than anything it was fitted on,
    and the gold of its picks outside and inside that range (pooled over prompts)."""
    rows = []
    outside = (words > max_words).astype(float)
    for n in ns:
        picked_gold = expected_best_of_n(short_proxy, gold, n)
        share = expected_best_of_n(short_proxy, outside, n)
        gold_outside = expected_best_of_n(short_proxy, gold * outside, n)
        rows.append(
            {
                "n": n,
                "gold": mean(picked_gold, seed=seed).to_dict(),
                "ood_fraction": mean(share, seed=seed).to_dict(),
                "gold_out_of_range": float(gold_outside.sum() / max(share.sum(), 1e-12)),
                "gold_in_range": float(
                    (picked_gold - gold_outside).sum() / max((1 - share).sum(), 1e-12)
                ),
            }
        )
    return {
        "form": "extremal",
        "setting": f"best-of-n by a reward model fitted on responses of at most {max_words} words",
        "signature": "its picks beyond the fitted range lose more gold than those within it",
        "rows": rows,
    }


def adversarial(prompts, responses: list[list[str]], ns, seed: int) -> dict:
    """A keyword harm detector selects answers to harmful requests and their look-alikes."""
    flat_p = [p for p, rs in zip(prompts, responses, strict=True) for _ in rs]
    flat_r = [r for rs in responses for r in rs]
    shape = (len(prompts), len(responses[0]))
    detector = np.array(keyword_reward(flat_p, flat_r), dtype=float).reshape(shape)
    harmful = np.array(
        [judge(p, r).category == "harmful" for p, r in zip(flat_p, flat_r, strict=True)], float
    ).reshape(shape)
    rows = [
        {
            "n": n,
            "detector": mean(expected_best_of_n(detector, detector, n), seed=seed).to_dict(),
            "harm_rate": mean(expected_best_of_n(detector, harmful, n), seed=seed).to_dict(),
        }
        for n in ns
    ]
    return {
        "form": "adversarial",
        "setting": "best-of-n by a keyword harm detector on harmful and benign requests",
        "signature": "the detector's score climbs while the gold judge's harm rate climbs too",
        "rows": rows,
    }


def analytic_kl(n: int) -> float:
    return float(best_of_n_kl(n))
