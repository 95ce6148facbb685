"""PPO over-optimization on the assistant organism: gold against sqrt(KL), fitted by the
RL form ``R(d) = d (alpha - beta log d)``, at several KL coefficients.

Runs (or resumes) ``configs/goodhart/ppo.toml`` (or ``--config``) from the SFT policy
against the default reward model and prints, per run and split: the points' count, where
gold peaks (step and sqrt KL, on gold smoothed as the config's warning says), the gold drop
after the peak, the RL fit's R^2 and d* (and the best-of-n form's R^2 for comparison), and
the proxy efficiency at the last point when an oracle run exists.

    python benchmarks/goodhart_ppo.py [--root DIR] [--threads 1] [--config FILE]
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from goodhart_setup import arguments, pipeline, shown

from alignlab.config import load_config
from alignlab.experiments.sweep.config import SweepConfig
from alignlab.experiments.sweep.runner import run_sweep
from alignlab.goodhart.curves import read_curves

CONFIGS = Path(__file__).resolve().parent.parent / "configs" / "goodhart"


def run(config_file: Path, root: Path, threads: int, name: str) -> dict:
    """Run a sweep config with its paths pointed at ``root``'s pipeline."""
    paths = pipeline(root, threads)
    config = load_config(SweepConfig, config_file)
    config = replace(
        config,
        policy=paths["policy"],
        reward=paths["reward"],
        prompts=paths["prompts"],
        heldout_prompts=paths["heldout_prompts"],
        threads=threads,
        output_dir=str(root / "runs" / "goodhart" / name),
    )
    return read_curves(run_sweep(config))


def print_fits(body: dict) -> None:
    print(
        f"{'run':>26s} {'split':>8s} {'pts':>4s} {'peak':>6s} {'d peak':>7s} {'drop':>6s} "
        f"{'RL R^2':>7s} {'RL d*':>6s} {'BoN R^2':>8s} {'last gold':>20s} {'efficiency':>10s}"
    )
    for c in body["curves"]:
        rl, bon = c["fits"].get("rl"), c["fits"].get("best_of_n")
        last = c["points"][-1]
        efficiency = "-" if last["efficiency"] is None else f"{last['efficiency']['value']:.2f}"
        d_star = "-" if rl is None or rl["d_star"] is None else f"{rl['d_star']:.2f}"
        print(
            f"{c['run']:>26s} {c['split']:>8s} {len(c['points']):4d} "
            f"{c['peak']['pressure']:6g} {c['peak']['sqrt_kl']:7.3f} "
            f"{c['overoptimization']['drop']:6.3f} "
            f"{'-' if rl is None else format(rl['r2'], '.3f'):>7s} {d_star:>6s} "
            f"{'-' if bon is None else format(bon['r2'], '.3f'):>8s} "
            f"{shown(last['gold']):>20s} {efficiency:>10s}"
        )


def main() -> None:
    parser = arguments(__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=CONFIGS / "ppo.toml")
    args = parser.parse_args()
    body = run(args.config, args.root, args.threads, "ppo")
    print_fits(body)


if __name__ == "__main__":
    main()
