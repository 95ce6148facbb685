"""A local HF causal LM behind the :class:`~alignlab.models.backends.base.Backend` protocol.

Evaluation calls a local model exactly as it calls an endpoint, so a suite gives
the same records either way. Generation is batched and left-padded by
:func:`~alignlab.models.generation.generate_samples`; requests are grouped by their
sampling settings, and a seeded sampled request draws from a generator seeded by its own
seed, so it gives the same completion whichever requests share its batch: as repeatable
as the endpoint's, and as fast as a batch. Greedy requests (temperature 0) ignore the
seed.

Option probabilities come from the log-probabilities of each option's tokens:
``log p(option | prompt)`` summed over the option's tokens as the model would
write them as its reply (rendered through the chat template when there is one),
normalized over the options. ``coverage`` is the probability mass the options
hold before normalizing, ``min(1, sum_o p(o | prompt))``. Unlike an endpoint's
first-token estimate, options that share a first token (``"(A)"``, ``"(B)"``)
are told apart.

Calls are serialized by a lock, so one backend can serve several threads (the
test server does).
"""

from __future__ import annotations

import math
import threading
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

import torch

from alignlab.data.records import Text
from alignlab.models.backends.base import (
    Completion,
    GenerationRequest,
    OptionProbs,
    as_messages,
    check_options,
)
from alignlab.models.dialogue import stop_strings
from alignlab.models.generation import generate_samples
from alignlab.models.loading import load_causal_lm, load_tokenizer
from alignlab.models.sequences import (
    EncodedPair,
    collate,
    encode_prompt,
    forward_logits,
    has_chat_template,
    sequence_logps,
)


