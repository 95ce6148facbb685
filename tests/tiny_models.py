"""Tiny HF causal LMs and tokenizers written to a directory, for tests across alignlab.

The tokenizer is a word-level ``tokenizers`` model over a small vocabulary, split
on whitespace, with ``<pad>``, ``<bos>``, ``<eos>``, ``<unk>`` and (optionally) a
chat template that writes each turn as ``<role> content <eos>``. The model is a
randomly initialized 2-layer Llama with hidden size 32. Both load with
``AutoTokenizer`` / ``AutoModelForCausalLM.from_pretrained``.
"""

from __future__ import annotations

from pathlib import Path

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

SPECIAL_TOKENS = ("<pad>", "<bos>", "<eos>", "<unk>")
ROLE_TOKENS = ("<system>", "<user>", "<assistant>")
_WORDS = (
    "0 1 2 3 4 5 6 7 8 9 + - = ? . , ! "
    "what is the capital of france paris spain madrid italy rome "
    "i you we it a an am are was think right wrong yes no not sure "
    "do know hello hi there please tell me answer question true false "
    "because so and or but very really good bad help how why when "
    "cannot can will would should be brief briefly long story word words"
)
WORDS = tuple(_WORDS.split())
CHAT_TEMPLATE = (
    "{{ bos_token }}"
    "{% for message in messages %}"
    "<{{ message['role'] }}> {{ message['content'] }} {{ eos_token }} "
    "{% endfor %}"
    "{% if add_generation_prompt %}<assistant>{% endif %}"
)


def build_tokenizer(
    *, chat_template: bool = True, pad_token: bool = True
) -> PreTrainedTokenizerFast:
    """The tiny word-level tokenizer; BOS is added to raw text, as Llama's tokenizers do."""
    vocab = {token: i for i, token in enumerate(SPECIAL_TOKENS + ROLE_TOKENS + WORDS)}
    backend = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    backend.add_special_tokens(list(SPECIAL_TOKENS))
    backend.post_processor = processors.TemplateProcessing(
        single="<bos> $A", pair="<bos> $A $B", special_tokens=[("<bos>", vocab["<bos>"])]
    )
    backend.decoder = decoders.WordPiece(prefix="##", cleanup=False)
    return PreTrainedTokenizerFast(
        tokenizer_object=backend,
        bos_token="<bos>",
        eos_token="<eos>",
        unk_token="<unk>",
        pad_token="<pad>" if pad_token else None,
        chat_template=CHAT_TEMPLATE if chat_template else None,
    )


def tiny_llama_config(vocab_size: int, **overrides) -> LlamaConfig:
    """A 2-layer Llama with hidden size 32 over ``vocab_size`` tokens (ids as in :data:`SPECIAL_TOKENS`)."""
    settings = dict(
        vocab_size=vocab_size,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=256,
        pad_token_id=SPECIAL_TOKENS.index("<pad>"),
        bos_token_id=SPECIAL_TOKENS.index("<bos>"),
        eos_token_id=SPECIAL_TOKENS.index("<eos>"),
        tie_word_embeddings=False,
    )
    settings.update(overrides)
    return LlamaConfig(**settings)


def write_tiny_causal_lm(
    directory: str | Path, *, chat_template: bool = True, pad_token: bool = True, seed: int = 0
) -> Path:
    """Write a tiny random causal LM and its tokenizer into ``directory``; return the path."""
    directory = Path(directory)
    tokenizer = build_tokenizer(chat_template=chat_template, pad_token=pad_token)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = LlamaForCausalLM(tiny_llama_config(len(tokenizer)))
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory
