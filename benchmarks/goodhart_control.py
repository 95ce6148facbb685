"""The Gaussian-noise control (design section 7), with no model: best-of-n's expected gold
as n grows when the proxy is gold plus independent Gaussian noise (never falls), and when
the proxy's error grows with a padding length the optimizer can select for (rises, then
falls).

    python benchmarks/goodhart_control.py [--trials 4000] [--seed 0]
"""

from __future__ import annotations

import argparse

import numpy as np

from alignlab.goodhart.control import best_of_n_means, gaussian_world, length_world
from alignlab.objectives import best_of_n_kl

NS = [1, 2, 4, 8, 16, 32, 64, 128, 256]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=4000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    worlds = {
        "gold + N(0, 0.5^2)": gaussian_world(args.trials, 256, noise=0.5, seed=args.seed),
        "gold + N(0, 1)": gaussian_world(args.trials, 256, noise=1.0, seed=args.seed),
        "gold + N(0, 2^2)": gaussian_world(args.trials, 256, noise=2.0, seed=args.seed),
        "length-biased": length_world(args.trials, 256, seed=args.seed),
    }
    print(f"expected gold of best-of-n ({args.trials} trials of 256 candidates each)")
    print(f"{'n':>5s} {'sqrt KL':>8s} " + " ".join(f"{name:>20s}" for name in worlds))
    curves = {name: best_of_n_means(*world, NS)[1] for name, world in worlds.items()}
    for i, n in enumerate(NS):
        row = " ".join(f"{curves[name][i]:20.3f}" for name in worlds)
        print(f"{n:5d} {best_of_n_kl(n) ** 0.5:8.3f} {row}")
    for name, gold in curves.items():
        steps = np.diff(gold)
        top = int(gold.argmax())
        print(
            f"{name}: smallest change from one n to the next {min(steps):+.3f}; "
            f"peak at n={NS[top]}, gold {gold[top]:.3f} -> {gold[-1]:.3f} at n=256"
        )


if __name__ == "__main__":
    main()
