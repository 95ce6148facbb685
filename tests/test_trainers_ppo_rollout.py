from types import SimpleNamespace

import numpy as np
import pytest
import torch

from alignlab.models.loading import load_causal_lm, load_tokenizer
from alignlab.objectives import masked_mean, masked_var
from alignlab.trainers.rollout import (
    ActorCritic,
    advantages_and_returns,
    collect_rollout,
    judge_rates,
    last_token_mask,
    length_penalty,
    ppo_rewards,
    prompt_indices,
    rollout_seed,
)

# Two right-padded rows: a 3-token response after a 1-token prompt, then padding; and a
# 3-token response after a 2-token prompt.
MASK = torch.tensor([[0, 1, 1, 1, 0], [0, 0, 1, 1, 1]], dtype=torch.bool)
LOGPS = torch.tensor([[-9.0, -1.0, -0.5, -2.0, -7.0], [-9.0, -9.0, -0.2, -1.5, -0.1]])
REF_LOGPS = torch.tensor([[-3.0, -1.5, -0.5, -1.0, -2.0], [-3.0, -3.0, -0.7, -1.0, -0.4]])
SCORES = torch.tensor([1.0, -2.0])


def test_rewards_are_the_kl_penalty_per_token_and_the_score_at_the_last():
    rewards, kl = ppo_rewards(SCORES, LOGPS, REF_LOGPS, MASK, kl_coef=0.1)
    # k1 = logps - ref_logps on the response: row 0 (.5, 0, -1), row 1 (.5, -.5, .3).
    torch.testing.assert_close(kl, torch.tensor([[0, 0.5, 0, -1, 0], [0, 0, 0.5, -0.5, 0.3]]))
    expected = torch.tensor([[0, -0.05, 0, 0.1 + 1.0, 0], [0, 0, -0.05, 0.05, -0.03 - 2.0]])
    torch.testing.assert_close(rewards, expected)
    # The return of the first response token is the score less kl_coef times the KL.
    torch.testing.assert_close(rewards.sum(1), SCORES - 0.1 * kl.sum(1))


def test_rewards_with_the_k3_estimator_and_no_penalty():
    rewards, kl = ppo_rewards(SCORES, LOGPS, REF_LOGPS, MASK, kl_coef=0.0, estimator="k3")
    log_r = (REF_LOGPS - LOGPS)[MASK]
    torch.testing.assert_close(kl[MASK], torch.expm1(log_r) - log_r)
    assert (kl[~MASK] == 0).all()
    torch.testing.assert_close(rewards, torch.where(last_token_mask(MASK), SCORES[:, None], 0.0))


def test_rewards_need_a_response_per_score():
    empty = MASK.clone()
    empty[1] = False
    with pytest.raises(ValueError, match="at least one token"):
        ppo_rewards(SCORES, LOGPS, REF_LOGPS, empty, kl_coef=0.1)


def test_last_token_mask_on_ragged_rows():
    expected = torch.tensor([[0, 0, 0, 1, 0], [0, 0, 0, 0, 1]], dtype=torch.bool)
    assert torch.equal(last_token_mask(MASK), expected)


def test_advantages_are_rewards_to_go_without_discount_or_values():
    rewards, _ = ppo_rewards(SCORES, LOGPS, REF_LOGPS, MASK, kl_coef=0.1)
    values = torch.zeros_like(rewards)
    advantages, returns = advantages_and_returns(
        rewards, values, MASK, gamma=1.0, lam=1.0, whiten_rewards=False, whiten_advantages=False
    )
    expected = torch.tensor([[0, 1.05, 1.1, 1.1, 0], [0, 0, -2.03, -1.98, -2.03]])
    torch.testing.assert_close(advantages, expected)
    torch.testing.assert_close(returns, expected)

    whitened, same_returns = advantages_and_returns(
        rewards, values, MASK, gamma=1.0, lam=1.0, whiten_rewards=False, whiten_advantages=True
    )
    torch.testing.assert_close(same_returns, expected)
    assert masked_mean(whitened, MASK).abs() < 1e-6
    assert masked_var(whitened, MASK) == pytest.approx(1.0, abs=1e-4)


def test_reward_whitening_keeps_the_mean():
    rewards, _ = ppo_rewards(SCORES, LOGPS, REF_LOGPS, MASK, kl_coef=0.1)
    values = torch.zeros_like(rewards)
    _, returns = advantages_and_returns(
        rewards, values, MASK, gamma=1.0, lam=1.0, whiten_rewards=True, whiten_advantages=False
    )
    # Returns are sums of whitened rewards; 6 whitened rewards sum to 6 times their mean.
    whitened_sum = returns[0, 1] + returns[1, 2]
    torch.testing.assert_close(whitened_sum, 6 * masked_mean(rewards, MASK))


