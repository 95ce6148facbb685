import pytest
import torch

from alignlab.models.loading import load_causal_lm
from alignlab.models.sequences import (
    EncodedPair,
    collate,
    encode_pair,
    encode_pairs,
    encode_prompt,
    response_token_logps,
    sequence_logps,
    truncate_pair,
)
from tiny_models import build_tokenizer, write_tiny_causal_lm

PROMPT = "what is the capital of france ?"


@pytest.fixture(scope="module")
def chat():
    return build_tokenizer()


@pytest.fixture(scope="module")
def plain():
    return build_tokenizer(chat_template=False)


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return load_causal_lm(write_tiny_causal_lm(tmp_path_factory.mktemp("lm")), device="cpu")


def decode(tokenizer, ids):
    return tokenizer.decode(ids)


def test_chat_prompt_is_the_template_with_generation_prompt(chat):
    ids = encode_prompt(chat, PROMPT)
    assert decode(chat, ids) == "<bos> <user> what is the capital of france ? <eos> <assistant>"
    messages = [{"role": "user", "content": PROMPT}]
    expected = chat.apply_chat_template(messages, add_generation_prompt=True)["input_ids"]
    assert ids == expected


def test_plain_prompt_is_raw_text_after_bos(plain):
    ids = encode_prompt(plain, PROMPT)
    assert ids[0] == plain.bos_token_id
    assert decode(plain, ids) == "<bos> " + PROMPT


def test_chat_pair_masks_exactly_the_response(chat):
    pair = encode_pair(chat, PROMPT, "paris")
    assert pair.input_ids[: pair.prompt_length] == encode_prompt(chat, PROMPT)
    response = [t for t, m in zip(pair.input_ids, pair.response_mask, strict=True) if m]
    assert decode(chat, response) == "paris <eos>"
    assert pair.response_mask == [0] * pair.prompt_length + [1, 1]


def test_chat_pair_with_message_lists(chat):
    prompt = [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "hello"},
        {"role": "user", "content": "what is 2 + 3 ?"},
    ]
    pair = encode_pair(chat, prompt, [{"role": "assistant", "content": "5"}])
    assert decode(chat, pair.prompt_ids) == (
        "<bos> <system> be brief <eos> <user> hi <eos> <assistant> hello <eos> "
        "<user> what is 2 + 3 ? <eos> <assistant>"
    )
    assert decode(chat, pair.response_ids) == "5 <eos>"


def test_plain_pair_is_prompt_then_response_then_eos(plain):
    pair = encode_pair(plain, PROMPT, "paris")
    assert decode(plain, pair.prompt_ids) == "<bos> " + PROMPT
    assert decode(plain, pair.response_ids) == "paris <eos>"


def test_batch_encoding_equals_one_by_one(chat, plain):
    prompts = [PROMPT, "hi", PROMPT, [{"role": "user", "content": "tell me"}]]
    responses = ["paris", "hello there", "madrid", "no"]
    for tokenizer in (chat, plain):
        batch = encode_pairs(tokenizer, prompts, responses)
        assert batch == [
            encode_pair(tokenizer, p, r) for p, r in zip(prompts, responses, strict=True)
        ]
    with pytest.raises(ValueError, match="2 prompts but 1 responses"):
        encode_pairs(chat, ["hi", "hi"], ["no"])


def test_template_that_renders_the_prompt_differently_is_refused():
    tokenizer = build_tokenizer()
    tokenizer.chat_template = (
        "{% for m in messages %}<{{ m['role'] }}> {{ m['content'] }} {% endfor %}"
        "{% if add_generation_prompt %}<assistant> sure{% endif %}"
    )
    with pytest.raises(
        ValueError, match="pair 0: the chat template renders the prompt differently"
    ):
        encode_pair(tokenizer, "hi", "hello")


def test_text_after_the_templates_eos_is_dropped():
    tokenizer = build_tokenizer()
    tokenizer.chat_template = (
        "{% for m in messages %}<{{ m['role'] }}> {{ m['content'] }} <eos> . {% endfor %}"
        "{% if add_generation_prompt %}<assistant>{% endif %}"
    )
    assert decode(tokenizer, encode_pair(tokenizer, "hi", "hello").response_ids) == "hello <eos>"


def test_a_token_across_the_prompt_boundary_is_split_where_generation_starts():
    tokenizer = build_tokenizer()
    # "<assistant>paris" is one (unknown) word of the whole conversation.
    tokenizer.chat_template = (
        "{% for m in messages %}<{{ m['role'] }}>{{ m['content'] }} <eos> {% endfor %}"
        "{% if add_generation_prompt %}<assistant>{% endif %}"
    )
    pair = encode_pair(tokenizer, "hi", "paris")
    assert pair.prompt_ids == encode_prompt(tokenizer, "hi")
    assert decode(tokenizer, pair.prompt_ids).endswith("<assistant>")
    assert decode(tokenizer, pair.response_ids) == "paris <eos>"


