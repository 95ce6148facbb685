"""Which model plays a part in a feedback run (policy, critic, feedback model), and opening it.

Every part is a :class:`~alignlab.models.backends.Backend`: a local HF model, or any
OpenAI-compatible endpoint when ``base_url`` is set (its key read from the environment
variable ``api_key_env`` names, never from a file).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from alignlab.models.backends import (
    Backend,
    ResponseCache,
    check_server,
    model_stop_strings,
    served_backend,
)


@dataclass
class ModelSpec:
    """A model to call: a local directory or hub id, or a model served at ``base_url``."""

    model: str | None = None
    """A local model directory or hub id; with ``base_url``, the name the endpoint serves.
    Required."""
    base_url: str | None = None
    """An OpenAI-compatible endpoint such as ``http://localhost:8000/v1``; unset: local."""
    api_key_env: str | None = None
    """The environment variable holding the endpoint's API key; unset: no key is sent."""
    concurrency: int = 8
    """Endpoint requests in flight at once."""
    timeout: float = 60.0
    """Seconds one whole endpoint request may take, connecting to the last byte, before it
    is abandoned and retried."""
    max_retries: int = 6
    """Retries per endpoint request."""
    top_logprobs: int = 20
    """First-token alternatives asked of an endpoint when reading option probabilities."""
    server: str = "openai"
    """What serves ``base_url`` (``openai``, ``transformers``, ``vllm``, ``llama.cpp``), for the
    request fields that make it sample as a local model does (``transformers serve`` answers
    greedily without them, so its votes would all agree); a model named by a local
    directory's path gets that directory's dialogue stop strings."""
    device: str | None = None
    """Device of a local model; unset: the best available."""
    dtype: str = "auto"
    """Dtype of a local model."""
    batch_size: int = 32
    """Prompts a local model generates together."""

    def __post_init__(self) -> None:
        if not self.model:
            raise ValueError(
                "ModelSpec.model is required: name a model directory, hub id, or served model"
            )
        if self.api_key_env is not None and self.base_url is None:
            raise ValueError("api_key_env: only an endpoint (base_url) takes an API key")
        check_server(self.server)


def output_cache(output: str, enabled: bool, *specs: ModelSpec | None) -> ResponseCache | None:
    """``OUTPUT.cache.sqlite`` for a run writing ``output``, when ``enabled`` and any of
    ``specs`` is an endpoint (local models are not cached: rerunning them costs nothing)."""
    served = any(spec is not None and spec.base_url for spec in specs)
    return ResponseCache(Path(output + ".cache.sqlite")) if enabled and served else None


def open_backend(spec: ModelSpec, cache: ResponseCache | None = None) -> Backend:
    """The backend ``spec`` describes; ``cache`` keeps an endpoint's responses for reruns."""
    if spec.base_url is not None:
        return served_backend(
            spec.base_url,
            spec.model,
            server=spec.server,
            stop=model_stop_strings(spec.model),
            api_key_env=spec.api_key_env,
            concurrency=spec.concurrency,
            timeout=spec.timeout,
            max_retries=spec.max_retries,
            cache=cache,
            top_logprobs=spec.top_logprobs,
        )
    from alignlab.models.backends.hf import HFBackend

    return HFBackend.load(
        spec.model, device=spec.device, dtype=spec.dtype, batch_size=spec.batch_size
    )
