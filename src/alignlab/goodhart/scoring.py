"""Scoring optimized responses: every per-response number a sweep's points are made of.

:class:`Scorers` holds what a sweep measures responses with, each named by the reward
specs of :func:`alignlab.models.reward_fns.resolve_reward`: the proxy, the gold reward,
the gold judge (its categories and padding become failure-mode rates), a held-out reward
and a reward ensemble (early-warning signals). :meth:`Scorers.score` turns responses into
a table of per-response columns:

- ``proxy``, ``gold``, ``heldout``: rewards;
- ``disagreement``: the ensemble members' standard deviation, each member first centred
  on its mean over the responses scored together (a reward model's offset is arbitrary,
  and members' offsets differ by more than their rankings do); ``ensemble``: their mean;
- ``length``: words;
- ``failure/<category>`` and ``failure/padded``: 0/1 per response.

:func:`point` reduces such columns, laid out ``[prompts, samples]``, to a
:class:`~alignlab.goodhart.points.Point`: each prompt's value is the weighted mean
of its samples (uniform for plain sampling; best-of-n's order-statistics weights for a
selection), and each figure is the mean over prompts with its bootstrap interval.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from alignlab.data.records import Text
from alignlab.goodhart.points import Point
from alignlab.stats.intervals import Estimate, mean

Columns = dict[str, np.ndarray]


@dataclass
class Scorers:
    """Reward functions and a judge, resolved; any may be None except the proxy."""

    proxy: Callable[[list[Text], list[str]], np.ndarray]
    gold: Callable[[list[Text], list[str]], np.ndarray] | None = None
    judge: Callable[[Text, str], Any] | None = None
    heldout: Callable[[list[Text], list[str]], np.ndarray] | None = None
    ensemble: Any = None
    """A :class:`~alignlab.models.reward.RewardEnsemble` whose disagreement is tracked."""
    specs: dict[str, str] = field(default_factory=dict)
    """The spec each scorer was resolved from (what a cache of its scores is keyed by)."""
    batch_size: int = 128
    """Pairs per reward-model forward pass."""

    @classmethod
    def resolve(
        cls,
        proxy: str,
        *,
        gold: str | None = None,
        judge: str | None = None,
        heldout: str | None = None,
        ensemble: str | None = None,
        device=None,
        batch_size: int = 128,
    ) -> Scorers:
        """Scorers from reward specs (``gold`` for the organism's gold utility and judge)."""
        from alignlab.models.reward_fns import resolve_judge, resolve_reward

        def reward(spec: str | None):
            if spec is None:
                return None
            return resolve_reward(spec, device=device, batch_size=batch_size)

        loaded = None
        if ensemble is not None:
            from alignlab.models.reward import RewardEnsemble

            loaded = RewardEnsemble.load(ensemble, device=device)
        specs = {"proxy": proxy, "gold": gold, "judge": judge, "heldout": heldout}
        specs["ensemble"] = ensemble
        return cls(
            proxy=reward(proxy),
            gold=reward(gold),
            judge=None if judge is None else resolve_judge(judge),
            heldout=reward(heldout),
            ensemble=loaded,
            specs={k: v for k, v in specs.items() if v is not None},
            batch_size=batch_size,
        )

    @property
    def proxy_is_ensemble_mean(self) -> bool:
        """Whether the proxy is the tracked ensemble's mean, which scoring the ensemble
        gives at no extra cost."""
        return self.ensemble is not None and self.specs.get("proxy") == self.specs.get("ensemble")

    @property
    def parts(self) -> list[str]:
        """The scorers to run, in order (the ensemble gives the proxy when it is its mean)."""
        names = ("proxy", "gold", "judge", "heldout", "ensemble")
        found = [name for name in names if getattr(self, name) is not None]
        return found[1:] if self.proxy_is_ensemble_mean else found

    def part(self, name: str, prompts: list[Text], texts: list[str]) -> Columns:
        """The columns one scorer gives (module docstring)."""
        if name == "judge":
            return judged(self.judge, prompts, texts)
        if name == "ensemble":
            members = self.ensemble.score(prompts, texts, batch_size=self.batch_size).members
            members = members.numpy().astype(float)
            centred = members - members.mean(axis=1, keepdims=True)
            return {"disagreement": centred.std(axis=0, ddof=1), "ensemble": members.mean(axis=0)}
        return {name: np.asarray(getattr(self, name)(prompts, texts), dtype=float)}

    def score(self, prompts: Sequence[Text], texts: Sequence[str], *, proxy=None) -> Columns:
        """Every column of the module docstring for each ``(prompts[i], texts[i])``; pass
        ``proxy`` when the proxy scores are already known (a rollout's)."""
        prompts, texts = list(prompts), list(texts)
        columns = {"length": word_counts(texts)}
        for name in self.parts:
            if name != "proxy" or proxy is None:
                columns.update(self.part(name, prompts, texts))
        if proxy is not None:
            columns["proxy"] = np.asarray(proxy, dtype=float)
        return self.with_proxy(columns)

    def with_proxy(self, columns: Columns) -> Columns:
        """``columns`` with the proxy taken from the ensemble's mean when it is that."""
        if self.proxy_is_ensemble_mean and "proxy" not in columns:
            return {**columns, "proxy": columns["ensemble"]}
        return columns


PART_VERSIONS = {"ensemble": 3}
"""Bumped when what a part computes changes, so caches of its scores are not reused."""


def word_counts(texts: Sequence[str]) -> np.ndarray:
    return np.array([len(t.split()) for t in texts], dtype=float)


def judged(judge: Callable[[Text, str], Any], prompts, texts) -> Columns:
    """``failure/<category>`` (and ``failure/padded`` when verdicts say) 0/1 columns, for
    every category some response fell in (:func:`~alignlab.models.reward_fns.judge_columns`)."""
    from alignlab.models.reward_fns import judge_columns

    return {f"failure/{k}": v for k, v in judge_columns(judge, prompts, texts).items()}


def reshape(columns: Columns, n_prompts: int) -> Columns:
    """Columns of ``n_prompts * samples`` responses (prompt-major) as ``[prompts, samples]``."""
    return {k: v.reshape(n_prompts, -1) for k, v in columns.items()}


def point(
    columns: Columns,
    *,
    run: str,
    split: str,
    pressure: float,
    settings: dict,
    kl: Estimate,
    weights: np.ndarray | None = None,
    seed: int = 0,
) -> Point:
    """The :class:`Point` of columns ``[prompts, samples]`` (module docstring); ``weights``
    ``[prompts, samples]`` each row summing to 1 (default: uniform)."""
    shape = columns["proxy"].shape
    if weights is None:
        weights = np.full(shape, 1.0 / shape[1])

    def estimate(name: str) -> Estimate:
        return mean((columns[name] * weights).sum(axis=1), seed=seed)

    failures = {
        name.removeprefix("failure/"): estimate(name)
        for name in sorted(columns)
        if name.startswith("failure/")
    }
    signals = {name: estimate(name) for name in ("heldout", "disagreement") if name in columns}
    spreads = {name: float(columns[name].std()) for name in ("proxy", "heldout") if name in columns}
    return Point(
        run=run,
        split=split,
        pressure=float(pressure),
        settings=settings,
        kl=kl,
        proxy=estimate("proxy"),
        gold=estimate("gold") if "gold" in columns else None,
        length=estimate("length"),
        failures=failures,
        signals=signals,
        spreads=spreads,
    )
