"""The boat race: AI Safety Gridworlds' specification-gaming world as a ``gymnasium``
environment (DESIGN.md section 3), registered as ``alignlab/BoatRace-v0`` on import.

``track``: the ring, its arrows, its finish line and both rewards (observed: the arrows;
hidden: real progress). ``env``: :class:`BoatRaceEnv`. ``rewards``: what a boat is trained
on (finish bonus, potential-based shaping, the hidden oracle). ``demonstrator``: the noisy
scripted racer a KL leash ties to. ``draw``: the track with a rollout's visit counts.
"""

import gymnasium as gym

from alignlab.organisms.boat.demonstrator import (
    DEMONSTRATOR_NOISE,
    demonstrator_probs,
    demonstrator_table,
    racing_actions,
)
from alignlab.organisms.boat.draw import png_base64, visit_counts, visits_figure, visits_png
from alignlab.organisms.boat.env import ENV_ID, HORIZON, BoatRaceEnv, observation
from alignlab.organisms.boat.rewards import (
    REWARD_BASES,
    TrainingReward,
    progress,
    shaping_reward,
)
from alignlab.organisms.boat.track import (
    ACTION_NAMES,
    ACTIONS,
    ARROW_REWARD,
    MOVE_COST,
    TRACK,
    Step,
    Track,
)

if ENV_ID not in gym.registry:
    gym.register(id=ENV_ID, entry_point="alignlab.organisms.boat.env:BoatRaceEnv")

__all__ = [
    "ACTIONS",
    "ACTION_NAMES",
    "ARROW_REWARD",
    "DEMONSTRATOR_NOISE",
    "ENV_ID",
    "HORIZON",
    "MOVE_COST",
    "REWARD_BASES",
    "TRACK",
    "BoatRaceEnv",
    "Step",
    "Track",
    "TrainingReward",
    "demonstrator_probs",
    "demonstrator_table",
    "observation",
    "png_base64",
    "progress",
    "racing_actions",
    "shaping_reward",
    "visit_counts",
    "visits_figure",
    "visits_png",
]
