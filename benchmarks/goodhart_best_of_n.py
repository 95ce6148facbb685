"""Best-of-n over-optimization on the assistant organism, with the figures its issue asks for.

Runs (or resumes) ``configs/goodhart/best_of_n.toml``: best-of-n with n = 1 ... 256 against
the default reward model, on train and held-out templates, with the oracle from the same
samples, and prints per split:

- proxy and gold per n (95% bootstrap intervals over prompts) and the proxy efficiency;
- whether proxy rises monotonically, where gold peaks, and how far it falls by n = 256;
- the best-of-n fit ``R(d) = d (alpha - beta d)``: R^2, d* and its distance in grid steps
  from the observed peak;
- the failure modes of the selected responses at n = 1, at the peak and at n = 256.

    python benchmarks/goodhart_best_of_n.py [--root DIR] [--threads 1] [--max-prompts 200]
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from goodhart_setup import arguments, pipeline, shown

from alignlab.config import load_config
from alignlab.experiments.sweep.config import SweepConfig
from alignlab.experiments.sweep.runner import run_sweep
from alignlab.goodhart.curves import read_curves

CONFIG = Path(__file__).resolve().parent.parent / "configs" / "goodhart" / "best_of_n.toml"


def main() -> None:
    parser = arguments(__doc__.splitlines()[0])
    parser.add_argument("--max-prompts", type=int, default=200)
    args = parser.parse_args()
    paths = pipeline(args.root, args.threads)
    config = load_config(SweepConfig, CONFIG)
    out = args.root / "runs" / "goodhart"
    config = replace(
        config,
        policy=paths["policy"],
        reward=paths["reward"],
        prompts=paths["prompts"],
        heldout_prompts=paths["heldout_prompts"],
        max_prompts=args.max_prompts,
        threads=args.threads,
        output_dir=str(out / "best_of_n"),
        best_of_n=replace(config.best_of_n, samples_dir=str(out / "cache" / "samples")),
    )
    body = read_curves(run_sweep(config))
    for curve in body["curves"]:
        if curve["oracle"]:
            continue
        points = curve["points"]
        print(f"\n{curve['run']} on {curve['split']} prompts (n={points[0]['proxy']['n']}):")
        print(f"  {'n':>4s} {'sqrt KL':>7s} {'proxy':>20s} {'gold':>20s} {'efficiency':>10s}")
        for p in points:
            efficiency = "-" if p["efficiency"] is None else f"{p['efficiency']['value']:.2f}"
            print(
                f"  {p['settings']['n']:4d} {p['sqrt_kl']:7.3f} {shown(p['proxy']):>20s} "
                f"{shown(p['gold']):>20s} {efficiency:>10s}"
            )
        fit, peak = curve["fits"]["best_of_n"], curve["peak"]
        print(
            f"  proxy monotone: {curve['proxy_monotone']}; gold peaks at n={peak['pressure']:g} "
            f"and falls {curve['overoptimization']['drop']:.3f} by n={points[-1]['pressure']:g}"
        )
        print(
            f"  best-of-n fit: alpha={fit['alpha']:.3f} beta={fit['beta']:.3f} "
            f"R^2={fit['r2']:.3f} d*={fit['d_star']:.3f} (observed peak at d="
            f"{peak['sqrt_kl']:.3f}); predicted peak {curve['peak_grid_distance']:+.2f} grid "
            "steps from the observed one"
        )
        for label, p in (("n=1", points[0]), ("peak", points[peak["index"]]), ("last", points[-1])):
            rates = {k: v["value"] for k, v in p["failures"].items() if k != "correct"}
            shown_rates = ", ".join(f"{k} {v:.3f}" for k, v in sorted(rates.items()) if v > 0)
            print(f"  failure modes at {label:4s}: {shown_rates}")
    print(f"\n{config.output_dir}/curves.json and goodhart-<split>.png/.svg")


if __name__ == "__main__":
    main()
