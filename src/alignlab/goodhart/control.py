"""The Gaussian-noise control: where best-of-n's hump does, and does not, come from.

Gao et al. (2022, appendix A): if the proxy is the gold plus independent Gaussian noise,
``E[gold | proxy]`` is increasing in the proxy, so selecting a higher proxy never lowers
expected gold and best-of-n's gold never falls as n grows. Over-optimization needs proxy
error that is correlated with something the optimizer can push. Two synthetic worlds of
candidate responses (no model) show the difference:

- :func:`gaussian_world`: ``gold ~ N(0, 1)``, ``proxy = gold + N(0, noise^2)``;
- :func:`length_world`: a response's quality ``q ~ N(0, 1)`` and its padding length
  ``L ~ Exponential(mean_length)`` (heavy-tailed next to the Gaussian quality); gold pays
  for padding, ``gold = q - length_cost L``, while the proxy likes it, as the organism's
  annotators do, ``proxy = q + length_bias L + N(0, noise^2)``. Mild selection picks on
  quality; hard selection reaches the long tail of ``L``, and gold falls.

:func:`best_of_n_means` estimates best-of-n's expected gold and proxy for each n from
``n_max`` candidates per trial: the candidates are cut into ``n_max / n`` disjoint groups of
n, each group's proxy-best is kept, and all picks are averaged, so every candidate counts
at every n.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def best_of_n_means(proxy, gold, ns: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    """Expected proxy and gold of best-of-n for each n, from candidates ``[trials, n_max]``.

    Every n must divide ``n_max``; returns two arrays of ``len(ns)``.
    """
    proxy, gold = np.asarray(proxy, dtype=float), np.asarray(gold, dtype=float)
    if proxy.shape != gold.shape or proxy.ndim != 2:
        raise ValueError(f"proxy and gold must be [trials, n_max], got {proxy.shape}, {gold.shape}")
    trials, n_max = proxy.shape
    proxy_means, gold_means = [], []
    for n in ns:
        if n < 1 or n_max % n:
            raise ValueError(f"every n must divide n_max={n_max}, got {n}")
        groups_proxy = proxy.reshape(trials * (n_max // n), n)
        groups_gold = gold.reshape(trials * (n_max // n), n)
        pick = groups_proxy.argmax(axis=1)[:, None]
        proxy_means.append(np.take_along_axis(groups_proxy, pick, axis=1).mean())
        gold_means.append(np.take_along_axis(groups_gold, pick, axis=1).mean())
    return np.array(proxy_means), np.array(gold_means)


def gaussian_world(
    trials: int, n_max: int, *, noise: float = 1.0, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Candidates ``(proxy, gold)``, ``[trials, n_max]`` each: proxy = gold + Gaussian noise."""
    rng = np.random.default_rng(seed)
    gold = rng.standard_normal((trials, n_max))
    return gold + noise * rng.standard_normal((trials, n_max)), gold


def length_world(
    trials: int,
    n_max: int,
    *,
    mean_length: float = 1.0,
    length_bias: float = 1.0,
    length_cost: float = 0.5,
    noise: float = 0.5,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Candidates ``(proxy, gold)`` whose proxy error grows with padding length (module
    docstring): ``gold = q - length_cost L``, ``proxy = q + length_bias L + noise``."""
    rng = np.random.default_rng(seed)
    quality = rng.standard_normal((trials, n_max))
    length = rng.exponential(mean_length, (trials, n_max))
    gold = quality - length_cost * length
    proxy = quality + length_bias * length + noise * rng.standard_normal((trials, n_max))
    return proxy, gold
