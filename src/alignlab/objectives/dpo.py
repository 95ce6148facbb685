"""Direct preference optimization and its variants, as a registry of pairwise losses.

Every variant scores a pair by ``h``, the chosen-minus-rejected gap of log-probability
ratios to the reference model (``h_pi`` in Azar et al. 2023)::

    h = [log pi(y_c | x) - log pi_ref(y_c | x)] - [log pi(y_r | x) - log pi_ref(y_r | x)]

or, for a reference-free variant, the gap of the policy's own (length-normalized) log-probs.
A variant maps a :class:`PairTerms` to per-pair losses; :func:`dpo_loss` averages them.
Add your own with :func:`register_dpo_loss`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch.nn.functional as F
from torch import Tensor

from alignlab.objectives.bradley_terry import (
    check_label_smoothing,
    check_preference_labels,
    preference_cross_entropy,
    preference_targets,
)


@dataclass(frozen=True)
class PairTerms:
    """What a DPO-family loss sees of a batch of preference pairs."""

    h: Tensor  # [B] chosen-minus-rejected log-ratio gap (see the module docstring)
    beta: float  # inverse temperature: strength of the tie to the reference
    label_smoothing: float  # eps: label smoothing, or the assumed label-flip rate (robust)
    simpo_gamma: float  # SimPO's target reward margin
    labels: Tensor | None  # [B] probability that chosen is preferred; None means 1

    def targets(self) -> Tensor:
        """Smoothed target probabilities ``p (1 - eps) + (1 - p) eps``."""
        return preference_targets(self.labels, self.label_smoothing, like=self.h)


PairLoss = Callable[[PairTerms], Tensor]


@dataclass(frozen=True)
class DPOVariant:
    """A registered loss and what it can use, so bad combinations fail loudly."""

    loss: PairLoss  # per-pair losses, [B]
    reference_free: bool = False  # scores the policy's log-probs alone, without a reference
    labels: bool = False  # reads soft ``labels``
    label_smoothing: bool = False  # reads ``label_smoothing``


DPO_LOSSES: dict[str, DPOVariant] = {}


def register_dpo_loss(
    *names: str,
    reference_free: bool = False,
    labels: bool = False,
    label_smoothing: bool = False,
) -> Callable[[PairLoss], PairLoss]:
    """Register a per-pair loss under ``names``, declaring which optional inputs it reads."""

    def register(loss: PairLoss) -> PairLoss:
        for name in names:
            if name in DPO_LOSSES:
                raise ValueError(f"a DPO loss named {name!r} is already registered")
            DPO_LOSSES[name] = DPOVariant(loss, reference_free, labels, label_smoothing)
        return loss

    return register


@register_dpo_loss("sigmoid", "cdpo", labels=True, label_smoothing=True)
def sigmoid_loss(terms: PairTerms) -> Tensor:
    """DPO (Rafailov et al. 2023): ``-[p log sigmoid(beta h) + (1 - p) log sigmoid(-beta h)]``.

    With hard labels (``p = 1``) this is ``-log sigmoid(beta h)``. Label smoothing eps makes it
    conservative DPO, cDPO (Mitchell 2023): ``-(1 - eps) log sigmoid(beta h) - eps log
    sigmoid(-beta h)``, which is why ``cdpo`` names this same loss.
    """
    return preference_cross_entropy(terms.beta * terms.h, terms.targets())


@register_dpo_loss("ipo", labels=True, label_smoothing=True)
def ipo_loss(terms: PairTerms) -> Tensor:
    """IPO (Azar et al. 2023): ``(h - (p - 1/2) / beta)^2``; at ``p = 1``, ``(h - 1 / (2 beta))^2``.

    Regressing ``h`` to a finite target keeps it bounded on deterministic preferences, where
    the sigmoid loss keeps pushing it towards infinity (overfitting the reference away).
    """
    return (terms.h - (terms.targets() - 0.5) / terms.beta) ** 2


@register_dpo_loss("hinge")
def hinge_loss(terms: PairTerms) -> Tensor:
    """SLiC's calibration hinge (Zhao et al. 2023): ``relu(1 - beta h)``."""
    return F.relu(1 - terms.beta * terms.h)


@register_dpo_loss("robust", label_smoothing=True)
def robust_loss(terms: PairTerms) -> Tensor:
    """Robust DPO (Chowdhury et al. 2024) for labels flipped at rate eps (``label_smoothing``).

    ``[-(1 - eps) log sigmoid(beta h) + eps log sigmoid(-beta h)] / (1 - 2 eps)``: its
    expectation over the label noise is the clean DPO loss, so the noise is corrected, not
    merely tolerated as in cDPO.
    """
    eps = terms.label_smoothing
    z = terms.beta * terms.h
    return (-(1 - eps) * F.logsigmoid(z) + eps * F.logsigmoid(-z)) / (1 - 2 * eps)


