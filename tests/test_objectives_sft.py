import math

import pytest
import torch

from alignlab.objectives import sft_loss

LN3 = math.log(3.0)


def test_sft_loss_counts_response_tokens_only():
    # Prompt = tokens 0-1, response = tokens 2-3. Targets 2 and 3 are predicted by positions 1, 2:
    #   logits[0, 1] = [0, ln 3] -> p(token 2 = 1) = 3/4;
    #   logits[0, 2] = [0, 0]    -> p(token 3 = 0) = 1/2.
    # Position 0 predicts a prompt token and must not count, however wrong it is.
    # loss = -(ln 3/4 + ln 1/2) / 2 = ln(8/3) / 2, ppl = sqrt(8/3).
    logits = torch.tensor([[[-50.0, 50.0], [0.0, LN3], [0.0, 0.0], [7.0, 7.0]]])
    input_ids = torch.tensor([[1, 0, 1, 0]])
    response_mask = torch.tensor([[0, 0, 1, 1]])
    loss, metrics = sft_loss(logits, input_ids, response_mask)
    torch.testing.assert_close(loss, torch.tensor(math.log(8 / 3) / 2))
    torch.testing.assert_close(metrics["ppl"], torch.tensor(math.sqrt(8 / 3)))
    torch.testing.assert_close(metrics["tokens"], torch.tensor(2.0))
    torch.testing.assert_close(metrics["loss"], loss.detach())


def test_sft_loss_weighs_every_response_token_equally():
    # Row 0 has one response token with NLL ln 2; row 1 has two with NLL ln 4 each.
    # Token mean: (ln 2 + 2 ln 4) / 3 = 5 ln 2 / 3 (a per-row mean would give 3 ln 2 / 2).
    ln4 = math.log(4.0)
    logits = torch.zeros(2, 3, 4)
    logits[0, 1] = torch.tensor([0.0, 0.0, -float("inf"), -float("inf")])  # p = 1/2 each
    input_ids = torch.tensor([[0, 0, 1], [0, 2, 3]])
    response_mask = torch.tensor([[0, 0, 1], [0, 1, 1]])
    loss, metrics = sft_loss(logits, input_ids, response_mask)
    torch.testing.assert_close(loss, torch.tensor((math.log(2) + 2 * ln4) / 3))
    torch.testing.assert_close(metrics["tokens"], torch.tensor(3.0))


def test_sft_loss_metrics_are_detached_scalars_and_loss_has_gradient():
    torch.manual_seed(0)
    logits = torch.randn(2, 5, 6, requires_grad=True)
    input_ids = torch.randint(0, 6, (2, 5))
    response_mask = torch.tensor([[0, 0, 1, 1, 1], [0, 1, 1, 1, 0]])
    loss, metrics = sft_loss(logits, input_ids, response_mask)
    assert set(metrics) == {"loss", "tokens", "ppl"}
    assert all(m.dim() == 0 and not m.requires_grad for m in metrics.values())
    loss.backward()
    # Only positions that predict a response token receive gradient.
    predicts_response = response_mask[:, 1:].bool()
    assert (logits.grad[:, :-1][~predicts_response] == 0).all()
    assert (logits.grad[:, -1] == 0).all()
    assert (logits.grad[:, :-1][predicts_response].abs().sum(-1) > 0).all()


def test_sft_loss_rejects_bad_input():
    with pytest.raises(ValueError, match="response_mask shape"):
        sft_loss(torch.zeros(1, 3, 2), torch.zeros(1, 3, dtype=torch.long), torch.ones(1, 2))
    with pytest.raises(ValueError, match="no elements"):
        sft_loss(torch.zeros(1, 3, 2), torch.zeros(1, 3, dtype=torch.long), torch.zeros(1, 3))
