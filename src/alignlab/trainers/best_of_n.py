"""Best-of-n sampling: draw n responses, keep the one the proxy reward likes best.

The one best-of-n of alignlab: ``alignlab bon``, the Goodhart sweep
(:mod:`alignlab.experiments.sweep.best_of_n`, which caches and resumes the same draws)
and the demo's ladder all sample with :func:`draw` and select with the weights below, so
the demo's best-of-n row is a point of the curve the report draws beside it.

:func:`best_of_n` samples ``n_max`` responses per prompt once and, for every ``n`` asked
for, computes the expected proxy and gold reward of the best-of-n choice with the
unbiased order-statistics estimator over all ``n_max`` samples (Nakano et al. 2021,
WebGPT, appendix): with a prompt's samples sorted by proxy ascending, the i-th smallest
(1-based) is the maximum of a uniformly random n-subset with probability

    w_i(n) = C(i - 1, n - 1) / C(n_max, n),

so ``E[reward of best-of-n] = sum_i w_i(n) reward_(i)``, which uses every sample for every n
instead of one draw of n. Ties in the proxy go to the earlier sample, both in the sort
and in :func:`select`, so the estimate is exactly the average over all n-subsets of the
reward of the subset's pick. Intervals are bootstrap intervals over prompts; the KL of
best-of-n to the sampling policy is ``log n - (n - 1) / n`` (``best_of_n_kl``).

The samples come from a local model or, with ``base_url``, from the policy served at an
OpenAI-compatible server, one request per sample (some servers ignore ``n``), each seeded
by :func:`~alignlab.models.backends.sample_seed` from the prompt's index in the run, so a rerun draws the same; the
rewards always score locally.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from alignlab.config import check_required
from alignlab.data.io import read_records, write_records
from alignlab.data.records import Text
from alignlab.models.backends import Backend, GenerationRequest, check_server, sample_requests
from alignlab.models.generation import generate
from alignlab.models.loading import load_causal_lm, load_tokenizer
from alignlab.models.reward_fns import RewardFn, resolve_reward
from alignlab.objectives import best_of_n_kl
from alignlab.progress import progress_bar
from alignlab.stats import Estimate, mean


@dataclass
class BestOfNConfig:
    """``alignlab bon``: best-of-n of a policy against a proxy, with gold tracked alongside."""

    policy: str = "runs/sft/model"
    """The policy to sample from (an HF model directory or hub id)."""
    reward: str = "runs/reward/model"
    """The proxy that selects: a reward model, an ensemble (``DIR@min``, ``DIR@mean-1std``),
    or ``module:function``."""
    gold: str | None = None
    """The gold reward tracked beside the proxy (``gold``: the organism's); unset: none."""
    prompts: str | None = None
    """Prompts: Sample records (the ``input`` field), JSONL, Parquet or a datasets dir.
    Required."""
    output_dir: str = "runs/bon"
    """Where ``bon.json`` (the curve) and ``samples.jsonl`` (every sample, scored) go."""
    ns: list[int] = field(default_factory=lambda: [1, 2, 4, 8, 16])
    """The n values; ``max(ns)`` responses are sampled per prompt, once."""
    seed: int = 0
    """Seed for sampling and bootstrap intervals."""
    max_new_tokens: int = 48
    """Longest response, in tokens."""
    temperature: float = 1.0
    """Sampling temperature; at 1.0 the analytic KL is to the policy itself."""
    batch_size: int = 8
    """Prompts per generation batch (each yields ``max(ns)`` responses)."""
    device: str | None = None
    """Device for the policy and reward models; unset: the best available."""
    trust_remote_code: bool = False
    """Let a model directory run its own Python code when it loads."""
    chat_template: str | None = None
    """A Jinja chat template file replacing the tokenizer's own; a tokenizer with none gets
    the base-model few-shot format of alignlab.models.dialogue."""
    base_url: str | None = None
    """An OpenAI-compatible server (``http://127.0.0.1:8000/v1``) that samples the policy,
    one seeded request per sample; unset: the local ``policy`` samples."""
    served_model: str | None = None
    """The name the server serves the policy as; unset: ``policy`` (``transformers serve``
    names a model by its path). A local ``policy`` directory gives the dialogue stop strings."""
    api_key_env: str | None = None
    """The environment variable holding the server's API key; unset: none is sent."""
    server: str = "transformers"
    """What serves ``base_url`` (transformers, vllm, llama.cpp, openai), for the request fields
    that make it sample as a local model does (alignlab.models.backends.servers)."""
    concurrency: int = 8
    """Server requests in flight at once."""
    progress: bool = True
    """Show a progress bar on stderr."""

    REQUIRED = ("prompts",)

    def __post_init__(self) -> None:
        check_required(self)
        if not self.ns or min(self.ns) < 1:
            raise ValueError(f"ns: must be positive integers, got {self.ns}")
        if self.max_new_tokens < 1 or self.batch_size < 1:
            raise ValueError("max_new_tokens and batch_size: must be >= 1")
        if self.temperature <= 0:
            raise ValueError(f"temperature: must be > 0, got {self.temperature}")
        check_server(self.server)
        if self.base_url is None and (self.served_model or self.api_key_env):
            raise ValueError("served_model and api_key_env: name a server's; set base_url")


def order_by_proxy(proxy: np.ndarray) -> np.ndarray:
    """Indices sorting each row of ``proxy`` ascending; of tied samples the earlier ranks higher."""
    n = proxy.shape[-1]
    # lexsort sorts by the last key first: proxy ascending, then index descending.
    return np.stack([np.lexsort((-np.arange(n), row)) for row in np.atleast_2d(proxy)])


def order_weights(n: int, n_max: int) -> np.ndarray:
    """``w_i = C(i - 1, n - 1) / C(n_max, n)`` for i = 1..n_max: the chance that the i-th
    smallest of ``n_max`` samples is the largest of a random n-subset."""
    if not 1 <= n <= n_max:
        raise ValueError(f"n must lie in [1, n_max={n_max}], got {n}")
    total = math.comb(n_max, n)
    return np.array([math.comb(i - 1, n - 1) / total for i in range(1, n_max + 1)])


def selection_weights(ranking: np.ndarray, n: int) -> np.ndarray:
    """``[prompts, n_max]``: each sample's chance of being a random n-subset's pick by
    ``ranking`` (ties to the earlier sample), ``w_i(n)`` placed at each sample's rank."""
    ranking = np.atleast_2d(ranking)
    order = order_by_proxy(ranking)
    weights = np.zeros_like(ranking, dtype=float)
    np.put_along_axis(weights, order, order_weights(n, ranking.shape[1])[None, :], axis=1)
    return weights


def expected_best_of_n(proxy: np.ndarray, values: np.ndarray, n: int) -> np.ndarray:
    """Per prompt, the expected ``values`` of the best-of-n pick by ``proxy`` ([P, n_max] each)."""
    return (selection_weights(proxy, n) * np.atleast_2d(values)).sum(axis=1)


def select(proxy: np.ndarray, n: int) -> np.ndarray:
    """Per prompt, the index of the best-of-n pick among the first ``n`` samples (one real draw)."""
    # argmax returns the first maximum: ties go to the earlier sample.
    return np.atleast_2d(proxy)[:, :n].argmax(axis=1)


@dataclass(frozen=True)
class BestOfNPoint:
    """Best-of-n at one n: its KL to the policy and its expected proxy and gold rewards."""

    n: int
    kl: float
    proxy: Estimate
    gold: Estimate | None

    def to_dict(self) -> dict:
        return {
            "n": self.n,
            "kl": self.kl,
            "proxy": self.proxy.to_dict(),
            "gold": None if self.gold is None else self.gold.to_dict(),
        }


@dataclass
class BestOfNResult:
    """Every sample, its scores, and the best-of-n curve."""

    prompts: list[Text]
    responses: list[list[str]]
    """``n_max`` responses per prompt."""
    proxy: np.ndarray
    """Proxy rewards ``[P, n_max]``."""
    gold: np.ndarray | None
    """Gold rewards ``[P, n_max]``, when a gold function was given."""
    points: list[BestOfNPoint]
    selected: dict[int, list[int]]
    """For each n, per prompt, the index of the response best-of-n picks from the first n."""

    def selected_responses(self, n: int) -> list[str]:
        return [self.responses[p][i] for p, i in enumerate(self.selected[n])]

    def summary(self) -> dict:
        return {
            "n_prompts": len(self.prompts),
            "n_max": self.proxy.shape[1],
            "points": [point.to_dict() for point in self.points],
        }

    def write(self, out: str | Path) -> Path:
        """Write ``bon.json`` (the curve) and ``samples.jsonl`` (every sample, scored)."""
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        (out / "bon.json").write_text(json.dumps(self.summary(), indent=2) + "\n")
        write_records(out / "samples.jsonl", self._sample_rows())
        return out

    def _sample_rows(self):
        for p, prompt in enumerate(self.prompts):
            for i, response in enumerate(self.responses[p]):
                meta = {
                    "prompt_index": p,
                    "sample": i,
                    "proxy": float(self.proxy[p, i]),
                    "best_of": [n for n, picks in self.selected.items() if picks[p] == i],
                }
                if self.gold is not None:
                    meta["gold"] = float(self.gold[p, i])
                yield {"prompt": prompt, "response": response, "meta": meta}


def best_of_n_curve(
    proxy: np.ndarray, gold: np.ndarray | None, ns: Sequence[int], *, seed: int = 0
) -> list[BestOfNPoint]:
    """The best-of-n points for every n in ``ns`` from scores ``[P, n_max]``."""
    points = []
    for n in ns:
        gold_estimate = None
        if gold is not None:
            gold_estimate = mean(expected_best_of_n(proxy, gold, n), seed=seed)
        proxy_estimate = mean(expected_best_of_n(proxy, proxy, n), seed=seed)
        points.append(BestOfNPoint(n, best_of_n_kl(n), proxy_estimate, gold_estimate))
    return points


def draw(
    policy: Backend | object,
    tokenizer,
    prompts: Sequence[Text],
    n_max: int,
    *,
    start: int = 0,
    seed: int = 0,
    max_new_tokens: int = 48,
    temperature: float = 1.0,
    batch_size: int = 8,
) -> list[list[str]]:
    """``n_max`` responses to each of ``prompts``, the batch that begins at prompt ``start``
    of a run, the same whatever was drawn before (so a run drawn in batches, or resumed,
    gets the same responses). ``policy`` is a local model with its ``tokenizer`` (the batch's
    seed is ``seed + start``), or a :class:`~alignlab.models.backends.Backend` with
    ``tokenizer=None``, asked
    :func:`~alignlab.models.backends.sample_requests`, the prompt's index its own seed."""
    if tokenizer is None:
        asked = [
            GenerationRequest(p, max_new_tokens=max_new_tokens, seed=start + i)
            for i, p in enumerate(prompts)
        ]
        samples = sample_requests(asked, n_max, temperature=temperature, seed=seed)
        texts = [c.text for c in policy.generate(samples)]
        return [texts[i : i + n_max] for i in range(0, len(texts), n_max)]
    return generate(
        policy,
        tokenizer,
        list(prompts),
        num_return_sequences=n_max,
        max_new_tokens=max_new_tokens,
        temperature=temperature,
        batch_size=batch_size,
        seed=seed + start,
    )


def best_of_n(
    policy,
    tokenizer,
    prompts: Sequence[Text],
    reward_fn: RewardFn,
    ns: Sequence[int] = (1, 2, 4, 8, 16),
    *,
    gold_fn: RewardFn | None = None,
    n_max: int | None = None,
    seed: int = 0,
    max_new_tokens: int = 48,
    temperature: float = 1.0,
    batch_size: int = 8,
    progress: bool = True,
) -> BestOfNResult:
    """Sample ``n_max`` responses per prompt from ``policy``, score them, and estimate
    best-of-n's proxy and gold rewards for every n in ``ns`` (see the module docstring).

    ``policy`` and ``tokenizer`` are :func:`draw`'s: a local model, or a backend and ``None``.
    ``batch_size`` counts prompts per generation batch (each yields ``n_max`` responses).
    """
    ns = sorted(set(ns))
    if not ns or ns[0] < 1:
        raise ValueError(f"ns must be positive integers, got {ns}")
    n_max = ns[-1] if n_max is None else n_max
    if n_max < ns[-1]:
        raise ValueError(f"n_max={n_max} is below the largest n asked for ({ns[-1]})")
    if not prompts or batch_size < 1:
        raise ValueError("best_of_n needs at least one prompt and a batch_size >= 1")
    prompts = list(prompts)
    responses: list[list[str]] = []
    proxy, gold = [], []
    with progress_bar(len(prompts), "best-of-n", enabled=progress, unit="prompt") as advance:
        for start in range(0, len(prompts), batch_size):
            chunk = prompts[start : start + batch_size]
            texts = draw(
                policy,
                tokenizer,
                chunk,
                n_max,
                start=start,
                seed=seed,
                max_new_tokens=max_new_tokens,
                temperature=temperature,
                batch_size=batch_size,
            )
            flat_prompts = [p for p in chunk for _ in range(n_max)]
            flat_texts = [t for group in texts for t in group]
            proxy.append(np.asarray(reward_fn(flat_prompts, flat_texts)).reshape(-1, n_max))
            if gold_fn is not None:
                gold.append(np.asarray(gold_fn(flat_prompts, flat_texts)).reshape(-1, n_max))
            responses.extend(texts)
            advance(len(chunk))
    proxy_scores = np.concatenate(proxy)
    gold_scores = np.concatenate(gold) if gold_fn is not None else None
    return BestOfNResult(
        prompts=prompts,
        responses=responses,
        proxy=proxy_scores,
        gold=gold_scores,
        points=best_of_n_curve(proxy_scores, gold_scores, ns, seed=seed),
        selected={n: select(proxy_scores, n).tolist() for n in ns},
    )


def run_best_of_n(config: BestOfNConfig) -> BestOfNResult:
    """``alignlab bon``: best-of-n as ``config`` says, written to ``config.output_dir``."""
    samples = read_records(config.prompts, "sample")
    if not samples:
        raise ValueError(f"{config.prompts}: holds no prompts")
    reward_fn = resolve_reward(config.reward, device=config.device)
    gold_fn = None if config.gold is None else resolve_reward(config.gold, device=config.device)
    model, tokenizer = _sampler(config)
    result = best_of_n(
        model,
        tokenizer,
        [s.input for s in samples],
        reward_fn,
        config.ns,
        gold_fn=gold_fn,
        seed=config.seed,
        max_new_tokens=config.max_new_tokens,
        temperature=config.temperature,
        batch_size=config.batch_size,
        progress=config.progress,
    )
    result.write(config.output_dir)
    return result


def _sampler(config: BestOfNConfig):
    """What samples: the policy served at ``base_url`` (and no tokenizer), or the local one."""
    remote, template = config.trust_remote_code, config.chat_template
    if config.base_url is None:
        tokenizer = load_tokenizer(config.policy, trust_remote_code=remote, chat_template=template)
        model = load_causal_lm(config.policy, device=config.device, trust_remote_code=remote)
        return model, tokenizer
    from alignlab.models.backends import model_stop_strings, served_backend

    backend = served_backend(
        config.base_url,
        config.served_model or config.policy,
        server=config.server,
        stop=model_stop_strings(config.policy, chat_template=template),
        api_key_env=config.api_key_env,
        concurrency=config.concurrency,
    )
    return backend, None
