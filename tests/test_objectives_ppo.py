import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from alignlab.objectives import entropy_bonus, gae, policy_loss, value_loss


def naive_gae(rewards, values, mask, gamma, lam):
    """GAE one row and one valid step at a time, with plain floats."""
    batch, steps = len(rewards), len(rewards[0])
    advantages = [[0.0] * steps for _ in range(batch)]
    returns = [[0.0] * steps for _ in range(batch)]
    for b in range(batch):
        valid = [t for t in range(steps) if mask[b][t]]
        running = 0.0
        for i in reversed(range(len(valid))):
            t = valid[i]
            next_value = values[b][valid[i + 1]] if i + 1 < len(valid) else 0.0
            delta = rewards[b][t] + gamma * next_value - values[b][t]
            running = delta + gamma * lam * running
            advantages[b][t] = running
            returns[b][t] = running + values[b][t]
    return advantages, returns


def test_gae_by_hand():
    # gamma = 1, lam = 0.5, V = 0.5 everywhere, reward 1 at the end:
    # delta = [0 + 0.5 - 0.5, 0 + 0.5 - 0.5, 1 + 0 - 0.5] = [0, 0, 0.5]
    # A_2 = 0.5, A_1 = 0 + 0.5 * 0.5 = 0.25, A_0 = 0 + 0.5 * 0.25 = 0.125; R = A + V.
    rewards = torch.tensor([[0.0, 0.0, 1.0]])
    values = torch.full((1, 3), 0.5)
    advantages, returns = gae(rewards, values, torch.ones(1, 3), gamma=1.0, lam=0.5)
    torch.testing.assert_close(advantages, torch.tensor([[0.125, 0.25, 0.5]]))
    torch.testing.assert_close(returns, torch.tensor([[0.625, 0.75, 1.0]]))


def test_gae_with_left_and_right_padding_by_hand():
    # Valid steps 1-2 only; padding holds junk that must not leak in.
    # gamma = 0.5, lam = 1: delta_2 = 2 + 0 - 1 = 1, delta_1 = 0 + 0.5 * 1 - 3 = -2.5;
    # A_2 = 1, A_1 = -2.5 + 0.5 * 1 = -2; R = [0, 1, 2, 0].
    rewards = torch.tensor([[9.0, 0.0, 2.0, 9.0]])
    values = torch.tensor([[9.0, 3.0, 1.0, float("nan")]])
    mask = torch.tensor([[0, 1, 1, 0]])
    advantages, returns = gae(rewards, values, mask, gamma=0.5, lam=1.0)
    torch.testing.assert_close(advantages, torch.tensor([[0.0, -2.0, 1.0, 0.0]]))
    torch.testing.assert_close(returns, torch.tensor([[0.0, 1.0, 2.0, 0.0]]))


@settings(max_examples=40, deadline=None)
@given(
    data=st.data(),
    batch=st.integers(1, 4),
    steps=st.integers(1, 7),
    gamma=st.floats(0.5, 1.0),
    lam=st.floats(0.0, 1.0),
    seed=st.integers(0, 2**16),
)
def test_gae_matches_naive_loop_on_ragged_rows(data, batch, steps, gamma, lam, seed):
    mask = torch.zeros(batch, steps, dtype=torch.bool)
    for b in range(batch):
        start = data.draw(st.integers(0, steps - 1))
        length = data.draw(st.integers(0, steps - start))
        mask[b, start : start + length] = True
    generator = torch.Generator().manual_seed(seed)
    rewards = torch.randn(batch, steps, generator=generator, dtype=torch.float64)
    values = torch.randn(batch, steps, generator=generator, dtype=torch.float64)
    advantages, returns = gae(rewards, values, mask, gamma=gamma, lam=lam)
    expected = naive_gae(rewards.tolist(), values.tolist(), mask.tolist(), gamma, lam)
    torch.testing.assert_close(advantages, torch.tensor(expected[0], dtype=torch.float64))
    torch.testing.assert_close(returns, torch.tensor(expected[1], dtype=torch.float64))


def test_gae_rejects_bad_input():
    with pytest.raises(ValueError, match="one contiguous run"):
        gae(torch.zeros(1, 4), torch.zeros(1, 4), torch.tensor([[1, 0, 1, 0]]))
    with pytest.raises(ValueError, match="values shape"):
        gae(torch.zeros(1, 4), torch.zeros(1, 3), torch.ones(1, 4))


def test_gae_targets_carry_no_gradient():
    values = torch.zeros(1, 2, requires_grad=True)
    advantages, returns = gae(torch.ones(1, 2), values, torch.ones(1, 2))
    assert not advantages.requires_grad and not returns.requires_grad


