"""One notion of a reward function, named by a string: a model, an ensemble, or any callable.

A :data:`RewardFn` scores a batch of (prompt, response) pairs::

    reward_fn(prompts: list[Text], responses: list[str]) -> np.ndarray  # [N] float

:func:`resolve_reward` builds one from a spec, the string a config or a command names it by:

- ``DIR``: a reward model saved by :meth:`~alignlab.models.reward.RewardModel.save` (an HF
  sequence-classification directory with one label);
- ``DIR`` holding ``member_0/``, ``member_1/``, ...: a reward-model ensemble, scored by the
  members' mean; ``DIR@min`` takes the worst case over the members and ``DIR@mean-1.0std``
  the mean minus k standard deviations (Coste et al. 2023, "Reward model ensembles help
  mitigate overoptimization");
- ``module:function``: any importable Python callable. A plain callable scores one pair,
  ``function(prompt, response) -> float``; one marked with :func:`batched` (or carrying the
  attribute ``batched = True``) scores the lists at once. ``gold`` is short for the
  assistant organism's gold utility, ``alignlab.organisms.assistant:gold_utility``.

:func:`resolve_judge` resolves a ``module:function`` that explains a score rather than giving
it: it returns an object with a ``category`` (and optionally ``padded``) per pair, such as
the organism's ``alignlab.organisms.assistant:judge`` (alias ``gold``).
"""

from __future__ import annotations

import importlib
import operator
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from alignlab.data.records import Text

RewardFn = Callable[[list[Text], list[str]], np.ndarray]

ALIASES = {"gold": "alignlab.organisms.assistant:gold_utility"}
"""Short names for reward callables."""
JUDGE_ALIASES = {"gold": "alignlab.organisms.assistant:judge"}
"""Short names for judge callables."""

_CALLABLE = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")
_CONSERVATIVE = re.compile(r"^mean-(\d+(?:\.\d*)?|\.\d+)std$")


def batched(fn: Callable) -> Callable:
    """Mark ``fn(prompts, responses) -> scores`` as scoring whole lists, not one pair."""
    fn.batched = True
    return fn


@dataclass(frozen=True)
class SpecReward:
    """A reward function resolved from ``spec``; checks every batch it returns."""

    spec: str
    score: Callable[[list[Text], list[str]], Any]

    def __call__(self, prompts: Sequence[Text], responses: Sequence[str]) -> np.ndarray:
        if len(prompts) != len(responses):
            raise ValueError(
                f"reward {self.spec!r}: got {len(prompts)} prompts but {len(responses)} responses"
            )
        if not prompts:
            return np.zeros(0)
        scores = np.asarray(self.score(list(prompts), list(responses)), dtype=float)
        if scores.shape != (len(prompts),):
            raise ValueError(
                f"reward {self.spec!r}: returned shape {scores.shape} for {len(prompts)} pairs"
            )
        bad = ~np.isfinite(scores)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise ValueError(f"reward {self.spec!r}: score {scores[i]} for pair {i}")
        return scores

    def __repr__(self) -> str:
        return f"SpecReward({self.spec!r})"


def import_callable(spec: str, aliases: dict[str, str] | None = None) -> Callable:
    """The callable named ``module:attribute`` (``attribute`` may be dotted), or an alias."""
    target = (aliases or {}).get(spec, spec)
    if not _CALLABLE.match(target):
        raise ValueError(f"{spec!r}: expected module:function")
    module_name, attribute = target.split(":")
    try:
        obj: Any = importlib.import_module(module_name)
    except ImportError as e:
        raise ValueError(f"{spec!r}: cannot import module {module_name!r}: {e}") from None
    for part in attribute.split("."):
        if not hasattr(obj, part):
            raise ValueError(f"{spec!r}: module {module_name!r} has no attribute {attribute!r}")
        obj = getattr(obj, part)
    if not callable(obj):
        raise ValueError(f"{spec!r}: {attribute!r} is not callable")
    return obj


def _callable_reward(spec: str) -> SpecReward:
    fn = import_callable(spec, ALIASES)
    if getattr(fn, "batched", False):
        return SpecReward(spec, fn)

    def per_pair(prompts: list[Text], responses: list[str]) -> list[float]:
        scores = []
        for i, (prompt, response) in enumerate(zip(prompts, responses, strict=True)):
            try:
                scores.append(float(fn(prompt, response)))
            except (TypeError, ValueError) as e:
                raise ValueError(f"reward {spec!r} failed on pair {i}: {e}") from e
        return scores

    return SpecReward(spec, per_pair)


