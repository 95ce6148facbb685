"""The three forms of Goodhart's law on the assistant organism, each over several seeds.

Runs (or resumes) the experiments of ``configs/goodhart/{regressional,extremal,
adversarial}.toml`` with ``--seeds`` seeds and prints each one's result table: per
condition, the mean, standard deviation and range over seeds of its figures.

- regressional: per annotator noise/bias level and candidate pool, gold at the start, at
  its peak and at n = 256, the gain to the peak, the drop after it, the peak's n and the
  fit's d*; Kendall's tau between the level and each;
- extremal: for the reward model fitted on each family's shorter responses and its two
  controls (as many random pairs per family; every pair), the same figures and the
  fraction of selected responses longer than anything of their family the restricted
  model was fitted on, at n = 1 and n = 256, with Kendall's tau between that fraction and
  gold along n, how far gold fell among those selections and among the others, how much
  less gold they have than the in-range ones (at the gold peak and at n = 256), how much
  more the model scores them, how often it orders pairs of samples as gold does (both in
  range, one off and one in, both off), and fraction and gold n by n;
- adversarial: the keyword detector's score and the gold judge's harm rate at n = 1 and
  n = 256, and gold.

    python benchmarks/goodhart_forms.py [--root DIR] [--threads 1] [--seeds 3] [--only NAME]
"""

from __future__ import annotations

import json
from pathlib import Path

from goodhart_setup import arguments, pipeline

from alignlab.config import load_config
from alignlab.experiments.forms import EXPERIMENTS

CONFIGS = Path(__file__).resolve().parent.parent / "configs" / "goodhart"
FIGURES = {
    "regressional": (
        "gold_start",
        "gold_peak",
        "peak_gain",
        "gold_last",
        "drop",
        "peak_n",
        "fit_d_star",
        "fit_r2",
    ),
    "extremal": (
        "gold_start",
        "gold_peak",
        "gold_last",
        "drop",
        "ood_start",
        "ood_last",
        "tau_ood_gold",
        "ood_gold_drop",
        "in_gold_drop",
        "ood_cost_peak",
        "ood_cost_last",
        "ood_proxy_gap",
        "accuracy_in",
        "accuracy_cross",
        "accuracy_ood",
    ),
    "adversarial": (
        "detector_start",
        "detector_last",
        "harm_start",
        "harm_last",
        "gold_start",
        "gold_last",
    ),
    "early-warning": (),
}


def run_experiment(name: str, root: Path, threads: int, seeds: int) -> dict:
    """Run one experiment's example config with its paths pointed at ``root``."""
    paths = pipeline(root, threads)
    config_class, run = EXPERIMENTS[name]
    overrides = [
        f"organism='{paths['organism']}'",
        f"policy='{paths['policy']}'",
        f"output_dir='{root / 'runs' / 'goodhart' / name.replace('-', '_')}'",
        f"cache_dir='{root / 'runs' / 'goodhart' / 'cache'}'",
        f"seeds={seeds}",
        f"threads={threads}",
    ]
    config = load_config(config_class, CONFIGS / f"{name.replace('-', '_')}.toml", overrides)
    return json.loads(run(config).read_text())


def print_table(name: str, summary: dict) -> None:
    figures = FIGURES[name]
    print(f"\n{name} (mean ± sd over seeds [min, max]):")
    for group in summary["across_seeds"]:
        keys = {k: v for k, v in group.items() if not isinstance(v, dict) and k != "seeds"}
        print("  " + ", ".join(f"{k}={v}" for k, v in keys.items()) + f" ({group['seeds']} seeds)")
        for figure in figures:
            if figure in group:
                f = group[figure]
                print(
                    f"    {figure:15s} {f['mean']:7.3f} ± {f['sd']:.3f} "
                    f"[{f['min']:.3f}, {f['max']:.3f}]"
                )
    for pool, taus in summary.get("kendall_tau_with_level", {}).items():
        shown = ", ".join(f"{name} {tau:+.2f}" for name, tau in taus.items())
        print(f"  Kendall's tau with the level, {pool}: {shown}")
    for entry in summary.get("curves", []) if name == "extremal" else []:
        ood = " ".join(f"{p['ood']['value']:.2f}" for p in entry["points"])
        gold = " ".join(f"{p['gold']['value']:.2f}" for p in entry["points"])
        print(f"  seed {entry['seed']} {entry['condition']:10s} {entry['split']:7s} OOD {ood}")
        print(f"  {'':29s} gold {gold}")


def main() -> None:
    parser = arguments(__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--only", choices=["regressional", "extremal", "adversarial"])
    args = parser.parse_args()
    for name in ("regressional", "extremal", "adversarial"):
        if args.only in (None, name):
            print_table(name, run_experiment(name, args.root, args.threads, args.seeds))


if __name__ == "__main__":
    main()
