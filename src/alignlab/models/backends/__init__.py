"""Generation backends: one protocol for local models and OpenAI-compatible endpoints.

Evaluation and AI feedback call a :class:`Backend` (``generate`` and
``option_probs``), so the same run works on a local HF model and on any
``/chat/completions`` server, with concurrency, retries and a response cache
(:func:`served_backend`: a served model that samples as the local one does).
:class:`HFBackend` (a local HF causal LM) is imported on first use.
"""

from alignlab.models.backends.base import (
    Backend,
    Completion,
    GenerationRequest,
    OptionMethod,
    OptionProbs,
    as_messages,
    check_options,
    first_token_probs,
    run_sync,
    sample_requests,
    sample_seed,
    vote_for,
    vote_probs,
)
from alignlab.models.backends.cache import ResponseCache, cache_key
from alignlab.models.backends.openai import (
    EndpointError,
    OpenAIChatBackend,
    backoff_seconds,
    retry_after_seconds,
)
from alignlab.models.backends.servers import (
    SAMPLING_FIELDS,
    SERVERS,
    check_server,
    model_stop_strings,
    sampling_fields,
    served_backend,
)

__all__ = [
    "SAMPLING_FIELDS",
    "SERVERS",
    "Backend",
    "Completion",
    "EndpointError",
    "GenerationRequest",
    "HFBackend",
    "OpenAIChatBackend",
    "OptionMethod",
    "OptionProbs",
    "ResponseCache",
    "as_messages",
    "backoff_seconds",
    "cache_key",
    "check_options",
    "check_server",
    "first_token_probs",
    "model_stop_strings",
    "retry_after_seconds",
    "run_sync",
    "sample_requests",
    "sample_seed",
    "sampling_fields",
    "served_backend",
    "vote_for",
    "vote_probs",
]


def __getattr__(name: str):
    # HFBackend needs torch and transformers; load them only when it is asked for.
    if name == "HFBackend":
        from alignlab.models.backends.hf import HFBackend

        return HFBackend
    raise AttributeError(f"module 'alignlab.models.backends' has no attribute {name!r}")
