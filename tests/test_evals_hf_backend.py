import math

import pytest
import torch

from alignlab.evals import RunConfig, SuiteOptions, build_tasks, read_eval_records, run_eval
from alignlab.models.backends import Backend, GenerationRequest
from alignlab.models.backends.hf import HFBackend
from alignlab.models.generation import generate_samples
from alignlab.models.sequences import EncodedPair, collate, encode_prompt, sequence_logps
from tiny_models import write_tiny_causal_lm

PROMPTS = ["what is 2 + 2 ?", [{"role": "user", "content": "hello there"}], "why so ?"]


@pytest.fixture(scope="module", params=["chat", "plain"])
def backend(request, tmp_path_factory):
    directory = write_tiny_causal_lm(
        tmp_path_factory.mktemp(request.param), chat_template=request.param == "chat"
    )
    return HFBackend.load(directory, device="cpu", batch_size=2)


def test_it_is_a_backend(backend):
    assert isinstance(backend, Backend)


def test_greedy_generation_is_generate_samples_batched(backend):
    completions = backend.generate([GenerationRequest(p, max_new_tokens=6) for p in PROMPTS])
    expected = generate_samples(
        backend.model, backend.tokenizer, PROMPTS, max_new_tokens=6, do_sample=False
    )
    assert [c.text for c in completions] == [group[0].text for group in expected]
    for completion, group in zip(completions, expected, strict=True):
        assert completion.finish_reasons == ("stop" if group[0].finished else "length",)
        assert completion.usage == {
            "prompt_tokens": len(group[0].prompt_ids),
            "completion_tokens": len(group[0].response_ids),
        }


def test_stop_strings_cut_the_text(backend):
    [full] = backend.generate([GenerationRequest(PROMPTS[0], max_new_tokens=8)])
    word = full.text.split()[2]
    [cut] = backend.generate([GenerationRequest(PROMPTS[0], max_new_tokens=8, stop=(word,))])
    assert cut.text == full.text[: full.text.find(word)]
    assert cut.finish_reasons == ("stop",)


def test_seeded_sampling_repeats_and_seeds_differ(backend):
    def draw(seed):
        request = GenerationRequest(PROMPTS[2], max_new_tokens=8, temperature=1.0, seed=seed, n=3)
        return backend.generate([request])[0].texts

    assert draw(1) == draw(1)
    assert draw(1) != draw(2)
    assert len(draw(1)) == 3


def test_seeded_requests_batch_and_each_gives_what_it_gives_alone(backend):
    requests = [
        GenerationRequest(p, max_new_tokens=8, temperature=1.0, seed=40 + i)
        for i, p in enumerate(PROMPTS)
    ]
    together = [c.texts for c in backend.generate(requests)]
    assert together == [backend.generate([r])[0].texts for r in requests]


def test_option_probs_are_the_options_token_logprobs_normalized(backend):
    options = ["yes", "no no", "i do not know"]
    probs = backend.option_probs(PROMPTS[0], options)
    prompt_ids = encode_prompt(backend.tokenizer, PROMPTS[0])
    pairs = [
        EncodedPair.from_ids(
            prompt_ids, backend.tokenizer(o, add_special_tokens=False)["input_ids"]
        )
        for o in options
    ]
    with torch.no_grad():
        logps = sequence_logps(backend.model, collate(pairs, backend.tokenizer.pad_token_id))
    expected = torch.softmax(logps, dim=0).tolist()
    assert probs.probs == pytest.approx(expected, rel=1e-5)
    assert probs.method == "logprobs"
    assert probs.coverage == pytest.approx(min(1.0, float(logps.exp().sum())), rel=1e-5)
    assert probs.best == options[max(range(3), key=expected.__getitem__)]


def test_one_token_options_read_from_one_pass_equal_their_sequence_logprobs(backend):
    tokenizer = backend.tokenizer
    letters = [
        w
        for w in ["yes", "no", "why", "what"]
        if len(tokenizer(w, add_special_tokens=False)["input_ids"]) == 1
    ]
    assert len(letters) >= 2
    prompt_ids, option_ids = backend._option_ids(PROMPTS[1], letters)
    assert all(len(ids) == 1 for ids in option_ids)  # the one-pass path is the one taken
    pairs = [EncodedPair.from_ids(prompt_ids, ids) for ids in option_ids]
    with torch.no_grad():
        expected = sequence_logps(backend.model, collate(pairs, tokenizer.pad_token_id)).tolist()
    assert backend.option_logps(PROMPTS[1], letters) == pytest.approx(expected, abs=1e-5)


def test_top_logprobs_are_the_first_tokens_distribution(backend):
    top = backend.top_logprobs(PROMPTS[1], 5)
    assert len(top) == 5
    assert [lp for _, lp in top] == sorted((lp for _, lp in top), reverse=True)
    [greedy] = backend.generate([GenerationRequest(PROMPTS[1], max_new_tokens=1)])
    assert greedy.text.strip() == top[0][0].strip()
    assert all(lp <= 0 and math.isfinite(lp) for _, lp in top)


def test_bad_input_is_refused(backend):
    with pytest.raises(TypeError, match=r"requests\[0\]: expected a GenerationRequest"):
        backend.generate(["hi"])
    with pytest.raises(ValueError, match="at least two"):
        backend.option_probs("hi", ["yes"])


def test_a_sampled_run_repeats_under_its_seed(backend, tmp_path):
    tasks = build_tasks("verbosity", SuiteOptions(max_new_tokens=6, temperature=1.0))

    def run(name, seed, chunk_size):
        config = RunConfig(seed=seed, limit=6, chunk_size=chunk_size, progress=False)
        summary = run_eval(tasks, backend, tmp_path / name, config)
        return [r.output for r in read_eval_records(tmp_path / name / "records.jsonl")], summary

    outputs, summary = run("a", 0, 6)
    assert run("b", 0, 2) == (outputs, summary)
    assert run("c", 1, 6)[0] != outputs


def test_option_probs_of_many_prompts_in_batches_equal_each_alone(backend):
    from alignlab.models.backends.batch import option_probs_many

    options = [["yes", "no no"], ["i do not know", "yes", "no"], ["no", "yes"]]
    prompts = [PROMPTS[0], PROMPTS[1], PROMPTS[0]]
    backend.batch_size = 1  # several forward passes, of different widths
    try:
        many = option_probs_many(backend, prompts, options, [None] * 3)
    finally:
        backend.batch_size = 16
    for got, prompt, opts in zip(many, prompts, options, strict=True):
        alone = backend.option_probs(prompt, opts)
        assert got.options == alone.options
        assert got.probs == pytest.approx(alone.probs, abs=1e-5)
        assert got.coverage == pytest.approx(alone.coverage, abs=1e-5)
