import pytest
import torch

from alignlab.models.loading import load_causal_lm
from alignlab.models.reward import EnsembleScores, RewardEnsemble, RewardModel
from alignlab.models.sequences import collate, encode_pair
from tiny_models import write_tiny_causal_lm

PROMPTS = [
    "what is the capital of france ?",
    "hi",
    [{"role": "user", "content": "what is 2 + 3 ?"}],
    "i think 2 + 3 = 6 . am i right ?",
    "tell me a long story please",
]
RESPONSES = ["paris", "hello there , how are you ?", "5", "no , it is 5", "no"]


@pytest.fixture(scope="module")
def reward_model(lm_dir):
    return RewardModel.from_causal_lm(lm_dir, device="cpu", seed=0)


def test_backbone_comes_from_the_language_model(lm_dir, reward_model):
    lm = load_causal_lm(lm_dir, device="cpu")
    assert torch.equal(reward_model.model.model.embed_tokens.weight, lm.model.embed_tokens.weight)
    assert reward_model.model.config.num_labels == 1
    assert reward_model.model.config.pad_token_id == reward_model.tokenizer.pad_token_id


def test_head_initialization_follows_the_seed(lm_dir, reward_model):
    same = RewardModel.from_causal_lm(lm_dir, device="cpu", seed=0)
    other = RewardModel.from_causal_lm(lm_dir, device="cpu", seed=1)
    assert torch.equal(same.model.score.weight, reward_model.model.score.weight)
    assert not torch.equal(other.model.score.weight, reward_model.model.score.weight)


def test_score_equals_forward_on_each_unpadded_pair(reward_model):
    scores = reward_model.score(PROMPTS, RESPONSES)
    assert scores.shape == (5,) and scores.dtype == torch.float32
    for i, (prompt, response) in enumerate(zip(PROMPTS, RESPONSES, strict=True)):
        batch = collate([encode_pair(reward_model.tokenizer, prompt, response)], 0)
        with torch.no_grad():
            assert torch.allclose(reward_model(batch), scores[i : i + 1], atol=1e-6)


def test_padding_does_not_change_a_score(reward_model):
    one_by_one = reward_model.score(PROMPTS, RESPONSES, batch_size=1)
    all_at_once = reward_model.score(PROMPTS, RESPONSES, batch_size=5)
    in_pairs = reward_model.score(PROMPTS, RESPONSES, batch_size=2)
    assert torch.allclose(one_by_one, all_at_once, atol=1e-5)
    assert torch.allclose(one_by_one, in_pairs, atol=1e-5)


def test_left_padded_batches_are_refused(reward_model):
    pairs = [
        encode_pair(reward_model.tokenizer, p, r) for p, r in zip(PROMPTS, RESPONSES, strict=True)
    ]
    with pytest.raises(ValueError, match="right-padded"):
        reward_model(collate(pairs, 0, padding_side="left"))


def test_save_load_round_trip_gives_identical_scores(reward_model, tmp_path):
    reward_model.save(tmp_path / "rm")
    assert (tmp_path / "rm" / "model.safetensors").is_file()
    loaded = RewardModel.load(tmp_path / "rm", device="cpu")
    assert torch.equal(loaded.score(PROMPTS, RESPONSES), reward_model.score(PROMPTS, RESPONSES))


def test_loading_a_language_model_as_a_reward_model_is_refused(lm_dir):
    with pytest.raises(ValueError, match="not a saved reward model"):
        RewardModel.load(lm_dir, device="cpu")


def test_ensemble_statistics_match_torch(lm_dir):
    ensemble = RewardEnsemble(
        [RewardModel.from_causal_lm(lm_dir, device="cpu", seed=s) for s in range(3)]
    )
    scores = ensemble.score(PROMPTS, RESPONSES)
    members = torch.stack([m.score(PROMPTS, RESPONSES) for m in ensemble.members])
    assert torch.equal(scores.members, members)
    assert torch.allclose(scores.mean, torch.mean(members, dim=0))
    assert torch.allclose(scores.std, torch.std(members, dim=0))
    assert torch.allclose(scores.conservative(2.0), scores.mean - 2.0 * scores.std)
    assert torch.equal(scores.worst_case(), members.min(dim=0).values)


def test_ensemble_save_load_round_trip(lm_dir, tmp_path):
    ensemble = RewardEnsemble(
        [RewardModel.from_causal_lm(lm_dir, device="cpu", seed=s) for s in range(2)]
    )
    ensemble.save(tmp_path / "ensemble")
    assert sorted(p.name for p in (tmp_path / "ensemble").iterdir()) == ["member_0", "member_1"]
    loaded = RewardEnsemble.load(tmp_path / "ensemble", device="cpu")
    assert len(loaded) == 2
    assert torch.equal(
        loaded.score(PROMPTS, RESPONSES).members, ensemble.score(PROMPTS, RESPONSES).members
    )


def test_ensemble_of_one_has_no_spread():
    scores = EnsembleScores.from_members(torch.tensor([[1.0, 2.0]]))
    assert scores.std.tolist() == [0.0, 0.0]
    assert scores.conservative(3.0).tolist() == [1.0, 2.0]


def test_ensemble_errors_name_the_problem(tmp_path):
    with pytest.raises(ValueError, match="at least one member"):
        RewardEnsemble([])
    with pytest.raises(ValueError, match=r"no member_0/"):
        RewardEnsemble.load(tmp_path)
    with pytest.raises(FileNotFoundError, match="no such ensemble directory"):
        RewardEnsemble.load(tmp_path / "missing")


def test_padding_does_not_change_a_score_when_pad_is_eos(tmp_path):
    reward_model = RewardModel.from_causal_lm(
        write_tiny_causal_lm(tmp_path, pad_token=False), device="cpu", seed=0
    )
    assert reward_model.tokenizer.pad_token_id == reward_model.tokenizer.eos_token_id
    one_by_one = reward_model.score(PROMPTS, RESPONSES, batch_size=1)
    assert torch.allclose(one_by_one, reward_model.score(PROMPTS, RESPONSES), atol=1e-5)
