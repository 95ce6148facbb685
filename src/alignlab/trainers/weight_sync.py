"""How a PPO run's rollout server comes to serve each step's policy (``weight_sync``).

PPO samples each step's rollout from the policy as the last update left it. When an
OpenAI-compatible server samples the rollouts (``rollout_base_url``), it must serve those
weights; the policy, its value head and the reference still score every response locally
(:mod:`alignlab.trainers.rollout`). :data:`WEIGHT_SYNCS` holds the methods, by name:

- ``reload``: before each step whose policy changed, the policy (LoRA merged into full
  weights, from a copy: training goes on with the adapter) is saved with its tokenizer
  and chat template to ``OUTPUT_DIR/served/step-N`` (``N``: the updates so far) and asked
  for by that path as the model. ``transformers serve`` started *without* a model loads
  it on demand (start it with a short ``--model-timeout``, e.g. 10, so each step's model
  is unloaded soon after its rollout). Only the latest directory is kept.
- ``vllm-lora``: a LoRA policy's adapter is saved to ``OUTPUT_DIR/served/step-N`` and
  loaded into vLLM through ``POST /v1/load_lora_adapter`` (vLLM started with
  ``--enable-lora`` and ``VLLM_ALLOW_RUNTIME_LORA_UPDATING=True``, reading the same disk);
  requests name the adapter, and the previous one is unloaded.
- ``local``: nothing is sent; the local policy samples (what the others fall back to).

A server that cannot take new weights (``transformers serve MODEL`` pinned to one model,
vLLM asked for a path, or without its LoRA endpoint, llama.cpp) refuses the first
request for them with a client error (HTTP 4xx), which a one-token probe makes before the
rollout: the run warns, saying why, and samples locally from then on. A server that does
not answer at all is an error, as it is for an evaluation.
"""

from __future__ import annotations

import copy
import os
import shutil
import warnings
from pathlib import Path
from typing import Any, Protocol

import httpx

from alignlab.models.backends import (
    EndpointError,
    GenerationRequest,
    OpenAIChatBackend,
    served_backend,
)
from alignlab.trainers.rundir import merged, save_model_dir, save_weights


class WeightSyncRefused(RuntimeError):
    """The rollout server cannot serve the policy's new weights; the message says why."""


class WeightSync(Protocol):
    """A way of making the rollout server serve the policy's current weights."""

    def publish(self, server: RolloutServer, policy, tokenizer, version: int) -> str:
        """Make the policy after ``version`` updates servable; the model name to request."""
        ...

    def retire(self, server: RolloutServer, model: str) -> None:
        """Free what served the previous version, ``model``."""
        ...


def _served_dir(server: RolloutServer, version: int) -> Path:
    return (server.directory / f"step-{version}").resolve()


class Reload:
    """Saves the merged policy where a server that loads models on demand reads it."""

    def publish(self, server: RolloutServer, policy, tokenizer, version: int) -> str:
        path = _served_dir(server, version)
        from peft import PeftModel

        plain = merged(copy.deepcopy(policy)) if isinstance(policy, PeftModel) else policy

        def save(directory: Path) -> None:
            plain.save_pretrained(directory)
            tokenizer.save_pretrained(directory)

        save_model_dir(save, path)
        return str(path)

    def retire(self, server: RolloutServer, model: str) -> None:
        shutil.rmtree(model, ignore_errors=True)


class VLLMLora:
    """Loads a LoRA policy's adapter into vLLM through its runtime LoRA endpoints."""

    def publish(self, server: RolloutServer, policy, tokenizer, version: int) -> str:
        from peft import PeftModel

        if not isinstance(policy, PeftModel):
            raise WeightSyncRefused(
                "weight_sync 'vllm-lora' loads a LoRA policy's adapter, and this policy trains "
                "all its weights (use 'reload' with a server that loads models on demand)"
            )
        path = _served_dir(server, version)

        def save(directory: Path) -> None:
            save_weights(policy, directory)
            tokenizer.save_pretrained(directory)

        save_model_dir(save, path)
        name = f"step-{version}"
        server.post("load_lora_adapter", {"lora_name": name, "lora_path": str(path)})
        return name

    def retire(self, server: RolloutServer, model: str) -> None:
        server.post("unload_lora_adapter", {"lora_name": model})
        shutil.rmtree(server.directory / model, ignore_errors=True)


WEIGHT_SYNCS: dict[str, type | None] = {"reload": Reload, "vllm-lora": VLLMLora, "local": None}
"""The weight-sync methods by name (``local``: none, the local policy samples)."""


