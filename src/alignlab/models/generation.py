"""Batched generation from a local causal LM: responses as text, or as token ids.

Prompts are encoded as :func:`~alignlab.models.sequences.encode_prompt` does (chat
template when there is one), grouped by length, left-padded (a decoder-only model
continues from its last position), and generated with ``model.generate``.
Sampling draws from the model's own distribution reshaped only by
``temperature`` and ``top_p``: knobs a checkpoint's ``generation_config.json`` may
set (top-k, repetition penalty, ...) are switched off (the settings of
:mod:`alignlab.models.decoding`, which a server is sent too), so that PPO's
log-probs describe the policy that actually sampled.

A ``seed`` seeds torch's RNG for the whole call, so the samples depend on which prompts
share a batch. With ``seeds``, one per prompt, each prompt's samples are drawn from a
generator of its own (:class:`RowSampler`), so a prompt's samples are the same whichever
prompts it is batched with: an evaluation can batch requests that each carry a seed.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import torch
from rich.progress import Progress
from transformers import (
    GenerationConfig,
    LogitsProcessor,
    LogitsProcessorList,
    StoppingCriteria,
    StoppingCriteriaList,
    TemperatureLogitsWarper,
    TopPLogitsWarper,
)
from transformers.tokenization_utils_base import PreTrainedTokenizerBase

from alignlab.data.records import Text
from alignlab.models.decoding import PLAIN_DECODING, PLAIN_SAMPLING
from alignlab.models.dialogue import stop_strings
from alignlab.models.sequences import encode_prompts


@dataclass(frozen=True, slots=True)
class Generation:
    """One sampled response: its prompt's ids, its own ids, and its decoded text.

    ``response_ids`` end with the stop token when ``finished``; otherwise the
    response was cut at ``max_new_tokens``.
    """

    prompt_ids: list[int]
    response_ids: list[int]
    text: str
    finished: bool


def stop_token_ids(model: torch.nn.Module, tokenizer: PreTrainedTokenizerBase) -> list[int]:
    """Token ids that end a response: the tokenizer's EOS and the model's own end-of-turn ids."""
    ids = [] if tokenizer.eos_token_id is None else [tokenizer.eos_token_id]
    config = getattr(model, "generation_config", None)
    extra = getattr(config, "eos_token_id", None)
    for token_id in [extra] if isinstance(extra, int) else extra or []:
        if token_id not in ids:
            ids.append(token_id)
    if not ids:
        raise ValueError("neither the tokenizer nor the model defines an eos token to stop at")
    return ids


@contextlib.contextmanager
def seeded(seed: int | None, device: torch.device) -> Iterator[None]:
    """Seed torch's RNG for the block; the caller's CPU and CUDA RNG states are restored after."""
    if seed is None:
        yield
        return
    devices = []
    if device.type == "cuda":
        devices = [device.index if device.index is not None else torch.cuda.current_device()]
    with torch.random.fork_rng(devices=devices, device_type="cuda" if devices else None):
        torch.manual_seed(seed)
        yield


@contextlib.contextmanager
def _eval_mode(model: torch.nn.Module) -> Iterator[None]:
    """No dropout while generating; the caller's train/eval mode is restored."""
    was_training = model.training
    model.eval()
    try:
        yield
    finally:
        model.train(was_training)


class RowSampler(LogitsProcessor):
    """Draws each prompt's next tokens from its own seeded generator, after ``temperature``
    and ``top_p``, and leaves only the drawn token possible, so that ``generate``'s own
    sampling (run at temperature 1, top-p 1) can pick nothing else.

    Rows are the prompts' ``rows_per_prompt`` consecutive sequences, as ``generate``
    expands ``num_return_sequences``."""

    def __init__(
        self, seeds: Sequence[int], rows_per_prompt: int, temperature: float, top_p: float
    ):
        self.seeds = list(seeds)
        self.rows = rows_per_prompt
        self.warpers = LogitsProcessorList([TemperatureLogitsWarper(temperature)])
        if top_p < 1.0:
            self.warpers.append(TopPLogitsWarper(top_p))
        self.generators: list[torch.Generator] | None = None

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        if self.generators is None:
            self.generators = [
                torch.Generator(device=scores.device).manual_seed(s) for s in self.seeds
            ]
        probs = torch.softmax(self.warpers(input_ids, scores).float(), dim=-1)
        chosen = torch.cat(
            [
                torch.multinomial(probs[i * self.rows : (i + 1) * self.rows], 1, generator=g)
                for i, g in enumerate(self.generators)
            ]
        )
        only = torch.full_like(scores, float("-inf"))
        return only.scatter_(1, chosen, 0.0)