def _ensemble_combine(spec: str, how: str) -> Callable:
    """How ``DIR@how`` turns an ensemble's :class:`EnsembleScores` into one reward per pair."""
    from alignlab.models.reward import EnsembleScores

    if how == "mean":
        return operator.attrgetter("mean")
    if how == "min":
        return EnsembleScores.worst_case
    if match := _CONSERVATIVE.match(how):
        return partial(EnsembleScores.conservative, k=float(match.group(1)))
    raise ValueError(
        f"{spec!r}: unknown ensemble score {how!r} (expected mean, min or mean-<k>std)"
    )


def _ensemble_reward(spec: str, directory: Path, how: str, device, batch_size: int):
    from alignlab.models.reward import RewardEnsemble

    combine = _ensemble_combine(spec, how)
    ensemble = RewardEnsemble.load(directory, device=device)
    return SpecReward(
        spec, lambda p, r: combine(ensemble.score(p, r, batch_size=batch_size)).numpy()
    )


def _model_reward(spec: str, directory: Path, device, batch_size: int) -> SpecReward:
    from alignlab.models.reward import RewardModel

    model = RewardModel.load(directory, device=device)
    return SpecReward(spec, lambda p, r: model.score(p, r, batch_size=batch_size).numpy())


def resolve_reward(spec: str, *, device=None, batch_size: int = 32) -> RewardFn:
    """The reward function ``spec`` names (see the module docstring for the forms)."""
    spec = spec.strip()
    path, how = spec, ""
    if "@" in spec and not Path(spec).expanduser().is_dir():
        path, _, how = spec.rpartition("@")
    directory = Path(path).expanduser()
    if directory.is_dir():
        if (directory / "member_0").is_dir():
            return _ensemble_reward(spec, directory, how or "mean", device, batch_size)
        if how:
            raise ValueError(
                f"{spec!r}: @{how} selects an ensemble score, but {path} holds no member_0/"
            )
        if (directory / "config.json").is_file():
            return _model_reward(spec, directory, device, batch_size)
        raise ValueError(
            f"{spec!r}: a directory, but neither a reward model (no config.json) "
            "nor an ensemble (no member_0/)"
        )
    if spec in ALIASES or _CALLABLE.match(spec):
        return _callable_reward(spec)
    if directory.exists():
        raise ValueError(f"{spec!r}: a file, expected a reward model directory")
    raise ValueError(
        f"{spec!r} names no reward: expected a reward model directory, an ensemble directory "
        f"(member_0/, ...; optionally @min or @mean-<k>std), module:function, or one of "
        f"{sorted(ALIASES)}"
    )


def resolve_judge(spec: str) -> Callable[[Text, str], Any]:
    """The judge ``spec`` names: ``module:function`` (or ``gold``) scoring one pair.

    A judge returns an object with a ``category`` attribute and optionally ``padded``.
    """
    return import_callable(spec.strip(), JUDGE_ALIASES)


def judge_columns(
    judge: Callable[[Text, str], Any],
    prompts: Sequence[Text],
    texts: Sequence[str],
    *,
    name: str = "judge",
    what: str = "response",
) -> dict[str, np.ndarray]:
    """The judge's verdicts on ``(prompts[i], texts[i])`` as 0/1 columns: one per category
    some response fell in, sorted, and ``padded`` when every verdict says. A verdict the
    judge cannot give is an error naming the judge (``name``), the ``what`` and its index."""
    verdicts = []
    for i, (prompt, text) in enumerate(zip(prompts, texts, strict=True)):
        try:
            verdicts.append(judge(prompt, text))
        except ValueError as e:
            raise ValueError(f"{name} failed on {what} {i}: {e}") from e
    found = [str(v.category) for v in verdicts]
    columns = {c: np.array([f == c for f in found], dtype=float) for c in sorted(set(found))}
    if verdicts and all(hasattr(v, "padded") for v in verdicts):
        columns["padded"] = np.array([bool(v.padded) for v in verdicts], dtype=float)
    return columns
