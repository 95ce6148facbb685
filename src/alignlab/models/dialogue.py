"""The dialogue format for base models: a few-shot transcript, in the manner of URIAL.

A base model has no chat template: it was never taught where a user's turn ends
and its own begins, nor when to stop. Fed raw text it runs prompt and answer
together and writes until ``max_new_tokens``. alignlab gives such a tokenizer this
format instead (Lin et al. 2023, "The Unlocking Spell on Base LLMs", URIAL: a short
preamble and a few example exchanges in plain text), and says so when it does:

```
<bos>A conversation between a user and an AI assistant. The assistant answers the
user's questions.

User: What is the capital of France?
Assistant: The capital of France is Paris.

User: How do I boil an egg?
Assistant: Put the egg in boiling water for about eight minutes, then cool it in cold water.

User: {the user's turn}
Assistant:
```

A conversation of several turns (a "are you sure?" follow-up) is rendered turn by
turn in the same shape, so the roles stay visible. The examples are neutral: they
show the turn format and that a turn ends, and no stance on anything a suite
measures (no refusal, no abstention, no disagreement), so a base model is measured
as itself, not as an in-context-aligned model. The model's reply ends at
:data:`STOP_STRINGS` (the next ``User:`` or ``Assistant:`` line), or at EOS, which a
model trained on pairs in this format learns to write (each training response ends
with EOS, :mod:`~alignlab.models.sequences`).

A user with a format of their own passes it as a Jinja chat template file
(``--chat-template FILE``), which replaces this one and carries no stop strings
but EOS.
"""

from __future__ import annotations

from pathlib import Path

from transformers.tokenization_utils_base import PreTrainedTokenizerBase

PREAMBLE = (
    "A conversation between a user and an AI assistant. The assistant answers the user's "
    "questions.\n\n"
    "User: What is the capital of France?\n"
    "Assistant: The capital of France is Paris.\n\n"
    "User: How do I boil an egg?\n"
    "Assistant: Put the egg in boiling water for about eight minutes, then cool it in cold "
    "water.\n\n"
)
"""The preamble and example exchanges every prompt in the format opens with."""

STOP_STRINGS = ("\nUser:", "\nAssistant:")
"""Where a reply in the format ends: the model starting the next turn."""

FEW_SHOT_TEMPLATE = (
    "{{ bos_token if bos_token else '' }}"
    + "{{ "
    + repr(PREAMBLE)
    + " }}"
    + "{% for m in messages %}"
    "{% if m['role'] == 'system' %}{{ m['content'] }}\n\n"
    "{% elif m['role'] == 'user' %}User: {{ m['content'] }}\n"
    "{% elif m['role'] == 'assistant' %}Assistant: {{ m['content'] }}\n\n"
    "{% else %}{{ raise_exception('the base-model dialogue format has no role ' + m['role']) }}"
    "{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}Assistant:{% endif %}"
)
"""The format as a Jinja chat template (what ``apply_chat_template`` renders)."""


def uses_few_shot_format(tokenizer: PreTrainedTokenizerBase) -> bool:
    """Whether ``tokenizer`` renders conversations in this module's format."""
    return getattr(tokenizer, "chat_template", None) == FEW_SHOT_TEMPLATE


def stop_strings(tokenizer: PreTrainedTokenizerBase) -> tuple[str, ...]:
    """The stop strings a reply rendered by ``tokenizer`` ends at (none for a model's own template)."""
    return STOP_STRINGS if uses_few_shot_format(tokenizer) else ()


def read_chat_template(path: str | Path) -> str:
    """A user's Jinja chat template from ``path``, checked to be non-empty text."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such chat template file")
    text = path.read_text(encoding="utf-8")
    if "messages" not in text:
        raise ValueError(f"{path}: not a chat template (it never reads `messages`)")
    return text