@register_dpo_loss("simpo", reference_free=True, labels=True, label_smoothing=True)
def simpo_loss(terms: PairTerms) -> Tensor:
    """SimPO (Meng et al. 2024): ``-log sigmoid(beta h - gamma)``, reference-free.

    ``h`` is the gap of the policy's average (length-normalized) log-probs. Soft targets take
    the expectation over which response is preferred, demanding the margin gamma in that
    direction: ``-[p log sigmoid(beta h - gamma) + (1 - p) log sigmoid(-beta h - gamma)]``.
    """
    z, gamma, p = terms.beta * terms.h, terms.simpo_gamma, terms.targets()
    return -(p * F.logsigmoid(z - gamma) + (1 - p) * F.logsigmoid(-z - gamma))


def _variant(loss_type: str) -> DPOVariant:
    if loss_type not in DPO_LOSSES:
        raise ValueError(
            f"unknown DPO loss_type {loss_type!r}; known: {', '.join(sorted(DPO_LOSSES))}"
        )
    return DPO_LOSSES[loss_type]


def _check_inputs(
    loss_type: str,
    variant: DPOVariant,
    logps: dict[str, Tensor | None],
    labels: Tensor | None,
    label_smoothing: float,
    beta: float,
) -> None:
    policy = logps["policy_chosen_logps"]
    if policy.dim() != 1:
        raise ValueError(f"policy_chosen_logps must be [B], got shape {tuple(policy.shape)}")
    for name, value in logps.items():
        if value is not None and value.shape != policy.shape:
            raise ValueError(
                f"{name} shape {tuple(value.shape)} does not match "
                f"policy_chosen_logps shape {tuple(policy.shape)}"
            )
    refs = [name for name in ("ref_chosen_logps", "ref_rejected_logps") if logps[name] is not None]
    if variant.reference_free and refs:
        raise ValueError(
            f"loss_type {loss_type!r} is reference-free and would ignore {', '.join(refs)}; "
            "pass None"
        )
    if not variant.reference_free and len(refs) < 2:
        raise ValueError(
            f"loss_type {loss_type!r} compares the policy with a reference model: "
            "pass both ref_chosen_logps and ref_rejected_logps"
        )
    if labels is not None:
        if not variant.labels:
            raise ValueError(f"loss_type {loss_type!r} takes hard labels only; pass labels=None")
        check_preference_labels(labels, policy.shape)
    if label_smoothing and not variant.label_smoothing:
        raise ValueError(f"loss_type {loss_type!r} does not use label_smoothing; pass 0.0")
    check_label_smoothing(label_smoothing)
    if beta <= 0:
        raise ValueError(f"beta must be positive, got {beta}")


def dpo_loss(
    policy_chosen_logps: Tensor,
    policy_rejected_logps: Tensor,
    ref_chosen_logps: Tensor | None = None,
    ref_rejected_logps: Tensor | None = None,
    *,
    beta: float = 0.1,
    loss_type: str = "sigmoid",
    label_smoothing: float = 0.0,
    simpo_gamma: float = 0.5,
    labels: Tensor | None = None,
) -> tuple[Tensor, dict[str, Tensor]]:
    """Mean over pairs of the ``loss_type`` loss from :data:`DPO_LOSSES`.

    Inputs are sequence log-probs ``[B]`` of the response given the prompt (summed over the
    response; length-normalized for ``simpo``). The implicit reward of a response is
    ``beta (log pi - log pi_ref)`` (Rafailov et al. 2023), or ``beta log pi`` without a
    reference. Metrics: ``rewards/chosen``, ``rewards/rejected`` (mean implicit rewards),
    ``rewards/margins`` (their mean gap), ``rewards/accuracies`` (fraction of pairs where the
    chosen reward is higher), ``logps/chosen``, ``logps/rejected`` (mean policy log-probs).
    """
    variant = _variant(loss_type)
    logps = {
        "policy_chosen_logps": policy_chosen_logps,
        "policy_rejected_logps": policy_rejected_logps,
        "ref_chosen_logps": ref_chosen_logps,
        "ref_rejected_logps": ref_rejected_logps,
    }
    _check_inputs(loss_type, variant, logps, labels, label_smoothing, beta)

    chosen_logratios, rejected_logratios = policy_chosen_logps, policy_rejected_logps
    if ref_chosen_logps is not None and ref_rejected_logps is not None:
        chosen_logratios = policy_chosen_logps - ref_chosen_logps
        rejected_logratios = policy_rejected_logps - ref_rejected_logps
    terms = PairTerms(
        h=chosen_logratios - rejected_logratios,
        beta=beta,
        label_smoothing=label_smoothing,
        simpo_gamma=simpo_gamma,
        labels=labels,
    )
    loss = variant.loss(terms).mean()

    chosen_rewards = beta * chosen_logratios.detach()
    rejected_rewards = beta * rejected_logratios.detach()
    metrics = {
        "rewards/chosen": chosen_rewards.mean(),
        "rewards/rejected": rejected_rewards.mean(),
        "rewards/margins": (chosen_rewards - rejected_rewards).mean(),
        "rewards/accuracies": (chosen_rewards > rejected_rewards).float().mean(),
        "logps/chosen": policy_chosen_logps.detach().mean(),
        "logps/rejected": policy_rejected_logps.detach().mean(),
    }
    return loss, metrics
