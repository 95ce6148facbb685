"""DPO over-optimization on the assistant organism: gold against sqrt(KL) across betas.

Runs (or resumes) ``configs/goodhart/dpo.toml`` (or ``--config``): DPO from the SFT policy
on the organism's annotator-labelled pairs at each beta, and DPO on the same pairs
relabelled by gold (the oracle), each policy measured by sampling on train and held-out
templates. Prints the points (KL measured by sampling), the fits and the efficiency.

    python benchmarks/goodhart_dpo.py [--root DIR] [--threads 1] [--config FILE]
"""

from __future__ import annotations

from pathlib import Path

from goodhart_ppo import CONFIGS, print_fits, run
from goodhart_setup import arguments, shown


def main() -> None:
    parser = arguments(__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=CONFIGS / "dpo.toml")
    args = parser.parse_args()
    body = run(args.config, args.root, args.threads, "dpo")
    for c in body["curves"]:
        print(f"\n{c['run']} on {c['split']} prompts (n={c['points'][0]['proxy']['n']}):")
        print(f"  {'beta':>6s} {'KL':>20s} {'proxy':>20s} {'gold':>20s} {'efficiency':>10s}")
        for p in c["points"]:
            beta = p["settings"]["beta"]
            efficiency = "-" if p["efficiency"] is None else f"{p['efficiency']['value']:.2f}"
            print(
                f"  {'start' if beta is None else format(beta, 'g'):>6s} {shown(p['kl']):>20s} "
                f"{shown(p['proxy']):>20s} {shown(p['gold']):>20s} {efficiency:>10s}"
            )
    print()
    print_fits(body)


if __name__ == "__main__":
    main()
