"""Pure loss functions: tensors in, ``(loss, metrics)`` out.

``metrics`` is a ``dict[str, Tensor]`` of detached 0-dim tensors. Token tensors are
``[B, T]`` and ``logits[:, t]`` predicts ``input_ids[:, t + 1]``, so per-token log-probs
are ``[B, T - 1]`` and their response mask is ``response_mask[:, 1:]``. This package
depends on torch alone.
"""

from alignlab.objectives.bradley_terry import bradley_terry_loss, preference_cross_entropy
from alignlab.objectives.classification import classification_loss, confidence_loss
from alignlab.objectives.dpo import (
    DPO_LOSSES,
    DPOVariant,
    PairTerms,
    dpo_loss,
    register_dpo_loss,
)
from alignlab.objectives.kl import (
    KL_ESTIMATORS,
    best_of_n_kl,
    kl_estimate,
    kl_k1,
    kl_k2,
    kl_k3,
)
from alignlab.objectives.logprobs import (
    entropy_from_logits,
    masked_mean,
    masked_var,
    masked_whiten,
    sequence_logps,
    token_logps,
)
from alignlab.objectives.ppo import entropy_bonus, gae, policy_loss, value_loss
from alignlab.objectives.sft import sft_loss

__all__ = [
    "DPO_LOSSES",
    "KL_ESTIMATORS",
    "DPOVariant",
    "PairTerms",
    "best_of_n_kl",
    "bradley_terry_loss",
    "classification_loss",
    "confidence_loss",
    "dpo_loss",
    "entropy_bonus",
    "entropy_from_logits",
    "gae",
    "kl_estimate",
    "kl_k1",
    "kl_k2",
    "kl_k3",
    "masked_mean",
    "masked_var",
    "masked_whiten",
    "policy_loss",
    "preference_cross_entropy",
    "register_dpo_loss",
    "sequence_logps",
    "sft_loss",
    "token_logps",
    "value_loss",
]
