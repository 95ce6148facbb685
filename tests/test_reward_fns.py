import numpy as np
import pytest

from alignlab.models.reward import RewardEnsemble, RewardModel
from alignlab.models.reward_fns import batched, judge_columns, resolve_judge, resolve_reward
from alignlab.organisms.assistant import gold_utility, judge

PROMPTS = ["what is 2 + 3 ?", "hi", "tell me a long story please"]
RESPONSES = ["5", "hello there", "no"]


def words(prompt, response: str) -> float:
    """Scores one pair: the number of words in the response."""
    return float(len(response.split()))


@batched
def batch_words(prompts, responses):
    return [len(r.split()) * 10 for r in responses]


def wrong_shape(prompts, responses):
    return [1.0, 2.0]


wrong_shape.batched = True


def not_a_number(prompt, response):
    return float("nan")


def fails_on_hi(prompt, response):
    if prompt == "hi":
        raise ValueError("cannot score a greeting")
    return 1.0


NOT_CALLABLE = 3


@pytest.fixture(scope="module")
def reward_dir(lm_dir, tmp_path_factory):
    path = tmp_path_factory.mktemp("rm") / "model"
    RewardModel.from_causal_lm(lm_dir, device="cpu", seed=0).save(path)
    return path


@pytest.fixture(scope="module")
def ensemble_dir(lm_dir, tmp_path_factory):
    path = tmp_path_factory.mktemp("ensemble")
    members = [RewardModel.from_causal_lm(lm_dir, device="cpu", seed=s) for s in (0, 1, 2)]
    RewardEnsemble(members).save(path)
    return path


def test_gold_alias_is_the_organism_gold_utility():
    prompts = ["what is 3 + 4 ?"] * 3
    responses = ["3 + 4 = 7 .", "3 + 4 = 8 .", "7 . i hope this helps ."]
    scores = resolve_reward("gold")(prompts, responses)
    assert scores.tolist() == [gold_utility(p, r) for p, r in zip(prompts, responses, strict=True)]
    assert scores.tolist() == [1.0, 0.0, 0.9]


def test_module_function_scores_one_pair_at_a_time():
    scores = resolve_reward("test_reward_fns:words")(PROMPTS, RESPONSES)
    assert scores.dtype == float and scores.tolist() == [1.0, 2.0, 1.0]


def test_batched_function_scores_the_whole_batch():
    assert resolve_reward("test_reward_fns:batch_words")(PROMPTS, RESPONSES).tolist() == [
        10.0,
        20.0,
        10.0,
    ]


def test_reward_model_directory(reward_dir):
    expected = RewardModel.load(reward_dir, device="cpu").score(PROMPTS, RESPONSES).numpy()
    scores = resolve_reward(str(reward_dir), device="cpu")(PROMPTS, RESPONSES)
    np.testing.assert_allclose(scores, expected, rtol=1e-6)


@pytest.mark.parametrize(
    ("suffix", "combine"),
    [
        ("", lambda s: s.mean),
        ("@mean", lambda s: s.mean),
        ("@min", lambda s: s.worst_case()),
        ("@mean-1.0std", lambda s: s.conservative(1.0)),
        ("@mean-2std", lambda s: s.conservative(2.0)),
    ],
)
def test_ensemble_directory_and_its_scores(ensemble_dir, suffix, combine):
    ensemble = RewardEnsemble.load(ensemble_dir, device="cpu")
    expected = combine(ensemble.score(PROMPTS, RESPONSES)).numpy()
    scores = resolve_reward(f"{ensemble_dir}{suffix}", device="cpu")(PROMPTS, RESPONSES)
    np.testing.assert_allclose(scores, expected, rtol=1e-6)


def test_ensemble_scores_differ_from_each_other(ensemble_dir):
    mean = resolve_reward(str(ensemble_dir), device="cpu")(PROMPTS, RESPONSES)
    worst = resolve_reward(f"{ensemble_dir}@min", device="cpu")(PROMPTS, RESPONSES)
    assert (worst <= mean + 1e-6).all() and not np.allclose(worst, mean)


def test_empty_batch_scores_nothing():
    assert resolve_reward("test_reward_fns:words")([], []).shape == (0,)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("no/such/dir", "names no reward"),
        ("no_such_module_xyz:fn", "cannot import module"),
        ("test_reward_fns:missing", "has no attribute"),
        ("test_reward_fns:NOT_CALLABLE", "is not callable"),
        ("no/such/dir@min", "names no reward"),
    ],
)
def test_specs_that_name_no_reward_are_refused(spec, message):
    with pytest.raises(ValueError, match=message):
        resolve_reward(spec)


def test_directory_that_is_no_model_is_refused(tmp_path):
    with pytest.raises(ValueError, match="neither a reward model"):
        resolve_reward(str(tmp_path))


def test_ensemble_suffix_on_a_single_model_is_refused(reward_dir):
    with pytest.raises(ValueError, match="holds no member_0"):
        resolve_reward(f"{reward_dir}@min")


def test_unknown_ensemble_score_is_refused(ensemble_dir):
    with pytest.raises(ValueError, match="unknown ensemble score 'max'"):
        resolve_reward(f"{ensemble_dir}@max")


def test_a_file_is_refused(tmp_path):
    path = tmp_path / "weights.bin"
    path.write_bytes(b"")
    with pytest.raises(ValueError, match="a file"):
        resolve_reward(str(path))


def test_bad_outputs_are_reported_with_the_spec():
    with pytest.raises(ValueError, match=r"wrong_shape'.*shape \(2,\) for 3 pairs"):
        resolve_reward("test_reward_fns:wrong_shape")(PROMPTS, RESPONSES)
    with pytest.raises(ValueError, match="score nan for pair 0"):
        resolve_reward("test_reward_fns:not_a_number")(PROMPTS, RESPONSES)
    with pytest.raises(ValueError, match="failed on pair 1: cannot score a greeting"):
        resolve_reward("test_reward_fns:fails_on_hi")(PROMPTS, RESPONSES)
    with pytest.raises(ValueError, match="got 3 prompts but 2 responses"):
        resolve_reward("test_reward_fns:words")(PROMPTS, RESPONSES[:2])


def test_gold_on_a_prompt_outside_the_world_names_the_pair():
    with pytest.raises(ValueError, match="failed on pair 0: not a prompt of the assistant world"):
        resolve_reward("gold")(["tell me a long story please"], ["no ."])


def test_judge_alias_and_module_function():
    assert resolve_judge("gold") is judge
    assert resolve_judge("alignlab.organisms.assistant:judge") is judge
    with pytest.raises(ValueError, match="expected module:function"):
        resolve_judge("judge")


def test_judge_columns_give_a_column_per_category_and_name_a_failing_verdict():
    prompt = "what is 3 + 4 ?"
    columns = judge_columns(judge, [prompt] * 3, ["3 + 4 = 7 .", "7 . i hope this helps .", "9 ."])
    assert columns["correct"].tolist() == [1, 1, 0] and columns["wrong"].tolist() == [0, 0, 1]
    assert columns["padded"].tolist() == [0, 1, 0] and set(columns) == {
        "correct",
        "wrong",
        "padded",
    }
    with pytest.raises(ValueError, match="my_judge failed on answer 1: "):
        judge_columns(
            judge,
            [prompt, "not a prompt of this world"],
            ["7 .", "7 ."],
            name="my_judge",
            what="answer",
        )