def check_weight_sync(name: str) -> str:
    """``name`` when it names a method of :data:`WEIGHT_SYNCS`."""
    if name not in WEIGHT_SYNCS:
        raise ValueError(f"weight_sync: {name!r} is not one of {list(WEIGHT_SYNCS)}")
    return name


class RolloutServer:
    """The server a PPO run samples its rollouts at, and the policy version it serves.

    Args:
        base_url: The server's API root, such as ``http://127.0.0.1:8000/v1``.
        method: A name in :data:`WEIGHT_SYNCS`.
        directory: Where the served weights are written (``OUTPUT_DIR/served``).
        server: What serves ``base_url``, for the fields that make it sample plainly
            (:data:`~alignlab.models.backends.SAMPLING_FIELDS`).
        options: :class:`~alignlab.models.backends.OpenAIChatBackend`'s (``api_key_env``,
            ``concurrency``, ``timeout``, ``transport``, ...).
    """

    def __init__(
        self,
        base_url: str,
        method: str,
        directory: str | Path,
        *,
        server: str = "transformers",
        **options: Any,
    ):
        sync = WEIGHT_SYNCS[check_weight_sync(method)]
        self.base_url, self.method_name = base_url.rstrip("/"), method
        self.method: WeightSync | None = None if sync is None else sync()
        self.directory = Path(directory)
        self.server, self.options = server, options
        self.version: int | None = None
        self.model: str | None = None
        self.backend("policy")  # refuse a bad URL or an unset key now, not at the first step

    @property
    def local(self) -> bool:
        """Whether rollouts are sampled locally (``local``, or after a refusal)."""
        return self.method is None

    def backend(self, model: str | None) -> OpenAIChatBackend | None:
        """A backend asking the server for ``model``; ``None`` (sample locally) for none."""
        if model is None:
            return None
        return served_backend(self.base_url, model, server=self.server, **self.options)

    def sync(self, policy, tokenizer, version: int) -> str | None:
        """Serve the policy after ``version`` updates, unless it is served already; the model
        name to ask for, or ``None`` when rollouts are sampled locally (after a refusal,
        which is warned about once)."""
        if self.method is None:
            return None
        if version == self.version:
            return self.model
        try:
            model = self.method.publish(self, policy, tokenizer, version)
            self._probe(model)
        except WeightSyncRefused as refusal:
            warnings.warn(
                f"rollout server {self.base_url} (weight_sync {self.method_name!r}): "
                f"{refusal}; the local policy samples the rollouts from here on "
                "(docs/scale.md: generation through a server)",
                stacklevel=2,
            )
            self.method = None
            return None
        if self.model is not None and self.model != model:
            try:
                self.method.retire(self, self.model)
            except WeightSyncRefused as refusal:
                warnings.warn(f"rollout server {self.base_url}: {refusal}", stacklevel=2)
        self.version, self.model = version, model
        return model

    def _probe(self, model: str) -> None:
        """Ask for one token of ``model``: a client error means the server cannot serve it."""
        try:
            self.backend(model).generate([GenerationRequest("Hello", max_new_tokens=1)])
        except EndpointError as error:
            if error.status is not None and 400 <= error.status < 500 and error.status != 429:
                raise WeightSyncRefused(
                    f"it cannot serve the new weights as {model!r} ({error}); 'reload' needs a "
                    "server that loads a model directory on demand (`transformers serve` "
                    "started without a model), 'vllm-lora' vLLM's runtime LoRA endpoints"
                ) from None
            raise

    def post(self, path: str, body: dict[str, Any]) -> None:
        """``POST {base_url}/{path}``; a client error is a :class:`WeightSyncRefused`."""
        key_env = self.options.get("api_key_env")
        key = os.environ.get(key_env) if key_env else None
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        timeout = self.options.get("timeout", 60.0)
        transport = self.options.get("transport")
        with httpx.Client(headers=headers, timeout=timeout, transport=transport) as client:
            response = client.post(f"{self.base_url}/{path}", json=body)
        if 400 <= response.status_code < 500:
            text = response.text.replace(key, "<redacted>") if key else response.text
            raise WeightSyncRefused(
                f"POST {path} answered HTTP {response.status_code}: {text[:200]}"
            )
        if response.status_code >= 300:
            raise EndpointError(
                f"{self.base_url}/{path} answered HTTP {response.status_code}",
                response.status_code,
            )
