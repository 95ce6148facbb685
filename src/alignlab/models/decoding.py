"""The decoding settings that leave a model's distribution its own.

A checkpoint's ``generation_config.json`` may set top-k, a repetition penalty and other
knobs that ``generate()`` applies unless told otherwise. Local generation
(:mod:`alignlab.models.generation`) and the requests sent to a server
(:mod:`alignlab.models.backends.servers`) set these neutral values, so that samples come
from the model reshaped only by temperature and top-p, and PPO's log-probs describe the
policy that sampled.
"""

from __future__ import annotations

from typing import Any

PLAIN_DECODING: dict[str, Any] = {
    "repetition_penalty": 1.0,
    "no_repeat_ngram_size": 0,
    "num_beams": 1,
    "min_new_tokens": 0,
}
"""Generation settings that leave greedy decoding and sampling as the model's own:
explicit neutral values, since ``generate()`` fills an unset field from the checkpoint."""

PLAIN_SAMPLING: dict[str, Any] = {
    "top_k": 0,
    "min_p": 0.0,
    "typical_p": 1.0,
    "epsilon_cutoff": 0.0,
    "eta_cutoff": 0.0,
}
"""Sampling settings that switch off every truncation but temperature and top-p."""
