"""Early warning of over-optimization, over several seeds: when do a reward ensemble's
disagreement and the gap to a held-out reward model fire, against the true gold peak?

Runs (or resumes) ``configs/goodhart/early_warning.toml`` with ``--seeds`` seeds and
prints, per seed and split, the n at which each signal and the warning fired, the n of the
gold peak, the lead in grid points (positive: before the peak) and whether the warning was
timely (at most 20% of the run after the peak), and how much gold had already fallen from
its peak when the warning fired (and what share of its whole fall that was); then the count
of timely warnings.

    python benchmarks/goodhart_early_warning.py [--root DIR] [--threads 1] [--seeds 3]
"""

from __future__ import annotations

from goodhart_forms import run_experiment
from goodhart_setup import arguments


def main() -> None:
    parser = arguments(__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args()
    summary = run_experiment("early-warning", args.root, args.threads, args.seeds)
    header = ("seed", "split", "alarms (n)", "fired n", "peak n", "lead", "late", "timely", "lost")
    widths = (4, 8, 34, 8, 7, 5, 6, 6, 14)
    print(" ".join(f"{h:>{w}s}" for h, w in zip(header, widths, strict=True)))
    for row in summary["rows"]:
        alarms = ", ".join(f"{k}={v}" for k, v in row["alarms"].items())
        late = "-" if row["late_fraction"] is None else f"{row['late_fraction']:+.2f}"
        lost = "-" if row["gold_lost"] is None else f"{row['gold_lost']:.3f}"
        if row["lost_fraction"] is not None:
            lost += f" ({row['lost_fraction']:.0%})"
        print(
            f"{row['seed']:4d} {row['split']:>8s} {alarms:>34s} {row['fired_n']!s:>8s} "
            f"{row['peak_n']:7d} {row['lead_points']!s:>5s} {late:>6s} {row['timely']!s:>6s} "
            f"{lost:>14s}"
        )
    for split, found in summary["by_split"].items():
        timely = f"timely in {found['timely']} of {found['seeds']} seeds"
        print(f"{split}: {timely}; leads in grid points {found['lead_points']}")


if __name__ == "__main__":
    main()
