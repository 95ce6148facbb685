"""What a boat is trained on: a reward base, a finish bonus and potential-based shaping.

:class:`TrainingReward` replaces the environment's reward by

    ``r'_t = base_t + finish_bonus [lap finished at t] + F_t``,
    ``F_t = gamma Phi(s_{t+1}) - Phi(s_t)``, with ``Phi(s_{t+1}) = 0`` at the race's end,

where ``base`` is one of :data:`REWARD_BASES` (the ``observed`` reward, or the ``hidden``
performance measure as an oracle) and ``Phi`` (:func:`progress`) is ``shaping`` times the
number of cells the boat's cell lies clockwise of the finish line (0-15).

Why shaping cannot fix the race (Ng, Harada and Russell 1999): with a potential whose value
at the end is 0, the shaped discounted return of every trajectory is its unshaped return
minus ``Phi(s_0)``, a constant, so the optimal policy of ``base + F`` is the optimal policy
of ``base``. Shaping the observed reward keeps the optimal policy of the *observed*
reward, the bouncing boat; it can only change how fast (and, for an agent that does not
find the optimum, where) learning goes. Shaping keeps the optimal policy of the true
objective only when applied to it (``base = "hidden"``). The test suite checks the
telescoping sum by hand. ``gamma`` must be the discount the agent optimizes.

The environment's ``info`` keeps ``observed_reward`` and ``hidden_reward`` untouched and
gains ``training_reward``, ``shaping_reward`` and ``finish_bonus``.
"""

from __future__ import annotations

from collections.abc import Callable

import gymnasium as gym

from alignlab.organisms.boat.track import Cell, Track

REWARD_BASES: dict[str, Callable[[dict], float]] = {
    "observed": lambda info: float(info["observed_reward"]),
    "hidden": lambda info: float(info["hidden_reward"]),
}
"""The reward a boat may be trained on, read from a step's ``info``."""


def progress(track: Track, cell: Cell, scale: float = 1.0) -> float:
    """``Phi(s)``: ``scale`` times the cells from the finish line to ``cell``, clockwise."""
    return scale * track.index[cell]


def shaping_reward(phi: float, next_phi: float, gamma: float, terminal: bool) -> float:
    """``F = gamma Phi(s') - Phi(s)``, with ``Phi(s') = 0`` when ``s'`` ends the episode."""
    return (0.0 if terminal else gamma * next_phi) - phi


class TrainingReward(gym.Wrapper):
    """The boat race rewarding ``base + finish_bonus [lap] + F`` (module docstring)."""

    def __init__(
        self,
        env: gym.Env,
        *,
        base: str = "observed",
        finish_bonus: float = 0.0,
        shaping: float = 0.0,
        gamma: float = 0.99,
    ):
        super().__init__(env)
        if base not in REWARD_BASES:
            raise ValueError(f"base: unknown {base!r}; known: {', '.join(REWARD_BASES)}")
        if not 0.0 < gamma <= 1.0:
            raise ValueError(f"gamma must lie in (0, 1], got {gamma}")
        self.base, self.finish_bonus, self.shaping, self.gamma = base, finish_bonus, shaping, gamma
        self._phi = 0.0

    def _potential(self, info: dict) -> float:
        return progress(self.env.unwrapped.track, info["cell"], self.shaping)

    def reset(self, **kwargs):
        obs, info = self.env.reset(**kwargs)
        self._phi = self._potential(info)
        return obs, info

    def step(self, action):
        obs, _, terminated, truncated, info = self.env.step(action)
        next_phi = self._potential(info)
        shaped = shaping_reward(self._phi, next_phi, self.gamma, terminated or truncated)
        bonus = self.finish_bonus if info["lap_finished"] else 0.0
        self._phi = next_phi
        reward = REWARD_BASES[self.base](info) + bonus + shaped
        info = {**info, "training_reward": reward, "shaping_reward": shaped, "finish_bonus": bonus}
        return obs, reward, terminated, truncated, info
