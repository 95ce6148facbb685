"""Generating through an OpenAI-compatible server as a local model generates.

Local generation (:mod:`alignlab.models.generation`) samples from the model's own
distribution reshaped only by temperature and top-p: a checkpoint's
``generation_config.json`` defaults (top-k, repetition penalty, ...) are switched off, and
a base model in alignlab's dialogue format ends its turn at its tokenizer's stop strings
(:func:`~alignlab.models.dialogue.stop_strings`). A server applies the model's defaults
unless the request overrides them, and each names those fields its own way, so
:data:`SAMPLING_FIELDS` holds, per server, the request fields that make it sample plainly:

- ``transformers``: ``transformers serve`` samples only when the generation config says
  ``do_sample`` (else every answer is greedy, whatever the temperature), and takes the
  settings as one JSON string, ``generation_config``; it refuses fields it does not know
  (HTTP 422), so ``top_k`` cannot be sent alone. It ignores ``n`` and ``logprobs``.
- ``vllm``: ``top_k`` (``-1``: all tokens), ``min_p`` and ``repetition_penalty``, which
  vLLM takes beside the OpenAI fields.
- ``llama.cpp``: ``llama-server``'s ``top_k`` (``0``: all tokens), ``min_p`` and
  ``repeat_penalty``, whose defaults (40, 0.05) reshape sampling otherwise.
- ``openai``: nothing (hosted APIs sample plainly and refuse fields they do not know).

:func:`served_backend` builds an
:class:`~alignlab.models.backends.openai.OpenAIChatBackend` with those fields and the
stop strings a local :class:`~alignlab.models.backends.hf.HFBackend` would use
(:func:`model_stop_strings` reads them from the model directory's tokenizer).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from alignlab.models.backends.openai import OpenAIChatBackend
from alignlab.models.decoding import PLAIN_DECODING, PLAIN_SAMPLING

SAMPLING_FIELDS: dict[str, dict[str, Any]] = {
    "transformers": {
        "generation_config": json.dumps({"do_sample": True, **PLAIN_DECODING, **PLAIN_SAMPLING})
    },
    "vllm": {"top_k": -1, "min_p": 0.0, "repetition_penalty": 1.0},
    "llama.cpp": {"top_k": 0, "min_p": 0.0, "repeat_penalty": 1.0},
    "openai": {},
}
"""Per server, the request fields that make it sample as local generation does (see the
module docstring)."""

SERVERS = tuple(SAMPLING_FIELDS)
"""The servers :data:`SAMPLING_FIELDS` knows."""


def check_server(server: str, field: str = "server") -> str:
    """``server`` when :data:`SAMPLING_FIELDS` knows it; else an error naming ``field``."""
    if server not in SAMPLING_FIELDS:
        raise ValueError(f"{field}: {server!r} is not one of {list(SERVERS)}")
    return server


def sampling_fields(server: str) -> dict[str, Any]:
    """The request fields that make ``server`` sample plainly (a copy)."""
    return dict(SAMPLING_FIELDS[check_server(server)])


def model_stop_strings(
    model_dir: str | Path, *, chat_template: str | Path | None = None
) -> tuple[str, ...]:
    """The stop strings a local model in ``model_dir`` ends its turn at (its tokenizer's
    dialogue stop strings, with ``chat_template`` replacing its own); none when
    ``model_dir`` is not a local directory (a name only the server knows)."""
    if not Path(model_dir).is_dir():
        return ()
    import warnings

    from alignlab.models.dialogue import stop_strings
    from alignlab.models.loading import load_tokenizer

    with warnings.catch_warnings():
        # A tokenizer with no template gets the few-shot format: the stop strings say so.
        warnings.simplefilter("ignore", UserWarning)
        tokenizer = load_tokenizer(model_dir, chat_template=chat_template)
    return stop_strings(tokenizer)


def served_backend(
    base_url: str,
    model: str,
    *,
    server: str = "transformers",
    stop: Sequence[str] = (),
    extra_body: dict[str, Any] | None = None,
    **options: Any,
) -> OpenAIChatBackend:
    """A backend for ``model`` at ``base_url`` that samples as a local model does: with
    ``server``'s :data:`SAMPLING_FIELDS` (then ``extra_body``) in every request, and the
    ``stop`` strings (those of :func:`model_stop_strings` for a model directory).
    ``options`` are :class:`OpenAIChatBackend`'s (``api_key_env``, ``concurrency``, ...)."""
    body = {**sampling_fields(server), **(extra_body or {})}
    return OpenAIChatBackend(base_url, model, extra_body=body, stop=stop, **options)
