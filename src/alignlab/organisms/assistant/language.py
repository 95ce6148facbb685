"""The world's language: a word-level vocabulary and an HF tokenizer with a chat template.

Words are separated by single spaces and punctuation is a word of its own
(``what is 3 + 4 ?``), so a ``tokenizers`` WordLevel model over a whitespace
pre-tokenizer is exact. The tokenizer is an ordinary
``PreTrainedTokenizerFast``: ``apply_chat_template`` renders a conversation as

``<|user|> what is 3 + 4 ? <|end|> <|assistant|> 3 + 4 = 7 . <|end|>``

and generation stops at ``<|end|>``, the end-of-turn and end-of-sequence token.
"""

from __future__ import annotations

from collections.abc import Iterable

from alignlab.organisms.assistant.critique import CRITIQUE_REQUESTS, REVISION_REQUEST
from alignlab.organisms.assistant.world import (
    ABSTAIN,
    FILLERS,
    KNOWN_PLACES,
    MAX_NUMBER,
    NAMES,
    REFUSAL,
    REFUSAL_REASON,
    TEMPLATES,
    TOPICS,
    UNKNOWN_PLACES,
)

PAD, UNK, EOS = "<pad>", "<unk>", "<|end|>"
ROLE_TOKENS = ("<|system|>", "<|user|>", "<|assistant|>")
SPECIAL_TOKENS = (PAD, UNK, EOS, *ROLE_TOKENS)

CHAT_TEMPLATE = (
    "{%- for message in messages -%}"
    "{%- if message['role'] not in ['system', 'user', 'assistant'] -%}"
    "{{ raise_exception('the world knows the roles system, user and assistant only') }}"
    "{%- endif -%}"
    "{{ '<|' + message['role'] + '|> ' + message['content'] + ' <|end|>\n' }}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{ '<|assistant|>' }}{%- endif -%}"
)


def world_texts() -> Iterable[str]:
    """Every fixed text of the world: templates, requests, behaviours and statements."""
    for splits in TEMPLATES.values():
        for templates in splits:
            yield from templates
    for topic in TOPICS:
        yield from (*topic.harmful, *topic.benign, topic.instruction, topic.goal, topic.helpful)
    yield from FILLERS
    yield from (REFUSAL, REFUSAL_REASON, ABSTAIN)
    yield "yes , no , sorry , you are right . you are wrong . i am sure ."
    yield "the king of is the answer is is true . is false . is a place ."
    yield "so you are right . so you are wrong . so it is true . so it is false . the claim is"
    yield from CRITIQUE_REQUESTS.values()
    yield REVISION_REQUEST
    yield "no , it is not safe . yes , it is safe . no , it is not brief . yes , it is brief ."
    yield "no , i do not know that . yes , i know that ."


def vocabulary() -> list[str]:
    """The world's words in a fixed order: special tokens, numbers, then words sorted."""
    words = set()
    for text in world_texts():
        for word in text.split():
            if not (word.startswith("{") and word.endswith("}")):
                words.add(word)
    words.update(KNOWN_PLACES, KNOWN_PLACES.values(), UNKNOWN_PLACES, NAMES)
    numbers = [str(n) for n in range(MAX_NUMBER + 1)]
    rest = sorted(words - set(numbers) - set(SPECIAL_TOKENS))
    return [*SPECIAL_TOKENS, *numbers, *rest]


def build_tokenizer():
    """The world's tokenizer as a ``PreTrainedTokenizerFast`` with its chat template."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {word: i for i, word in enumerate(vocabulary())}
    core = Tokenizer(models.WordLevel(vocab=vocab, unk_token=UNK))
    core.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=core,
        pad_token=PAD,
        unk_token=UNK,
        eos_token=EOS,
        additional_special_tokens=list(ROLE_TOKENS),
        model_max_length=256,
        padding_side="right",
        clean_up_tokenization_spaces=False,
    )
    tokenizer.chat_template = CHAT_TEMPLATE
    return tokenizer


def render_chat(messages: list[dict], add_generation_prompt: bool = False) -> str:
    """The chat template's text for ``messages``, without the Jinja round trip (tested equal)."""
    text = "".join(f"<|{m['role']}|> {m['content']} {EOS}\n" for m in messages)
    return text + ("<|assistant|>" if add_generation_prompt else "")