def test_length_penalty_per_token_beyond_the_free_ones():
    lengths = torch.tensor([3, 10, 12])
    torch.testing.assert_close(length_penalty(lengths, 0.5, 10), torch.tensor([0.0, 0.0, 1.0]))
    torch.testing.assert_close(length_penalty(lengths, 0.1), torch.tensor([0.3, 1.0, 1.2]))


def test_prompt_stream_covers_each_pass_and_depends_on_position_only():
    first_pass = prompt_indices(10, 10, seed=3, start=0)
    assert sorted(first_pass) == list(range(10))
    stream = prompt_indices(10, 25, seed=3, start=0)
    assert stream[:10] == first_pass and sorted(stream[10:20]) == list(range(10))
    # A window anywhere in the stream, across a pass boundary, is the same window.
    assert prompt_indices(10, 7, seed=3, start=8) == stream[8:15]
    assert prompt_indices(10, 10, seed=4, start=0) != first_pass
    with pytest.raises(ValueError, match="no prompts"):
        prompt_indices(0, 4, seed=0, start=0)


def test_rollout_seeds_differ_by_step_and_process():
    seeds = {rollout_seed(0, step, process) for step in range(1, 6) for process in range(3)}
    assert len(seeds) == 15
    assert rollout_seed(0, 1, 0) == rollout_seed(0, 1, 0) != rollout_seed(1, 1, 0)


def test_judge_rates_leave_out_absent_categories():
    def judge(prompt, response):
        return SimpleNamespace(category=response.split()[0], padded=len(response.split()) > 2)

    rates = judge_rates(judge, ["p"] * 4, ["yes", "yes a", "no a b", "yes a b c"])
    assert rates == {"gold/yes": 0.75, "gold/no": 0.25, "gold/padded": 0.5}

    def failing(prompt, response):
        raise ValueError("not a prompt of this world")

    with pytest.raises(ValueError, match="rollout response 0: not a prompt"):
        judge_rates(failing, ["p"], ["yes"])


def word_count(prompts, responses):
    return np.array([len(r.split()) for r in responses], dtype=float)


def test_collected_rollout_at_the_start(lm_dir):
    tokenizer = load_tokenizer(lm_dir)
    model = ActorCritic(load_causal_lm(lm_dir, device="cpu"))
    reference = load_causal_lm(lm_dir, device="cpu")
    prompts = [f"what is {a} + 1 ?" for a in range(5)]
    kwargs = dict(max_new_tokens=6, batch_size=2, seed=7)
    penalty = dict(length_penalty_coef=0.5, length_penalty_from=2)
    rollout, times = collect_rollout(
        model, reference, tokenizer, prompts, word_count, **kwargs, **penalty
    )
    assert set(times) == {"time/generate", "time/reward", "time/forward"}
    lengths = torch.tensor([len(g.response_ids) for g in rollout.generations])
    assert torch.equal(rollout.lengths, lengths)
    assert rollout.mask.shape == (5, rollout.batch["input_ids"].shape[1] - 1)
    for row, g in enumerate(rollout.generations):
        n = len(g.prompt_ids) + len(g.response_ids)
        assert rollout.batch["input_ids"][row, :n].tolist() == g.prompt_ids + g.response_ids
    proxy = torch.tensor(word_count(prompts, rollout.texts), dtype=torch.float32)
    torch.testing.assert_close(rollout.proxy, proxy)
    torch.testing.assert_close(rollout.scores, rollout.proxy - 0.5 * (lengths - 2).clamp(min=0))
    # The policy is its reference and its value head starts at zero.
    torch.testing.assert_close(rollout.logps, rollout.ref_logps)
    assert (rollout.logps[rollout.mask] < 0).all() and (rollout.logps[~rollout.mask] == 0).all()
    assert (rollout.values == 0).all() and (rollout.sequence_kl() == 0).all()
    again, _ = collect_rollout(model, reference, tokenizer, prompts, word_count, **kwargs)
    assert again.texts == rollout.texts

    rows = rollout.minibatch([1, 3], extra=rollout.logps)
    width = int(rollout.batch["attention_mask"][[1, 3]].sum(1).max())
    assert rows["input_ids"].shape == (2, width) and rows["mask"].shape == (2, width - 1)
    torch.testing.assert_close(rows["extra"], rollout.logps[[1, 3], : width - 1])
