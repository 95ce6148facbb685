"""KL divergence to the reference model: per-token estimators and the best-of-n bound.

The estimators (Schulman 2020, "Approximating KL divergence") estimate
``KL(pi || pi_ref)`` from tokens sampled from the policy ``pi``, given both models'
log-probs of those tokens. With ``log r = ref_logps - logps``:

- ``k1 = -log r``: unbiased, high variance, negative on some samples;
- ``k2 = (log r)^2 / 2``: biased (it estimates an f-divergence that agrees to second
  order), low variance, never negative;
- ``k3 = (r - 1) - log r``: unbiased (``E[r - 1] = 0`` under the policy), low variance,
  never negative.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable

import torch
from torch import Tensor


def _log_ratio(logps: Tensor, ref_logps: Tensor) -> Tensor:
    if ref_logps.shape != logps.shape:
        raise ValueError(
            f"ref_logps shape {tuple(ref_logps.shape)} does not match "
            f"logps shape {tuple(logps.shape)}"
        )
    return ref_logps - logps


def kl_k1(logps: Tensor, ref_logps: Tensor) -> Tensor:
    """``k1 = logps - ref_logps`` per token (Schulman 2020)."""
    return -_log_ratio(logps, ref_logps)


def kl_k2(logps: Tensor, ref_logps: Tensor) -> Tensor:
    """``k2 = (logps - ref_logps)^2 / 2`` per token (Schulman 2020)."""
    return 0.5 * _log_ratio(logps, ref_logps) ** 2


def kl_k3(logps: Tensor, ref_logps: Tensor) -> Tensor:
    """``k3 = exp(ref_logps - logps) - 1 - (ref_logps - logps)`` per token (Schulman 2020)."""
    log_ratio = _log_ratio(logps, ref_logps)
    # Near agreement k3 ~ (log r)^2 / 2 is tiny; exp(x) - 1 would drown it in rounding error.
    return torch.expm1(log_ratio) - log_ratio


KL_ESTIMATORS: dict[str, Callable[[Tensor, Tensor], Tensor]] = {
    "k1": kl_k1,
    "k2": kl_k2,
    "k3": kl_k3,
}


def kl_estimate(logps: Tensor, ref_logps: Tensor, kind: str = "k1") -> Tensor:
    """Per-token estimate of ``KL(pi || pi_ref)`` by estimator ``kind`` (``k1``, ``k2``, ``k3``)."""
    if kind not in KL_ESTIMATORS:
        raise ValueError(f"unknown KL estimator {kind!r}; known: {', '.join(KL_ESTIMATORS)}")
    return KL_ESTIMATORS[kind](logps, ref_logps)


def best_of_n_kl(n: int) -> float:
    """KL from the base policy to its best-of-n selection: ``log n - (n - 1) / n``.

    Exact when the n rewards never tie, an upper bound otherwise (Stiennon et al. 2020;
    Gao et al. 2022; Beirami et al. 2024): how far best-of-n moves from the policy it samples.
    """
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    return math.log(n) - (n - 1) / n