def _left_pad(rows: list[list[int]], pad_id: int, device: torch.device):
    width = max(len(r) for r in rows)
    input_ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    attention_mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, row in enumerate(rows):
        input_ids[i, width - len(row) :] = torch.tensor(row, dtype=torch.long)
        attention_mask[i, width - len(row) :] = 1
    return input_ids.to(device), attention_mask.to(device)


def _cut_at_stop(new_ids: list[int], stop_ids: set[int]) -> tuple[list[int], bool]:
    for i, token_id in enumerate(new_ids):
        if token_id in stop_ids:
            return new_ids[: i + 1], True
    return new_ids, False


class StopAtStrings(StoppingCriteria):
    """Ends each row once its new text contains one of ``stop``: the last few new tokens
    of a row are decoded at each step (a stop string of ``n`` characters spans at most
    ``n + 1`` tokens), so any tokenizer works, whatever its vocabulary's byte forms."""

    def __init__(self, tokenizer: PreTrainedTokenizerBase, stop: Sequence[str], prompt_len: int):
        self.tokenizer, self.stop, self.prompt_len = tokenizer, tuple(stop), prompt_len
        self.window = max(len(s) for s in self.stop) + 1

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor, **kwargs):
        start = max(self.prompt_len, input_ids.shape[1] - self.window)
        tails = self.tokenizer.batch_decode(input_ids[:, start:], skip_special_tokens=True)
        hit = [any(s in tail for s in self.stop) for tail in tails]
        return torch.tensor(hit, dtype=torch.bool, device=input_ids.device)


def _cut_at_string(
    tokenizer: PreTrainedTokenizerBase, ids: list[int], stop: Sequence[str]
) -> tuple[list[int], str] | None:
    """``(ids up to and including the first stop string, the text before it)``, or ``None``."""
    text = tokenizer.decode(ids, skip_special_tokens=True)
    cuts = [text.find(s) for s in stop if s in text]
    if not cuts:
        return None
    for k in range(1, len(ids) + 1):
        if any(s in tokenizer.decode(ids[:k], skip_special_tokens=True) for s in stop):
            return ids[:k], text[: min(cuts)]
    return ids, text[: min(cuts)]


