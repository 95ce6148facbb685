"""Records to token tensors: prompts, prompt-response pairs, padded batches, log-probs.

Conventions shared by every trainer:

- a pair is ``input_ids = prompt_ids + response_ids`` with ``response_mask`` 1 exactly
  on the response tokens, the tokens the model must produce after the prompt;
- a batch is a dict of ``[B, T]`` tensors ``input_ids``, ``attention_mask``,
  ``response_mask``;
- ``logits[:, t]`` predicts ``input_ids[:, t + 1]``, so per-token log-probs are
  ``[B, T - 1]`` and the response among them is ``response_mask[:, 1:]``.

With a chat template, a prompt is rendered as the conversation so far plus the
generation prompt, and a pair as the whole conversation, so training sees the
same tokens as generation. Without one, text is used raw: the prompt (after BOS
when the tokenizer adds one), then the response, then EOS.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor
from transformers.tokenization_utils_base import PreTrainedTokenizerBase

from alignlab.data.records import Message, Text, text_of
from alignlab.objectives import logprobs


@dataclass(frozen=True, slots=True)
class EncodedPair:
    """A tokenized prompt-response pair: ``input_ids`` and its 0/1 ``response_mask``."""

    input_ids: list[int]
    response_mask: list[int]

    @classmethod
    def from_ids(cls, prompt_ids: Sequence[int], response_ids: Sequence[int]) -> EncodedPair:
        """The pair ``prompt_ids + response_ids`` (e.g. from generation, without re-tokenizing)."""
        return cls(
            list(prompt_ids) + list(response_ids), [0] * len(prompt_ids) + [1] * len(response_ids)
        )

    @property
    def prompt_length(self) -> int:
        return len(self.input_ids) - sum(self.response_mask)

    @property
    def prompt_ids(self) -> list[int]:
        return self.input_ids[: self.prompt_length]

    @property
    def response_ids(self) -> list[int]:
        return self.input_ids[self.prompt_length :]


def has_chat_template(tokenizer: PreTrainedTokenizerBase) -> bool:
    return bool(getattr(tokenizer, "chat_template", None))


def as_messages(text: Text, role: str) -> list[Message]:
    """A chat list as is; a string as one message from ``role``."""
    if isinstance(text, str):
        return [{"role": role, "content": text}]
    return list(text)


def _tokenize(tokenizer: PreTrainedTokenizerBase, texts: list[str]) -> list[list[int]]:
    """Token ids of each text (no special tokens added); repeated texts are tokenized once."""
    unique = list(dict.fromkeys(texts))
    if not unique:
        return []
    ids = dict(zip(unique, tokenizer(unique, add_special_tokens=False)["input_ids"], strict=True))
    return [list(ids[text]) for text in texts]


def _render(tokenizer: PreTrainedTokenizerBase, conversations: list[list[Message]], **kwargs):
    if not conversations:
        return []
    return tokenizer.apply_chat_template(conversations, tokenize=False, **kwargs)


def _prompt_texts(tokenizer: PreTrainedTokenizerBase, prompts: Sequence[Text]) -> list[str]:
    """Each prompt as text: rendered with the generation prompt, or raw.

    A prompt object passed several times (a comparison's chosen and rejected share
    one) is rendered once.
    """
    unique = list({id(p): p for p in prompts}.values())
    if has_chat_template(tokenizer):
        chats = [as_messages(p, "user") for p in unique]
        texts = _render(tokenizer, chats, add_generation_prompt=True)
    else:
        texts = [text_of(p) for p in unique]
    by_id = dict(zip((id(p) for p in unique), texts, strict=True))
    return [by_id[id(p)] for p in prompts]


def _bos_prefix(tokenizer: PreTrainedTokenizerBase) -> list[int]:
    """``[bos]`` when the tokenizer puts BOS before raw text, else ``[]``."""
    bos = tokenizer.bos_token_id
    if bos is None:
        return []
    return [bos] if tokenizer("x", add_special_tokens=True)["input_ids"][:1] == [bos] else []


def _eos_id(tokenizer: PreTrainedTokenizerBase) -> int:
    if tokenizer.eos_token_id is None:
        raise ValueError("tokenizer has no eos token: a response could not mark its end")
    return tokenizer.eos_token_id


def encode_prompts(tokenizer: PreTrainedTokenizerBase, prompts: Sequence[Text]) -> list[list[int]]:
    """Token ids of each prompt, ready for generation (see :func:`encode_prompt`)."""
    prompt_ids = _tokenize(tokenizer, _prompt_texts(tokenizer, prompts))
    if has_chat_template(tokenizer):
        return prompt_ids
    bos = _bos_prefix(tokenizer)
    return [bos + ids for ids in prompt_ids]


def encode_prompt(tokenizer: PreTrainedTokenizerBase, prompt: Text) -> list[int]:
    """Token ids of a prompt, ready for generation.

    With a chat template: the conversation (a string is one user message) with the
    generation prompt. Without: the raw text (a chat list's contents joined by
    newlines), after BOS when the tokenizer adds one.
    """
    return encode_prompts(tokenizer, [prompt])[0]


def truncate_pair(
    prompt_ids: list[int], response_ids: list[int], max_length: int, *, bos_id: int | None = None
) -> tuple[list[int], list[int]]:
    """Cut a pair to ``max_length`` tokens, keeping the prompt's end and the response's start.

    The prompt yields first, down to half of ``max_length``; then the response is cut
    from its end. Both keep at least one token, and a leading ``bos_id`` stays.
    """
    if max_length < 2:
        raise ValueError(
            f"max_length must be >= 2 (a prompt token and a response token), got {max_length}"
        )
    if len(prompt_ids) + len(response_ids) <= max_length:
        return prompt_ids, response_ids
    prompt_keep = min(len(prompt_ids), max(max_length - len(response_ids), max_length // 2))
    response_keep = max_length - prompt_keep
    if bos_id is not None and prompt_keep >= 2 and prompt_ids[0] == bos_id:
        prompt_ids = [bos_id, *prompt_ids[len(prompt_ids) - prompt_keep + 1 :]]
    else:
        prompt_ids = prompt_ids[len(prompt_ids) - prompt_keep :]
    return prompt_ids, response_ids[:response_keep]


def _end_with_eos(response_ids: list[int], eos_id: int) -> list[int]:
    """Cut what a template writes after the last EOS (e.g. a newline), or append EOS."""
    for i in range(len(response_ids) - 1, -1, -1):
        if response_ids[i] == eos_id:
            return response_ids[: i + 1]
    return [*response_ids, eos_id]


def _chat_pairs(
    tokenizer: PreTrainedTokenizerBase, prompts: Sequence[Text], responses: Sequence[Text]
) -> list[tuple[list[int], list[int]]]:
    prompt_texts = _prompt_texts(tokenizer, prompts)
    conversations = [
        as_messages(p, "user") + as_messages(r, "assistant")
        for p, r in zip(prompts, responses, strict=True)
    ]
    full_texts = _render(tokenizer, conversations)
    for i, (prompt_text, full_text) in enumerate(zip(prompt_texts, full_texts, strict=True)):
        if not full_text.startswith(prompt_text):
            raise ValueError(
                f"pair {i}: the chat template renders the prompt differently inside the "
                f"conversation, so the response cannot be separated from it: prompt ends "
                f"{prompt_text[-60:]!r}, conversation reads {full_text[: len(prompt_text)][-60:]!r}"
            )
    prompt_ids = _tokenize(tokenizer, prompt_texts)
    full_ids = _tokenize(tokenizer, full_texts)
    pairs = []
    retokenize = []
    for i, (p_ids, f_ids) in enumerate(zip(prompt_ids, full_ids, strict=True)):
        if f_ids[: len(p_ids)] == p_ids:
            pairs.append((p_ids, f_ids[len(p_ids) :]))
        else:
            # A token straddles the boundary; generation starts from the prompt's own
            # tokens, so the response is what follows them.
            pairs.append((p_ids, []))
            retokenize.append(i)
    tails = _tokenize(tokenizer, [full_texts[i][len(prompt_texts[i]) :] for i in retokenize])
    for i, tail in zip(retokenize, tails, strict=True):
        pairs[i] = (pairs[i][0], tail)
    return pairs


def encode_pairs(
    tokenizer: PreTrainedTokenizerBase,
    prompts: Sequence[Text],
    responses: Sequence[Text],
    *,
    max_length: int | None = None,
) -> list[EncodedPair]:
    """Encode many pairs at once (one template render and one tokenizer call per side).

    See :func:`encode_pair` for what each pair holds.
    """
    if len(prompts) != len(responses):
        raise ValueError(f"got {len(prompts)} prompts but {len(responses)} responses")
    eos_id = _eos_id(tokenizer)
    if has_chat_template(tokenizer):
        pairs = _chat_pairs(tokenizer, prompts, responses)
    else:
        prompt_ids = encode_prompts(tokenizer, prompts)
        response_ids = _tokenize(tokenizer, [text_of(r) for r in responses])
        pairs = list(zip(prompt_ids, response_ids, strict=True))
    encoded = []
    for i, (p_ids, r_ids) in enumerate(pairs):
        if not p_ids:
            raise ValueError(f"pair {i}: the prompt encodes to no tokens, nothing to condition on")
        r_ids = _end_with_eos(r_ids, eos_id)
        if max_length is not None:
            p_ids, r_ids = truncate_pair(p_ids, r_ids, max_length, bos_id=tokenizer.bos_token_id)
        encoded.append(EncodedPair.from_ids(p_ids, r_ids))
    return encoded


def encode_pair(
    tokenizer: PreTrainedTokenizerBase,
    prompt: Text,
    response: Text,
    *,
    max_length: int | None = None,
) -> EncodedPair:
    """Encode one prompt-response pair for training or scoring.

    The response tokens are exactly what the model must produce after
    :func:`encode_prompt`'s tokens, ending with EOS so that the model learns to
    stop (with a chat template, the template's own end of turn when it is EOS;
    anything the template writes after it is dropped). ``max_length`` truncates
    as :func:`truncate_pair` does.
    """
    return encode_pairs(tokenizer, [prompt], [response], max_length=max_length)[0]


def collate(
    pairs: Sequence[EncodedPair], pad_id: int, *, padding_side: str = "right"
) -> dict[str, Tensor]:
    """Pad pairs into a batch of ``input_ids``, ``attention_mask``, ``response_mask`` ``[B, T]``."""
    if not pairs:
        raise ValueError("collate needs at least one pair")
    if pad_id is None:
        raise ValueError("pad_id is None: load the tokenizer with load_tokenizer to set one")
    if padding_side not in ("left", "right"):
        raise ValueError(f"padding_side must be 'left' or 'right', got {padding_side!r}")
    width = max(len(p.input_ids) for p in pairs)
    input_ids = torch.full((len(pairs), width), pad_id, dtype=torch.long)
    attention_mask = torch.zeros((len(pairs), width), dtype=torch.long)
    response_mask = torch.zeros((len(pairs), width), dtype=torch.long)
    for row, pair in enumerate(pairs):
        n = len(pair.input_ids)
        cols = slice(0, n) if padding_side == "right" else slice(width - n, width)
        input_ids[row, cols] = torch.tensor(pair.input_ids, dtype=torch.long)
        attention_mask[row, cols] = 1
        response_mask[row, cols] = torch.tensor(pair.response_mask, dtype=torch.long)
    return {
        "input_ids": input_ids,
        "attention_mask": attention_mask,
        "response_mask": response_mask,
    }


def _device_of(model: torch.nn.Module) -> torch.device:
    return next(model.parameters()).device


def forward_logits(model: torch.nn.Module, batch: dict[str, Tensor]) -> Tensor:
    """The model's logits ``[B, T, V]`` on a batch, right- or left-padded."""
    device = _device_of(model)
    input_ids = batch["input_ids"].to(device)
    attention_mask = batch["attention_mask"].to(device)
    kwargs = {}
    if bool((attention_mask[:, 0] == 0).any()):
        # Left padding: positions count real tokens only, as they did for an unpadded sequence.
        kwargs["position_ids"] = (attention_mask.cumsum(-1) - 1).clamp(min=0)
    output = model(input_ids=input_ids, attention_mask=attention_mask, use_cache=False, **kwargs)
    return output.logits


def response_token_logps(model: torch.nn.Module, batch: dict[str, Tensor]) -> Tensor:
    """``log pi(y_t | x, y_<t)`` of each token, ``[B, T - 1]`` float32, 0 outside the response.

    Column ``t`` is the log-prob of ``input_ids[:, t + 1]``; the response among the
    columns is ``response_mask[:, 1:]`` (the per-token view PPO needs).
    """
    logits = forward_logits(model, batch)
    input_ids = batch["input_ids"].to(logits.device)
    token_logps = logprobs.token_logps(logits, input_ids)
    mask = batch["response_mask"][:, 1:].to(logits.device).bool()
    return torch.where(mask, token_logps, 0.0)


def sequence_logps(
    model: torch.nn.Module, batch: dict[str, Tensor], *, average: bool = False
) -> Tensor:
    """``log pi(y | x)``: the summed (or, with ``average``, mean) log-prob of each response, ``[B]``."""
    logits = forward_logits(model, batch)
    input_ids = batch["input_ids"].to(logits.device)
    token_logps = logprobs.token_logps(logits, input_ids)
    mask = batch["response_mask"][:, 1:].to(logits.device)
    return logprobs.sequence_logps(token_logps, mask, average=average)