class HFBackend:
    """A :class:`~alignlab.models.backends.base.Backend` over a local causal LM and its tokenizer.

    Args:
        model: A causal LM (``transformers`` or ``peft``), on any device.
        tokenizer: Its tokenizer, with a pad token (:func:`~alignlab.models.load_tokenizer`).
        name: The name shown in records and reports; the model's ``name_or_path`` by default.
        batch_size: Prompts generated together.
    """

    def __init__(self, model, tokenizer, *, name: str | None = None, batch_size: int = 16):
        if batch_size < 1:
            raise ValueError(f"batch_size: must be at least 1, got {batch_size}")
        if tokenizer.pad_token_id is None:
            raise ValueError("tokenizer has no pad token: load it with load_tokenizer to set one")
        self.model = model
        self.tokenizer = tokenizer
        self.batch_size = batch_size
        self._name = name or str(getattr(model, "name_or_path", "") or type(model).__name__)
        self._lock = threading.Lock()

    @classmethod
    def load(
        cls,
        name_or_path: str | Path,
        *,
        device: str | None = None,
        dtype: str = "auto",
        batch_size: int = 16,
        trust_remote_code: bool = False,
    ) -> HFBackend:
        """Load a model directory or hub id with its tokenizer."""
        model = load_causal_lm(
            name_or_path, device=device, dtype=dtype, trust_remote_code=trust_remote_code
        )
        tokenizer = load_tokenizer(name_or_path, trust_remote_code=trust_remote_code)
        return cls(model, tokenizer, name=str(name_or_path), batch_size=batch_size)

    def __repr__(self) -> str:
        return f"HFBackend({self._name!r}, batch_size={self.batch_size})"

    @property
    def name(self) -> str:
        return self._name

    def generate(
        self, requests: Sequence[GenerationRequest], *, progress: bool = False
    ) -> list[Completion]:
        """One completion per request, in request order."""
        requests = list(requests)
        for i, request in enumerate(requests):
            if not isinstance(request, GenerationRequest):
                raise TypeError(
                    f"requests[{i}]: expected a GenerationRequest, got {type(request).__name__}"
                )
        groups: dict[tuple, list[int]] = defaultdict(list)
        for i, r in enumerate(requests):
            seeded = r.temperature > 0 and r.seed is not None
            groups[(r.max_new_tokens, r.temperature, r.top_p, r.n, seeded, r.stop)].append(i)
        results: list[Completion | None] = [None] * len(requests)
        with self._lock:
            for (max_new_tokens, temperature, top_p, n, seeded, stop), indices in groups.items():
                samples = generate_samples(
                    self.model,
                    self.tokenizer,
                    [requests[i].prompt for i in indices],
                    max_new_tokens=max_new_tokens,
                    stop=tuple(dict.fromkeys((*stop_strings(self.tokenizer), *stop))),
                    temperature=temperature if temperature > 0 else 1.0,
                    top_p=top_p,
                    do_sample=temperature > 0,
                    num_return_sequences=n,
                    batch_size=self.batch_size,
                    seeds=[requests[i].seed for i in indices] if seeded else None,
                    progress=progress,
                )
                for i, group in zip(indices, samples, strict=True):
                    results[i] = self._completion(group)
        return results

    def _completion(self, generations) -> Completion:
        texts = [g.text for g in generations]
        reasons = ["stop" if g.finished else "length" for g in generations]
        usage = {
            "prompt_tokens": len(generations[0].prompt_ids),
            "completion_tokens": sum(len(g.response_ids) for g in generations),
        }
        return Completion(tuple(texts), tuple(reasons), model=self._name, usage=usage)

    def option_probs(
        self, prompt: Text, options: Sequence[str], *, votes: int = 8, seed: int | None = None
    ) -> OptionProbs:
        """Probabilities that the reply to ``prompt`` begins with each option.

        Exact, from the log-probabilities of each option's tokens (see the module
        docstring), so ``votes`` and ``seed`` are not needed and are ignored.
        """
        options = check_options(options)
        return _normalized(options, self.option_logps(prompt, options))

    def option_probs_batch(
        self, prompts: Sequence[Text], options: Sequence[Sequence[str]], advance=None
    ) -> list[OptionProbs]:
        """:meth:`option_probs` of many prompts, their options scored ``batch_size`` sequences
        to a forward pass (sorted by length); ``advance(k)`` is told of each prompt done."""
        checked = [check_options(o) for o in options]
        pairs, spans = [], []
        for prompt, opts in zip(prompts, checked, strict=True):
            prompt_ids, option_ids = self._option_ids(prompt, list(opts))
            for option, ids in zip(opts, option_ids, strict=True):
                if not ids:
                    raise ValueError(f"options: {option!r} encodes to no tokens")
            spans.append((len(pairs), len(pairs) + len(opts)))
            pairs += [EncodedPair.from_ids(prompt_ids, ids) for ids in option_ids]
        order = sorted(range(len(pairs)), key=lambda i: len(pairs[i].input_ids))
        logps = [0.0] * len(pairs)
        width = max(1, self.batch_size * 4)  # scoring holds no cache: wider than generation
        with self._lock, torch.inference_mode():
            for start in range(0, len(order), width):
                chunk = order[start : start + width]
                batch = collate([pairs[i] for i in chunk], self.tokenizer.pad_token_id)
                for i, lp in zip(chunk, sequence_logps(self.model, batch).tolist(), strict=True):
                    logps[i] = lp
        if advance is not None:
            advance(len(checked))
        return [_normalized(o, logps[a:b]) for o, (a, b) in zip(checked, spans, strict=True)]

    def option_logps(self, prompt: Text, options: Sequence[str]) -> list[float]:
        """``log p(option | prompt)`` of each option, summed over the option's tokens."""
        prompt_ids, option_ids = self._option_ids(prompt, list(options))
        for option, ids in zip(options, option_ids, strict=True):
            if not ids:
                raise ValueError(f"options: {option!r} encodes to no tokens")
        if all(len(ids) == 1 for ids in option_ids):
            # One token each (letters): one forward pass of the prompt reads them all.
            logps = self._next_token_logps(prompt_ids)
            return [float(logps[ids[0]]) for ids in option_ids]
        pairs = [EncodedPair.from_ids(prompt_ids, ids) for ids in option_ids]
        batch = collate(pairs, self.tokenizer.pad_token_id)
        with self._lock, torch.inference_mode():
            logps = sequence_logps(self.model, batch)
        return [float(x) for x in logps]

    def _next_token_logps(self, prompt_ids: list[int]) -> torch.Tensor:
        """``log p(token | prompt)`` of every token as the reply's first, a ``[vocab]`` tensor."""
        batch = {
            "input_ids": torch.tensor([prompt_ids]),
            "attention_mask": torch.ones(1, len(prompt_ids), dtype=torch.long),
        }
        with self._lock, torch.inference_mode():
            logits = forward_logits(self.model, batch)[0, -1].float()
        return torch.log_softmax(logits, dim=-1)

    def top_logprobs(self, prompt: Text, k: int) -> list[tuple[str, float]]:
        """The ``k`` most probable first tokens of the reply, as ``(text, logprob)``, best first."""
        if k < 1:
            raise ValueError(f"k: must be at least 1, got {k}")
        ids = encode_prompt(self.tokenizer, as_messages(prompt))
        logps = self._next_token_logps(ids)
        values, indices = logps.topk(min(k, logps.numel()))
        return [
            (self.tokenizer.decode([int(i)]), float(v))
            for v, i in zip(values.tolist(), indices.tolist(), strict=True)
        ]

    def _option_ids(self, prompt: Text, options: list[str]) -> tuple[list[int], list[list[int]]]:
        """The prompt's ids and each option's ids as the model would write them as its reply."""
        tokenizer = self.tokenizer
        messages = as_messages(prompt)
        prompt_ids = encode_prompt(tokenizer, messages)
        if not has_chat_template(tokenizer):
            return prompt_ids, [
                tokenizer(o, add_special_tokens=False)["input_ids"] for o in options
            ]
        prompt_text = tokenizer.apply_chat_template(
            messages, tokenize=False, add_generation_prompt=True
        )
        option_ids = []
        for option in options:
            full = tokenizer.apply_chat_template(
                [*messages, {"role": "assistant", "content": option}], tokenize=False
            )
            tail = full[len(prompt_text) :] if full.startswith(prompt_text) else ""
            # The reply as rendered, up to the end of the option (the template's end of
            # turn is not part of it); a template that rewrites the content falls back
            # to the option's own tokens.
            end = tail.find(option.strip())
            reply = tail[: end + len(option.strip())] if end >= 0 else option
            ids = tokenizer(prompt_text + reply, add_special_tokens=False)["input_ids"]
            if end >= 0 and ids[: len(prompt_ids)] == prompt_ids:
                option_ids.append(ids[len(prompt_ids) :])
            else:
                option_ids.append(tokenizer(option, add_special_tokens=False)["input_ids"])
        return prompt_ids, option_ids


def _normalized(options: tuple[str, ...], logps: Sequence[float]) -> OptionProbs:
    """The options' probabilities from their log-probabilities: normalized over the options,
    with the mass they held before (``coverage``)."""
    top = max(logps)
    weights = [math.exp(lp - top) for lp in logps]
    total = sum(weights)
    coverage = min(1.0, sum(math.exp(lp) for lp in logps))
    return OptionProbs(options, tuple(w / total for w in weights), "logprobs", coverage)
