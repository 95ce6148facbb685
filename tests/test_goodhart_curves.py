import json
import math

import numpy as np
import pytest

from alignlab.goodhart.curves import (
    SCHEMA,
    analyze,
    efficiency,
    group,
    oracle_frontier,
    read_curves,
    write_curves,
)
from alignlab.goodhart.points import Point, PointStore, exact
from alignlab.goodhart.warning import WarningConfig, early_warning, first_alarm, signals, smoothed
from alignlab.objectives import best_of_n_kl
from alignlab.stats import Estimate

NS = [1, 2, 4, 8, 16, 32, 64, 128, 256]


def estimate(value: float, half_width: float = 0.01, n: int = 100) -> Estimate:
    return Estimate(value, n, value - half_width, value + half_width)


def make_point(run, pressure, kl, gold, proxy=None, split="train", **fields) -> Point:
    return Point(
        run=run,
        split=split,
        pressure=pressure,
        settings={"n": pressure},
        kl=exact(kl, 100),
        proxy=estimate(pressure if proxy is None else proxy),
        gold=None if gold is None else estimate(gold),
        length=estimate(10.0),
        **fields,
    )


def bon_points(run="best_of_n", alpha=0.4, beta=0.2, split="train", base=0.5):
    points = []
    for n in NS:
        d = math.sqrt(best_of_n_kl(n))
        points.append(make_point(run, n, d**2, base + d * (alpha - beta * d), split=split))
    return points


def test_point_round_trips_through_its_dict():
    p = make_point(
        "ppo/kl_coef=0.1",
        3,
        0.5,
        0.7,
        failures={"sycophantic": estimate(0.2)},
        signals={"heldout": estimate(1.0)},
        spreads={"proxy": 0.3},
    )
    again = Point.from_dict(json.loads(json.dumps(p.to_dict())))
    assert again == p
    assert again.to_dict()["sqrt_kl"] == pytest.approx(math.sqrt(0.5))


def test_a_negative_kl_estimate_counts_as_zero_distance():
    assert make_point("ppo", 0, -0.01, 0.5).sqrt_kl == 0.0


def test_store_appends_resumes_and_skips_a_cut_line(tmp_path):
    store = PointStore(tmp_path)
    a, b = make_point("r", 1, 0.0, 0.5), make_point("r", 2, 0.1, 0.6)
    store.add(a)
    store.add(b)
    with store.path.open("a") as f:
        f.write('{"run": "r", "split": "tr')  # a crash mid-write
    again = PointStore(tmp_path)
    assert again.has("r", "train", 1) and again.has("r", "train", 2)
    assert not again.has("r", "train", 3) and len(again) == 2
    again.add(make_point("r", 3, 0.2, 0.7))
    third = PointStore(tmp_path)
    assert len(third) == 3 and third.points[b.key] == b
    # A point written twice keeps its last record.
    third.add(make_point("r", 3, 0.2, 0.9))
    assert PointStore(tmp_path).points[make_point("r", 3, 0, 0).key].gold.value == 0.9


def test_group_orders_by_pressure_and_gains_start_at_zero():
    points = bon_points()
    curves = group(list(reversed(points)) + bon_points(split="heldout"))
    assert [(c.run, c.split) for c in curves] == [("best_of_n", "train"), ("best_of_n", "heldout")]
    assert [p.pressure for p in curves[0].points] == NS
    assert curves[0].gains()[0] == 0.0
    assert curves[0].optimizer == "best_of_n" and not curves[0].oracle


def test_analyze_fits_the_best_of_n_form_and_finds_the_peak():
    (summary,) = analyze(bon_points(alpha=0.4, beta=0.2))
    fit = summary["fits"]["best_of_n"]
    assert fit["alpha"] == pytest.approx(0.4) and fit["beta"] == pytest.approx(0.2)
    assert fit["r2"] == pytest.approx(1.0)
    d = [p["sqrt_kl"] for p in summary["points"]]
    assert summary["peak"]["sqrt_kl"] == pytest.approx(d[int(np.argmin(np.abs(np.array(d) - 1.0)))])
    assert abs(summary["peak_grid_distance"]) < 1
    assert summary["overoptimization"]["drop"] > 0
    assert summary["proxy_monotone"] is True
    assert summary["points"][0]["gold_gain"] == 0.0


def test_efficiency_against_the_oracle_frontier():
    proxy = bon_points(alpha=0.4, beta=0.2)
    oracle = [
        make_point("oracle/best_of_n", p.pressure, p.kl.value, 0.5 + 0.5 * p.sqrt_kl) for p in proxy
    ]
    curves = group(proxy + oracle)
    frontier = oracle_frontier(curves, "best_of_n", "train")
    ratios = efficiency(curves[0], frontier)
    assert ratios[0] is None  # no gain to share at d = 0
    for p, ratio in zip(proxy[1:], ratios[1:], strict=True):
        d = p.sqrt_kl
        assert ratio.value == pytest.approx(d * (0.4 - 0.2 * d) / (0.5 * d))
        assert ratio.lo < ratio.value < ratio.hi
    assert oracle_frontier(curves, "ppo", "train") is None


def test_the_frontier_keeps_the_best_gain_reached_at_or_below_each_distance():
    a = [make_point("oracle/ppo/kl_coef=0.1", s, kl, g) for s, kl, g in [(0, 0, 0.5), (1, 1, 0.9)]]
    b = [make_point("oracle/ppo/kl_coef=0", s, kl, g) for s, kl, g in [(0, 0, 0.5), (1, 4, 0.7)]]
    d, gain = oracle_frontier(group(a + b), "ppo", "train")
    assert d.tolist() == [0, 0, 1, 2]
    assert gain.tolist() == pytest.approx([0, 0, 0.4, 0.4])
    far = group([make_point("ppo/kl_coef=0", 0, 0, 0.5), make_point("ppo/kl_coef=0", 1, 9, 0.6)])
    assert efficiency(far[0], (d, gain))[1] is None  # beyond the frontier's reach


