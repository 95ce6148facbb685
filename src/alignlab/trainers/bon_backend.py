"""Best-of-n as a model: a backend whose answer is the best of n samples by a reward.

:class:`BestOfNBackend` wraps any :class:`~alignlab.models.backends.Backend` (a local HF
model or an OpenAI-compatible server): each request is sent as ``n`` requests of one
sample each, at ``temperature``, seeded, and the answer is the sample the reward function
scores highest, picked with :func:`alignlab.trainers.best_of_n.select` (ties to the
earlier sample). So a best-of-n policy is evaluated on any suite like any other model,
and, over a server, its sampling runs where the server runs.

Each sample's seed is drawn from ``(seed, the request's own seed or a CRC of its prompt,
sample index)`` (:func:`~alignlab.models.backends.sample_seed`, the seeds of
:func:`~alignlab.trainers.best_of_n.draw` through a server too): the same request gets
the same n samples whatever else is in the batch, so an evaluation that resumes draws what
it would have drawn. One request per sample (not
``n`` choices in one request) because some servers (``transformers serve``) ignore ``n``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from alignlab.data.records import Text
from alignlab.models.backends import (
    Backend,
    Completion,
    GenerationRequest,
    OptionProbs,
    sample_requests,
)
from alignlab.models.reward_fns import RewardFn
from alignlab.trainers.best_of_n import select


class BestOfNBackend:
    """Answers each request with the best of ``n`` samples of ``backend`` by ``reward_fn``.

    Args:
        backend: What samples: a local model or an endpoint.
        reward_fn: Scores ``(prompts, responses)``; higher is better.
        n: Samples per request.
        temperature: Sampling temperature of the samples (the request's own is ignored:
            best-of-n of greedy answers is the greedy answer).
        seed: Base seed of the samples.
    """

    def __init__(
        self,
        backend: Backend,
        reward_fn: RewardFn,
        n: int,
        *,
        temperature: float = 1.0,
        seed: int = 0,
    ):
        if n < 1:
            raise ValueError(f"n: must be at least 1, got {n}")
        if not temperature > 0:
            raise ValueError(
                f"temperature: best-of-n samples, so it must be > 0, got {temperature}"
            )
        self.backend = backend
        self.reward_fn = reward_fn
        self.n = n
        self.temperature = temperature
        self.seed = seed

    def __repr__(self) -> str:
        return f"BestOfNBackend({self.backend!r}, n={self.n}, temperature={self.temperature})"

    @property
    def name(self) -> str:
        return f"best-of-{self.n}({self.backend.name})"

    def generate(
        self, requests: Sequence[GenerationRequest], *, progress: bool = False
    ) -> list[Completion]:
        """One completion per request: the best of its ``n`` samples."""
        requests = list(requests)
        for i, request in enumerate(requests):
            if request.n != 1:
                raise ValueError(f"requests[{i}]: best-of-n answers one completion (n=1)")
        samples = sample_requests(requests, self.n, temperature=self.temperature, seed=self.seed)
        drawn = self.backend.generate(samples, progress=progress)
        prompts = [r.prompt for r in requests for _ in range(self.n)]
        scores = np.asarray(self.reward_fn(prompts, [c.text for c in drawn]), dtype=float)
        picks = select(scores.reshape(len(requests), self.n), self.n)
        return [replace(drawn[i * self.n + int(k)], model=self.name) for i, k in enumerate(picks)]

    def option_probs(
        self, prompt: Text, options: Sequence[str], *, votes: int = 8, seed: int | None = None
    ) -> OptionProbs:
        """The sampling backend's own option probabilities (best-of-n selects free text only)."""
        return self.backend.option_probs(prompt, options, votes=votes, seed=seed)