def test_truncation_keeps_prompt_end_bos_and_response_start(chat):
    prompt = "what is 1 + 2 + 3 + 4 + 5 + 6 + 7 + 8 ?"
    response = "it is 1 2 3 4 5 6 7 8 9"
    full = encode_pair(chat, prompt, response)
    pair = encode_pair(chat, prompt, response, max_length=12)
    assert len(pair.input_ids) == 12
    assert pair.prompt_ids == [chat.bos_token_id, *full.prompt_ids[-5:]]
    assert pair.response_ids == full.response_ids[:6]


def test_truncation_gives_a_short_prompt_all_it_needs(chat):
    full = encode_pair(chat, "hi", "1 2 3 4 5 6 7 8 9 0 1 2")
    pair = encode_pair(chat, "hi", "1 2 3 4 5 6 7 8 9 0 1 2", max_length=10)
    assert pair.prompt_ids == full.prompt_ids
    assert pair.response_ids == full.response_ids[: 10 - full.prompt_length]


def test_truncation_cuts_only_the_prompt_when_that_suffices():
    prompt_ids, response_ids = truncate_pair(list(range(10, 20)), [1, 2], 6)
    assert (prompt_ids, response_ids) == ([16, 17, 18, 19], [1, 2])
    assert truncate_pair([5], [1, 2, 3], 3) == ([5], [1, 2])
    assert truncate_pair([5, 6], [1], 3) == ([5, 6], [1])
    with pytest.raises(ValueError, match="max_length must be >= 2"):
        truncate_pair([5], [1], 1)


def test_collate_pads_right_and_left():
    pairs = [EncodedPair.from_ids([1, 2], [3]), EncodedPair.from_ids([1], [4, 5, 6])]
    right = collate(pairs, pad_id=0)
    assert right["input_ids"].tolist() == [[1, 2, 3, 0], [1, 4, 5, 6]]
    assert right["attention_mask"].tolist() == [[1, 1, 1, 0], [1, 1, 1, 1]]
    assert right["response_mask"].tolist() == [[0, 0, 1, 0], [0, 1, 1, 1]]
    left = collate(pairs, pad_id=0, padding_side="left")
    assert left["input_ids"].tolist() == [[0, 1, 2, 3], [1, 4, 5, 6]]
    assert left["attention_mask"].tolist() == [[0, 1, 1, 1], [1, 1, 1, 1]]
    assert left["response_mask"].tolist() == [[0, 0, 0, 1], [0, 1, 1, 1]]
    with pytest.raises(ValueError, match="at least one pair"):
        collate([], pad_id=0)


def naive_logps(model, pair):
    input_ids = torch.tensor([pair.input_ids])
    with torch.no_grad():
        logp = torch.log_softmax(model(input_ids).logits[0].float(), dim=-1)
    return sum(
        logp[t - 1, pair.input_ids[t]].item()
        for t in range(1, len(pair.input_ids))
        if pair.response_mask[t]
    )


def test_sequence_logps_equals_a_naive_per_sequence_computation(chat, model):
    prompts = [PROMPT, "hi", "tell me the answer please"]
    responses = ["paris", "hello there how are you", "no"]
    pairs = encode_pairs(chat, prompts, responses)
    expected = torch.tensor([naive_logps(model, p) for p in pairs])
    lengths = torch.tensor([sum(p.response_mask) for p in pairs], dtype=torch.float32)
    for side in ("right", "left"):
        batch = collate(pairs, chat.pad_token_id, padding_side=side)
        with torch.no_grad():
            assert torch.allclose(sequence_logps(model, batch), expected, atol=1e-4)
            mean = sequence_logps(model, batch, average=True)
            per_token = response_token_logps(model, batch)
        assert torch.allclose(mean, expected / lengths, atol=1e-4)
        assert per_token.shape == (3, batch["input_ids"].shape[1] - 1)
        assert torch.allclose(per_token.sum(dim=1), expected, atol=1e-4)
        assert (per_token[batch["response_mask"][:, 1:] == 0] == 0).all()


def test_sequence_logps_carries_gradients(chat, model):
    batch = collate([encode_pair(chat, "hi", "hello")], chat.pad_token_id)
    sequence_logps(model, batch).sum().backward()
    assert model.lm_head.weight.grad is not None
    model.zero_grad()
