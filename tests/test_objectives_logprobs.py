import math

import pytest
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from alignlab.objectives import (
    entropy_from_logits,
    masked_mean,
    masked_var,
    masked_whiten,
    sequence_logps,
    token_logps,
)

LN3 = math.log(3.0)


def test_token_logps_by_hand():
    # Row 0: logits[0, 0] = [0, ln 3] gives p = [1/4, 3/4]; the next token is 1, so ln(3/4).
    #        logits[0, 1] = [0, 0]    gives p = [1/2, 1/2]; the next token is 0, so ln(1/2).
    # The last position predicts nothing and is dropped.
    logits = torch.tensor([[[0.0, LN3], [0.0, 0.0], [5.0, -5.0]]])
    input_ids = torch.tensor([[0, 1, 0]])
    out = token_logps(logits, input_ids)
    assert out.shape == (1, 2)
    torch.testing.assert_close(out, torch.tensor([[math.log(3 / 4), math.log(1 / 2)]]))


def test_token_logps_matches_log_softmax_and_is_float32_for_bf16():
    torch.manual_seed(0)
    logits = torch.randn(3, 5, 7)
    input_ids = torch.randint(0, 7, (3, 5))
    expected = torch.log_softmax(logits[:, :-1], -1).gather(-1, input_ids[:, 1:, None])[..., 0]
    torch.testing.assert_close(token_logps(logits, input_ids), expected)

    out_bf16 = token_logps(logits.bfloat16(), input_ids)
    assert out_bf16.dtype == torch.float32
    reference = token_logps(logits.bfloat16().float(), input_ids)
    torch.testing.assert_close(out_bf16, reference)


def test_token_logps_gradient_is_onehot_minus_softmax():
    logits = torch.tensor([[[0.0, LN3], [1.0, 2.0]]], requires_grad=True)
    token_logps(logits, torch.tensor([[0, 1]])).sum().backward()
    # d ln p_1 / d z = onehot(1) - softmax(z) = [0 - 1/4, 1 - 3/4] at position 0; nothing at 1.
    torch.testing.assert_close(logits.grad, torch.tensor([[[-0.25, 0.25], [0.0, 0.0]]]))


@pytest.mark.parametrize(
    ("logits", "input_ids", "message"),
    [
        (torch.zeros(2, 3), torch.zeros(2, 3, dtype=torch.long), r"\[B, T, V\]"),
        (torch.zeros(2, 3, 4), torch.zeros(2, 4, dtype=torch.long), "input_ids must be"),
        (torch.zeros(2, 3, 4), torch.zeros(2, 3), "integer token ids"),
        (torch.zeros(2, 3, 4), torch.full((2, 3), 4), r"\[0, 4\)"),
    ],
)
def test_token_logps_rejects_bad_input(logits, input_ids, message):
    with pytest.raises(ValueError, match=message):
        token_logps(logits, input_ids)


def test_sequence_logps_sum_and_average():
    logps = torch.tensor([[-1.0, -2.0, -3.0], [-4.0, -float("inf"), -6.0]])
    mask = torch.tensor([[0, 1, 1], [1, 0, 1]])
    # Row 0: -2 - 3 = -5, mean -2.5. Row 1: -4 - 6 = -10, mean -5; the masked -inf is ignored.
    torch.testing.assert_close(sequence_logps(logps, mask), torch.tensor([-5.0, -10.0]))
    torch.testing.assert_close(
        sequence_logps(logps, mask, average=True), torch.tensor([-2.5, -5.0])
    )


def test_sequence_logps_rejects_misaligned_mask():
    with pytest.raises(ValueError, match="mask shape"):
        sequence_logps(torch.zeros(2, 3), torch.ones(2, 4))


def test_masked_mean_all_and_along_dim():
    x = torch.tensor([[1.0, 2.0, 9.0], [3.0, 9.0, 9.0]])
    mask = torch.tensor([[True, True, False], [True, False, False]])
    # All: (1 + 2 + 3) / 3 = 2. Rows: (1 + 2) / 2 = 1.5 and 3 / 1 = 3.
    torch.testing.assert_close(masked_mean(x, mask), torch.tensor(2.0))
    torch.testing.assert_close(masked_mean(x, mask, dim=1), torch.tensor([1.5, 3.0]))


def test_masked_mean_rejects_empty_mask():
    with pytest.raises(ValueError, match="no elements"):
        masked_mean(torch.ones(2, 2), torch.zeros(2, 2))
    with pytest.raises(ValueError, match="along dim 1"):
        masked_mean(torch.ones(2, 2), torch.tensor([[1, 0], [0, 0]]), dim=1)


def test_masked_var_by_hand():
    x = torch.tensor([1.0, 2.0, 3.0, 100.0])
    mask = torch.tensor([1, 1, 1, 0])
    # Mean 2; squared deviations 1, 0, 1: biased 2/3, unbiased 2/2 = 1.
    torch.testing.assert_close(masked_var(x, mask), torch.tensor(1.0))
    torch.testing.assert_close(masked_var(x, mask, unbiased=False), torch.tensor(2 / 3))
    with pytest.raises(ValueError, match="fewer than 2"):
        masked_var(x, torch.tensor([1, 0, 0, 0]))


def test_masked_whiten_by_hand():
    x = torch.tensor([1.0, 2.0, 3.0, 100.0])
    mask = torch.tensor([1, 1, 1, 0])
    # Mean 2, unbiased variance 1: whitened [-1, 0, 1], and 0 off the mask.
    torch.testing.assert_close(masked_whiten(x, mask, eps=0.0), torch.tensor([-1.0, 0.0, 1.0, 0.0]))
    torch.testing.assert_close(
        masked_whiten(x, mask, shift_mean=False, eps=0.0), torch.tensor([1.0, 2.0, 3.0, 0.0])
    )


@settings(max_examples=50, deadline=None)
@given(
    values=st.lists(st.floats(-100, 100), min_size=8, max_size=8),
    keep=st.lists(st.booleans(), min_size=8, max_size=8),
)
def test_masked_whiten_has_zero_mean_unit_variance(values, keep):
    x = torch.tensor(values, dtype=torch.float64)
    mask = torch.tensor(keep)
    assume(mask.sum() >= 2 and masked_var(x, mask) > 1e-3)
    whitened = masked_whiten(x, mask, eps=0.0)
    torch.testing.assert_close(masked_mean(whitened, mask), torch.tensor(0.0, dtype=x.dtype))
    torch.testing.assert_close(masked_var(whitened, mask), torch.tensor(1.0, dtype=x.dtype))


def test_entropy_from_logits_by_hand():
    # Uniform over 4: ln 4. p = [1/4, 3/4]: -(1/4 ln 1/4 + 3/4 ln 3/4) = ln 4 - (3/4) ln 3.
    # One token certain (the others at -inf): 0.
    logits = torch.tensor(
        [[[0.0, 0.0, 0.0, 0.0], [0.0, LN3, -float("inf"), -float("inf")]]],
        requires_grad=True,
    )
    certain = torch.tensor([[[1.0, -float("inf"), -float("inf"), -float("inf")]]])
    entropy = entropy_from_logits(logits)
    expected = torch.tensor([[math.log(4), math.log(4) - 0.75 * LN3]])
    torch.testing.assert_close(entropy, expected)
    torch.testing.assert_close(entropy_from_logits(certain), torch.tensor([[0.0]]))
    entropy.sum().backward()
    assert torch.isfinite(logits.grad).all()
