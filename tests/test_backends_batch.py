"""option_probs_many: every prompt's option probabilities, in order, locally or concurrently."""

import asyncio

import pytest

from alignlab.models.backends import OptionProbs
from alignlab.models.backends.batch import option_probs_many


def probs(prompt, seed):
    first = 0.25 if seed is None else seed / 10
    return OptionProbs(("A", "B"), (first, 1 - first), method="logprobs", coverage=1.0)


class Local:
    def __init__(self):
        self.asked = []

    def option_probs(self, prompt, options, *, votes=8, seed=None):
        self.asked.append((prompt, tuple(options), votes, seed))
        return probs(prompt, seed)


class Endpoint:
    concurrency = 2

    def __init__(self):
        self.running = self.most = 0

    async def aoption_probs(self, prompt, options, *, votes=8, seed=None):
        self.running += 1
        self.most = max(self.most, self.running)
        await asyncio.sleep(0.01 * (5 - int(prompt)))  # later prompts answer first
        self.running -= 1
        return probs(prompt, seed)


def test_a_local_model_answers_in_order_with_its_votes_and_seeds():
    local = Local()
    out = option_probs_many(local, ["p", "q"], [["A", "B"]] * 2, [3, None], votes=4)
    assert [o.probs[0] for o in out] == [0.3, 0.25]
    assert local.asked == [("p", ("A", "B"), 4, 3), ("q", ("A", "B"), 4, None)]


def test_an_endpoint_runs_concurrently_within_its_limit_and_keeps_the_order():
    endpoint = Endpoint()
    out = option_probs_many(endpoint, ["1", "2", "3", "4"], [["A", "B"]] * 4, [1, 2, 3, 4])
    assert [o.probs[0] for o in out] == [0.1, 0.2, 0.3, 0.4]
    assert endpoint.most == 2


def test_lengths_must_agree():
    with pytest.raises(ValueError, match="lengths differ"):
        option_probs_many(Local(), ["p"], [["A", "B"]] * 2, [0])
