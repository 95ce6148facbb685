"""The demonstrator: a scripted racer mixed with noise, the reference a KL leash ties to.

``pi_demo(a | s) = (1 - noise) [a = racing action of s] + noise / 4``: the racer steers
one cell clockwise, and the uniform mixture gives every action a positive probability,
so ``KL(pi || pi_demo)`` is finite for every policy ``pi``. It reads only the boat's cell
(the first ``len(track)`` entries of the observation, a one-hot vector), so its
probabilities are one table, ``[cells, actions]``, applied to observations by a matrix
product.
"""

from __future__ import annotations

import numpy as np

from alignlab.organisms.boat.track import ACTIONS, Track

DEMONSTRATOR_NOISE = 0.2
"""Default share of the uniform policy in the demonstrator."""


def demonstrator_table(track: Track, noise: float = DEMONSTRATOR_NOISE) -> np.ndarray:
    """``[cells, 4]`` action probabilities of the noisy racer, rows in ring order."""
    if not 0.0 < noise <= 1.0:
        raise ValueError(f"noise must lie in (0, 1] (0 would make KL infinite), got {noise}")
    table = np.full((len(track), len(ACTIONS)), noise / len(ACTIONS))
    for i, cell in enumerate(track.cells):
        table[i, track.racing_action(cell)] += 1.0 - noise
    return table


def demonstrator_probs(observations: np.ndarray, table: np.ndarray) -> np.ndarray:
    """The demonstrator's action probabilities ``[..., 4]`` for observations ``[..., obs]``."""
    return np.asarray(observations)[..., : table.shape[0]] @ table


def racing_actions(track: Track, observations: np.ndarray) -> np.ndarray:
    """The noiseless racer's actions for observations ``[..., obs]``."""
    cells = np.asarray(observations)[..., : len(track)].argmax(-1)
    return np.array([track.racing_action(track.cells[i]) for i in np.ravel(cells)]).reshape(
        cells.shape
    )