def test_write_and_read_curves(tmp_path):
    path = write_curves(tmp_path, bon_points(), {"optimizer": "best_of_n"}, WarningConfig())
    body = read_curves(tmp_path)
    assert path.name == "curves.json" and body["schema"] == SCHEMA
    assert body["config"] == {"optimizer": "best_of_n"} and len(body["curves"]) == 1
    (tmp_path / "curves.json").write_text('{"schema": "other"}')
    with pytest.raises(ValueError, match="schema"):
        read_curves(tmp_path)


def test_first_alarm_needs_patience():
    signal = np.array([0.0, 0.6, 0.2, 0.7, 0.8, 0.9])
    assert first_alarm(signal, 0.5, 1) == 1
    assert first_alarm(signal, 0.5, 2) == 4
    assert first_alarm(signal, 1.0, 1) is None


def test_smoothed_is_a_centred_moving_average_on_long_curves_only():
    assert smoothed([0, 3, 0, 3], 1).tolist() == [0, 3, 0, 3]
    assert smoothed([0, 3, 0, 3, 0, 3, 0, 3, 0], 3).tolist() == [1.5, 1, 2, 1, 2, 1, 2, 1, 1.5]
    assert smoothed([0, 3, 0, 3], 3).tolist() == [0, 3, 0, 3]  # a short grid stays as it is


def warned_points(disagreement, heldout, gold, proxy, ns=NS):
    return [
        make_point(
            "best_of_n",
            n,
            0.1 * n,
            g,
            proxy=p,
            signals={"disagreement": estimate(s), "heldout": estimate(h)},
            spreads={"proxy": 1.0, "heldout": 1.0},
        )
        for n, s, h, g, p in zip(ns, disagreement, heldout, gold, proxy, strict=False)
    ]


def test_signals_and_a_timely_warning():
    points = warned_points(
        disagreement=[1.0, 1.0, 1.1, 1.4, 2.0],
        heldout=[0.0, 0.5, 0.9, 1.0, 1.0],
        gold=[0.5, 0.6, 0.7, 0.6, 0.4],
        proxy=[0.0, 0.5, 1.0, 1.5, 2.0],
    )
    found = signals(points)
    assert found["disagreement"].tolist() == pytest.approx([0, 0, 0.1, 0.4, 1.0])
    assert found["gap"].tolist() == pytest.approx([0, 0, 0.1, 0.5, 1.0])
    # Held-out steps 0.5, 0.4, 0.1, 0 against the proxy's 0.5 each.
    assert found["stall"].tolist() == pytest.approx([0, 0, 0.2, 0.8, 1.0])
    warning = early_warning(points, WarningConfig(disagreement_rise=0.25, gap=0.4))
    assert warning["alarms"] == {"disagreement": 3, "gap": 3, "stall": 3}
    assert warning["fired"] == 3 and warning["peak"] == 2
    assert warning["lead"] == -1 and warning["late_fraction"] == pytest.approx(0.25)
    assert warning["timely"] is False
    # Gold fell 0.1 of its eventual 0.3 (0.7 to 0.4) by the time the warning fired.
    assert warning["gold_lost"] == pytest.approx(0.1)
    assert warning["lost_fraction"] == pytest.approx(1 / 3)
    early = early_warning(points, WarningConfig(disagreement_rise=0.05, gap=5.0, stall=2.0))
    assert early["fired"] == 2 and early["lead"] == 0 and early["timely"] is True
    assert early["gold_lost"] == 0.0 and early["lost_fraction"] == 0.0


def test_signals_on_a_long_run_are_online():
    rng = np.random.default_rng(0)
    steps = 40
    proxy = np.linspace(0, 4, steps) + rng.normal(0, 0.3, steps)
    heldout = np.minimum(np.linspace(0, 4, steps), 1.5) + rng.normal(0, 0.3, steps)
    points = warned_points(
        rng.uniform(1, 2, steps), heldout, np.ones(steps), proxy, ns=range(steps)
    )
    full = signals(points, smooth=5)
    for t in (15, 25, 39):
        prefix = signals(points[: t + 1], smooth=5)
        for name in ("disagreement", "gap", "stall"):
            assert prefix[name][-1] == pytest.approx(full[name][t])
    # The held-out reward stops following after step ~15: the stall signal says so.
    assert full["stall"][:12].mean() < 0.5 < full["stall"][25:].mean()


def test_a_warning_that_never_fires_is_timely_only_if_gold_peaks_late():
    rising = warned_points([1.0] * 5, [0.0, 1, 2, 3, 4], [0.5, 0.6, 0.7, 0.8, 0.9], range(5))
    never = early_warning(rising, WarningConfig())
    assert never["timely"] is True and never["lost_fraction"] is None  # gold never fell
    falling = warned_points([1.0] * 5, [0.0, 1, 2, 3, 4], [0.5, 0.9, 0.7, 0.6, 0.5], range(5))
    missed = early_warning(falling, WarningConfig())
    assert missed["fired"] is None and missed["timely"] is False
    assert missed["gold_lost"] is None and missed["lost_fraction"] == 1.0  # all of the fall


def test_no_warning_without_signals_or_gold():
    assert early_warning(bon_points(), WarningConfig()) is None
    points = [make_point("r", n, 0.1 * n, None) for n in (1, 2)]
    assert early_warning(points, WarningConfig()) is None
