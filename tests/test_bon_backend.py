"""BestOfNBackend: n seeded samples per request, the reward's best answer, ties to the first."""

import numpy as np
import pytest

from alignlab.models.backends import Completion, GenerationRequest, sample_seed
from alignlab.trainers.bon_backend import BestOfNBackend


class Echo:
    """Answers each request with its seed, and records what it was asked."""

    name = "echo"

    def __init__(self):
        self.asked = []

    def generate(self, requests, *, progress=False):
        self.asked.extend(requests)
        return [Completion((f"{r.prompt}:{r.seed}",), ("stop",), model="echo") for r in requests]

    def option_probs(self, prompt, options, *, votes=8, seed=None):
        return ("probs", prompt, tuple(options))


def seed_reward(prompts, responses):
    return np.array([int(r.split(":")[1]) % 1000 for r in responses], dtype=float)


def test_answer_is_the_highest_scored_of_n_seeded_samples():
    echo = Echo()
    bon = BestOfNBackend(echo, seed_reward, 4, temperature=0.7, seed=3)
    [answer] = bon.generate([GenerationRequest("q", temperature=0.0)])
    assert len(echo.asked) == 4
    assert all(r.temperature == 0.7 and r.n == 1 for r in echo.asked)
    seeds = [r.seed for r in echo.asked]
    assert len(set(seeds)) == 4
    assert seeds == [sample_seed(3, GenerationRequest("q"), k) for k in range(4)]
    best = max(seeds, key=lambda s: s % 1000)
    assert answer.text == f"q:{best}"
    assert answer.model == "best-of-4(echo)"


def test_samples_do_not_depend_on_the_batch():
    alone = BestOfNBackend(Echo(), seed_reward, 3).generate([GenerationRequest("b")])
    together = BestOfNBackend(Echo(), seed_reward, 3).generate(
        [GenerationRequest("a"), GenerationRequest("b")]
    )
    assert together[1] == alone[0]


def test_ties_go_to_the_first_sample():
    echo = Echo()
    bon = BestOfNBackend(echo, lambda p, r: np.zeros(len(r)), 5)
    [answer] = bon.generate([GenerationRequest("q")])
    assert answer.text == f"q:{echo.asked[0].seed}"


def test_n_of_one_is_one_sample_and_option_probs_pass_through():
    echo = Echo()
    bon = BestOfNBackend(echo, seed_reward, 1)
    bon.generate([GenerationRequest("q")])
    assert len(echo.asked) == 1
    assert bon.option_probs("p", ["A", "B"]) == ("probs", "p", ("A", "B"))


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match="n: must be at least 1"):
        BestOfNBackend(Echo(), seed_reward, 0)
    with pytest.raises(ValueError, match="temperature"):
        BestOfNBackend(Echo(), seed_reward, 2, temperature=0)
    with pytest.raises(ValueError, match="n=1"):
        BestOfNBackend(Echo(), seed_reward, 2).generate([GenerationRequest("q", n=2)])
