import pytest
import torch

from alignlab.models.generation import RowSampler, generate, generate_samples
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


def test_per_prompt_seeds_give_each_prompt_its_samples_whatever_its_batch(lm):
    model, tokenizer = lm
    seeds = [11, 12, 13, 14]
    options = dict(max_new_tokens=8, num_return_sequences=2, top_p=0.9)
    torch.manual_seed(123)
    together = generate(model, tokenizer, PROMPTS, seeds=seeds, batch_size=4, **options)
    after = torch.rand(3)
    torch.manual_seed(123)
    assert torch.equal(torch.rand(3), after)
    alone = [
        generate(model, tokenizer, [p], seeds=[s], batch_size=1, **options)[0]
        for p, s in zip(PROMPTS, seeds, strict=True)
    ]
    reordered = generate(
        model, tokenizer, PROMPTS[::-1], seeds=seeds[::-1], batch_size=3, **options
    )
    assert together == alone == reordered[::-1]
    assert together[0][0] != together[0][1]  # a prompt's samples are distinct draws
    other = generate(model, tokenizer, PROMPTS, seeds=[21, 22, 23, 24], **options)
    assert other != together


def test_per_prompt_seeds_are_checked(lm):
    model, tokenizer = lm
    with pytest.raises(ValueError, match="one per prompt"):
        generate(model, tokenizer, PROMPTS, seeds=[1, 2])
    with pytest.raises(ValueError, match="not both"):
        generate(model, tokenizer, PROMPTS, seed=0, seeds=[1, 2, 3, 4])


def test_row_sampler_draws_from_the_tempered_nucleus_and_leaves_one_token():
    # Two prompts, two rows each; token probabilities 0.6, 0.3, 0.1 at temperature 1.
    scores = torch.log(torch.tensor([[0.6, 0.3, 0.1]])).repeat(4, 1)
    sampler = RowSampler([0, 1], rows_per_prompt=2, temperature=1.0, top_p=1.0)
    draws = torch.stack([sampler(None, scores.clone()).argmax(dim=1) for _ in range(3000)])
    out = sampler(None, scores.clone())
    assert (torch.isfinite(out).sum(dim=1) == 1).all()
    frequencies = torch.bincount(draws.flatten(), minlength=3) / draws.numel()
    assert torch.allclose(frequencies, torch.tensor([0.6, 0.3, 0.1]), atol=0.02)
    # Temperature 0.5 squares the odds (0.78, 0.20, 0.02); top_p 0.8 drops the last.
    nucleus = RowSampler([0, 1], rows_per_prompt=2, temperature=0.5, top_p=0.8)
    draws = torch.stack([nucleus(None, scores.clone()).argmax(dim=1) for _ in range(3000)])
    frequencies = torch.bincount(draws.flatten(), minlength=3) / draws.numel()
    assert frequencies[2] == 0
    assert frequencies[0] == pytest.approx(0.8, abs=0.02)


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