# Four tokens, clip_range 0.2. ratio = [1.5, 0.5, 0.5, 1.1], A = [1, 1, -1, 2]:
#   -A r        = [-1.5, -0.5, 0.5, -2.2]
#   -A clip(r)  = [-1.2, -0.8, 0.8, -2.2]
#   max         = [-1.2, -0.5, 0.8, -2.2]  (clipped wins on tokens 0 and 2)
# loss = (-1.2 - 0.5 + 0.8 - 2.2) / 4 = -0.775.
RATIOS = [1.5, 0.5, 0.5, 1.1]
ADVANTAGES = torch.tensor([[1.0, 1.0, -1.0, 2.0]])


def test_policy_loss_by_hand():
    logps = torch.tensor([[math.log(r) for r in RATIOS]], requires_grad=True)
    old_logps = torch.zeros(1, 4)
    loss, metrics = policy_loss(logps, old_logps, ADVANTAGES, torch.ones(1, 4), clip_range=0.2)
    torch.testing.assert_close(loss, torch.tensor(-0.775))
    torch.testing.assert_close(metrics["clipfrac"], torch.tensor(0.5))
    torch.testing.assert_close(metrics["ratio/mean"], torch.tensor((1.5 + 0.5 + 0.5 + 1.1) / 4))
    approx_kl = sum(r - 1 - math.log(r) for r in RATIOS) / 4
    torch.testing.assert_close(metrics["approx_kl"], torch.tensor(approx_kl))
    assert all(m.dim() == 0 and not m.requires_grad for m in metrics.values())

    # d/d logp of -A r is -A r / 4 where the unclipped term wins, 0 where the clip wins.
    loss.backward()
    torch.testing.assert_close(logps.grad, torch.tensor([[0.0, -0.5 / 4, 0.0, -2.2 / 4]]))


def test_policy_loss_ignores_masked_tokens():
    logps = torch.tensor([[math.log(r) for r in RATIOS] + [5.0]])
    advantages = torch.cat([ADVANTAGES, torch.tensor([[100.0]])], dim=1)
    mask = torch.tensor([[1, 1, 1, 1, 0]])
    loss, metrics = policy_loss(logps, torch.zeros(1, 5), advantages, mask)
    torch.testing.assert_close(loss, torch.tensor(-0.775))
    torch.testing.assert_close(metrics["clipfrac"], torch.tensor(0.5))


def test_value_loss_by_hand():
    # clip 0.2. Token 0: V = 1.5, old 1.0 -> V_clip = 1.2; R = 2: errors 0.25 and 0.64, max 0.64.
    # Token 1: V = old = 0, R = 1: errors 1 and 1. loss = 0.5 * (0.64 + 1) / 2 = 0.41.
    values = torch.tensor([[1.5, 0.0]], requires_grad=True)
    old_values = torch.tensor([[1.0, 0.0]])
    returns = torch.tensor([[2.0, 1.0]])
    loss, metrics = value_loss(values, old_values, returns, torch.ones(1, 2), clip_range_value=0.2)
    torch.testing.assert_close(loss, torch.tensor(0.41))
    torch.testing.assert_close(metrics["value_clipfrac"], torch.tensor(0.5))
    # The clipped token gives no gradient; token 1: d/dV 0.5 (V - R)^2 / 2 = (0 - 1) / 2.
    loss.backward()
    torch.testing.assert_close(values.grad, torch.tensor([[0.0, -0.5]]))


def test_entropy_bonus_by_hand():
    # Position 0 uniform over 4 (ln 4), position 1 uniform over 2 (ln 2), position 2 masked.
    inf = float("inf")
    logits = torch.tensor([[[0.0, 0.0, 0.0, 0.0], [0.0, 0.0, -inf, -inf], [9.0, 0.0, 0.0, 0.0]]])
    bonus = entropy_bonus(logits, torch.tensor([[1, 1, 0]]))
    torch.testing.assert_close(bonus, torch.tensor((math.log(4) + math.log(2)) / 2))


def test_ppo_losses_reject_bad_input():
    zeros, ones = torch.zeros(1, 3), torch.ones(1, 3)
    with pytest.raises(ValueError, match="advantages shape"):
        policy_loss(zeros, zeros, torch.zeros(1, 2), ones)
    with pytest.raises(ValueError, match="clip_range must be positive"):
        policy_loss(zeros, zeros, zeros, ones, clip_range=0.0)
    with pytest.raises(ValueError, match=r"mask must be \[B, T\]"):
        value_loss(zeros, zeros, zeros, torch.ones(3))
    with pytest.raises(ValueError, match="clip_range_value must be positive"):
        value_loss(zeros, zeros, zeros, ones, clip_range_value=-1.0)
    with pytest.raises(ValueError, match="same positions"):
        entropy_bonus(torch.zeros(1, 3, 2), torch.ones(1, 2))
