import pytest
import torch

from alignlab.models.generation import generate, generate_samples
from alignlab.models.loading import load_causal_lm, load_tokenizer
from alignlab.models.sequences import encode_prompt
from tiny_models import write_tiny_causal_lm

PROMPTS = [
    "hi",
    "what is the capital of france ?",
    [{"role": "user", "content": "tell me"}],
    "i think 2 + 3 = 6 . am i right ?",
]


@pytest.fixture(scope="module", params=["chat", "plain"])
def lm(request, tmp_path_factory):
    directory = tmp_path_factory.mktemp(request.param)
    write_tiny_causal_lm(directory, chat_template=request.param == "chat")
    return load_causal_lm(directory, device="cpu"), load_tokenizer(directory)


def test_batched_greedy_equals_unbatched(lm):
    model, tokenizer = lm
    batched = generate_samples(
        model, tokenizer, PROMPTS, max_new_tokens=8, do_sample=False, batch_size=4
    )
    one_by_one = generate_samples(
        model, tokenizer, PROMPTS, max_new_tokens=8, do_sample=False, batch_size=1
    )
    assert batched == one_by_one
    assert tokenizer.padding_side == "right"


def test_greedy_continues_with_the_models_argmax(lm):
    model, tokenizer = lm
    [[sample]] = generate_samples(model, tokenizer, [PROMPTS[1]], max_new_tokens=3, do_sample=False)
    ids = list(sample.prompt_ids)
    with torch.no_grad():
        for _ in range(3):
            ids.append(int(model(torch.tensor([ids])).logits[0, -1].argmax()))
    assert sample.response_ids == ids[len(sample.prompt_ids) :]


def test_samples_keep_prompt_and_response_ids(lm):
    model, tokenizer = lm
    groups = generate_samples(
        model, tokenizer, PROMPTS, max_new_tokens=5, num_return_sequences=3, seed=0
    )
    assert [len(g) for g in groups] == [3, 3, 3, 3]
    for prompt, group in zip(PROMPTS, groups, strict=True):
        for sample in group:
            assert sample.prompt_ids == encode_prompt(tokenizer, prompt)
            assert len(sample.response_ids) == 5
            assert not sample.finished
            assert sample.text == tokenizer.decode(sample.response_ids, skip_special_tokens=True)


def test_seeded_sampling_is_reproducible_and_leaves_the_global_rng_alone(lm):
    model, tokenizer = lm
    torch.manual_seed(123)
    first = generate(model, tokenizer, PROMPTS, max_new_tokens=8, seed=7, batch_size=2)
    after = torch.rand(3)
    torch.manual_seed(123)
    assert torch.equal(torch.rand(3), after)
    second = generate(model, tokenizer, PROMPTS, max_new_tokens=8, seed=7, batch_size=2)
    other = generate(model, tokenizer, PROMPTS, max_new_tokens=8, seed=8, batch_size=2)
    assert first == second
    assert first != other


def test_generation_stops_at_the_models_end_of_turn(lm):
    model, tokenizer = lm
    free = generate_samples(model, tokenizer, [PROMPTS[1]], max_new_tokens=4, do_sample=False)
    stop = free[0][0].response_ids[1]
    original = model.generation_config.eos_token_id
    model.generation_config.eos_token_id = [tokenizer.eos_token_id, stop]
    try:
        sample = generate_samples(model, tokenizer, [PROMPTS[1]], max_new_tokens=4, do_sample=False)
    finally:
        model.generation_config.eos_token_id = original
    cut = free[0][0].response_ids.index(stop) + 1
    assert sample[0][0].response_ids == free[0][0].response_ids[:cut]
    assert sample[0][0].finished


def test_generation_restores_training_mode(lm):
    model, tokenizer = lm
    model.train()
    generate(model, tokenizer, ["hi"], max_new_tokens=2, do_sample=False)
    assert model.training
    model.eval()


def test_bad_sampling_settings_are_named(lm):
    model, tokenizer = lm
    with pytest.raises(ValueError, match="temperature must be > 0"):
        generate(model, tokenizer, ["hi"], temperature=0.0)
    with pytest.raises(ValueError, match="top_p must be in"):
        generate(model, tokenizer, ["hi"], top_p=0.0)
    with pytest.raises(ValueError, match="max_new_tokens must be >= 1"):
        generate(model, tokenizer, ["hi"], max_new_tokens=0)