def generate_samples(
    model: torch.nn.Module,
    tokenizer: PreTrainedTokenizerBase,
    prompts: Sequence[Text],
    *,
    stop: Sequence[str] | None = None,
    max_new_tokens: int = 64,
    temperature: float = 1.0,
    top_p: float = 1.0,
    do_sample: bool = True,
    num_return_sequences: int = 1,
    batch_size: int = 32,
    seed: int | None = None,
    seeds: Sequence[int] | None = None,
    progress: bool = False,
) -> list[list[Generation]]:
    """Generate ``num_return_sequences`` responses per prompt, keeping their token ids.

    Returns one list per prompt, in the prompts' order. With ``do_sample=False``
    decoding is greedy (``temperature``, ``top_p`` and the seeds are unused); with a
    ``seed`` sampling is reproducible for the same prompts and ``batch_size``; with
    ``seeds`` (one per prompt) each prompt's samples are reproducible on their own,
    whatever the other prompts and the ``batch_size``.

    A response also ends at the first of the ``stop`` strings (by default those of the
    tokenizer's dialogue format, :func:`~alignlab.models.dialogue.stop_strings`): its
    text stops before the string, its ids run through it (as they run through EOS).
    """
    stop = tuple(stop_strings(tokenizer) if stop is None else stop)
    if seeds is not None:
        seeds = [int(s) for s in seeds]
        if seed is not None:
            raise ValueError("seed, seeds: give one seed for the call or one per prompt, not both")
        if len(seeds) != len(prompts):
            raise ValueError(f"seeds: expected one per prompt ({len(prompts)}), got {len(seeds)}")
    if max_new_tokens < 1:
        raise ValueError(f"max_new_tokens must be >= 1, got {max_new_tokens}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if num_return_sequences < 1:
        raise ValueError(f"num_return_sequences must be >= 1, got {num_return_sequences}")
    if do_sample and temperature <= 0:
        raise ValueError(
            f"temperature must be > 0 when sampling, got {temperature} (use do_sample=False for greedy)"
        )
    if not 0 < top_p <= 1:
        raise ValueError(f"top_p must be in (0, 1], got {top_p}")
    if getattr(model.config, "is_encoder_decoder", False):
        raise ValueError("generate supports decoder-only (causal) language models only")
    pad_id = tokenizer.pad_token_id
    if pad_id is None:
        raise ValueError("tokenizer has no pad token: load it with load_tokenizer to set one")
    stop_ids = stop_token_ids(model, tokenizer)
    stop_set = set(stop_ids)
    per_prompt = do_sample and seeds is not None
    # A RowSampler applies temperature and top-p itself and leaves generate() one token.
    warp = (
        {"temperature": 1.0, "top_p": 1.0}
        if per_prompt
        else {"temperature": temperature, "top_p": top_p}
    )
    sampling = {**warp, **PLAIN_SAMPLING} if do_sample else {}
    config = GenerationConfig(
        max_new_tokens=max_new_tokens,
        do_sample=do_sample,
        num_return_sequences=num_return_sequences,
        eos_token_id=stop_ids,
        pad_token_id=pad_id,
        **PLAIN_DECODING,
        **sampling,
    )
    prompt_ids = encode_prompts(tokenizer, prompts)
    order = sorted(range(len(prompt_ids)), key=lambda i: len(prompt_ids[i]))
    results: list[list[Generation]] = [[] for _ in prompt_ids]
    device = next(model.parameters()).device
    with (
        _eval_mode(model),
        torch.inference_mode(),
        seeded(0 if per_prompt else seed, device),  # generate() draws too: keep the caller's RNG
        Progress(disable=not progress, transient=True) as bar,
    ):
        task = bar.add_task("generating", total=len(prompt_ids))
        for start in range(0, len(order), batch_size):
            chunk = order[start : start + batch_size]
            input_ids, attention_mask = _left_pad([prompt_ids[i] for i in chunk], pad_id, device)
            processors = LogitsProcessorList()
            if per_prompt:
                chunk_seeds = [seeds[i] for i in chunk]
                processors.append(RowSampler(chunk_seeds, num_return_sequences, temperature, top_p))
            output = model.generate(
                input_ids=input_ids,
                attention_mask=attention_mask,
                generation_config=config,
                logits_processor=processors,
                stopping_criteria=StoppingCriteriaList(
                    [StopAtStrings(tokenizer, stop, input_ids.shape[1])] if stop else []
                ),
            )
            new_rows = output[:, input_ids.shape[1] :].tolist()
            for row, new_ids in enumerate(new_rows):
                index = chunk[row // num_return_sequences]
                response_ids, finished = _cut_at_stop(new_ids, stop_set)
                text = tokenizer.decode(response_ids, skip_special_tokens=True)
                cut = _cut_at_string(tokenizer, response_ids, stop) if stop else None
                if cut is not None:
                    (response_ids, text), finished = cut, True
                results[index].append(
                    Generation(list(prompt_ids[index]), response_ids, text, finished)
                )
            bar.advance(task, len(chunk))
    return results


def generate(
    model: torch.nn.Module,
    tokenizer: PreTrainedTokenizerBase,
    prompts: Sequence[Text],
    **options,
) -> list[list[str]]:
    """Generate response texts (special tokens stripped), ``num_return_sequences`` per prompt.

    The same as :func:`generate_samples`, with its keyword options, keeping only the texts.
    """
    samples = generate_samples(model, tokenizer, prompts, **options)
    return [[g.text for g in group] for group in samples]
