"""Responses a backend wrote, as the token ids a local tokenizer gives them.

PPO scores a rollout token by token with the local policy, its value head and the
reference, so a response that a server sampled is tokenized here into the
:class:`~alignlab.models.generation.Generation` that local generation would have returned:

- the prompt's ids as local generation encodes them
  (:func:`~alignlab.models.sequences.encode_prompts`);
- the response's ids as the tail of the prompt's text and the response's, tokenized
  together (the response's own tokens where that tail does not start after the prompt's);
- then what ended it, as local generation keeps it in the ids: EOS when the server
  stopped at the end of a turn, the stop string's tokens when it stopped at one of the
  dialogue's stop strings (:attr:`~alignlab.models.backends.Completion.stopped_at`),
  nothing when it reached ``max_new_tokens`` (``finish_reason="length"``).

A server that strips special tokens from its text cannot say which end-of-turn token it
sampled; the tokenizer's EOS stands for it. Retokenizing a text gives the tokenizer's own
split of it, which is the split the model almost always samples; where it is not, the
log-probs are those of the same text in the tokenizer's split.
"""

from __future__ import annotations

from collections.abc import Sequence

from transformers.tokenization_utils_base import PreTrainedTokenizerBase

from alignlab.data.records import Text
from alignlab.models.backends.base import Backend, Completion, GenerationRequest, as_messages
from alignlab.models.dialogue import stop_strings
from alignlab.models.generation import Generation
from alignlab.models.sequences import encode_prompts, has_chat_template


def _prompt_text(tokenizer: PreTrainedTokenizerBase, prompt: Text) -> str | None:
    if not has_chat_template(tokenizer):
        return None
    return tokenizer.apply_chat_template(
        as_messages(prompt), tokenize=False, add_generation_prompt=True
    )


def response_ids(
    tokenizer: PreTrainedTokenizerBase, prompt: Text, prompt_ids: list[int], text: str
) -> list[int]:
    """The ids of ``text`` written after ``prompt`` (see the module docstring)."""
    if not text:
        return []
    rendered = _prompt_text(tokenizer, prompt)
    if rendered is not None:
        ids = tokenizer(rendered + text, add_special_tokens=False)["input_ids"]
        if len(ids) > len(prompt_ids) and ids[: len(prompt_ids)] == prompt_ids:
            return list(ids[len(prompt_ids) :])
    return list(tokenizer(text, add_special_tokens=False)["input_ids"])


def served_generation(
    tokenizer: PreTrainedTokenizerBase,
    prompt: Text,
    prompt_ids: list[int],
    completion: Completion,
) -> Generation:
    """The first text of ``completion`` as the :class:`Generation` of local generation."""
    text, reason = completion.text, completion.finish_reasons[0]
    stopped = completion.stopped_at[0] if completion.stopped_at else None
    if stopped is not None:
        return Generation(
            prompt_ids, response_ids(tokenizer, prompt, prompt_ids, text + stopped), text, True
        )
    ids = response_ids(tokenizer, prompt, prompt_ids, text)
    if reason == "length":
        return Generation(prompt_ids, ids, text, False)
    if tokenizer.eos_token_id is None:
        raise ValueError("the tokenizer defines no eos token to end a served response with")
    return Generation(prompt_ids, [*ids, tokenizer.eos_token_id], text, True)


def generate_served(
    backend: Backend,
    tokenizer: PreTrainedTokenizerBase,
    prompts: Sequence[Text],
    seeds: Sequence[int],
    *,
    max_new_tokens: int,
    temperature: float = 1.0,
    top_p: float = 1.0,
) -> list[Generation]:
    """One response per prompt from ``backend``, each request seeded by its own seed and
    ending at the tokenizer's dialogue stop strings, as local :class:`Generation` s."""
    if len(seeds) != len(prompts):
        raise ValueError(f"seeds: expected one per prompt ({len(prompts)}), got {len(seeds)}")
    stop = stop_strings(tokenizer)
    requests = [
        GenerationRequest(
            prompt,
            max_new_tokens=max_new_tokens,
            temperature=temperature,
            top_p=top_p,
            seed=int(seed),
            stop=stop,
        )
        for prompt, seed in zip(prompts, seeds, strict=True)
    ]
    completions = backend.generate(requests)
    prompt_ids = encode_prompts(tokenizer, list(prompts))
    return [
        served_generation(tokenizer, prompt, list(ids), completion)
        for prompt, ids, completion in zip(prompts, prompt_ids, completions, strict=True)
    ]
