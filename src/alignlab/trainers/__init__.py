"""Loops that apply an objective to a model: SFT, reward models, DPO, PPO, and best-of-n.

Each trainer takes a typed config (TOML through :func:`alignlab.config.load_config`)
and writes a run directory (:mod:`alignlab.trainers.rundir`): ``config.toml``,
``metrics.jsonl``, ``checkpoints/step-N/`` and the final ``model/``. All of them run on
the shared loop of :mod:`alignlab.trainers.loop` (accelerate, gradient accumulation,
checkpoints, resume that refuses a changed run, a guard against diverging and non-finite
losses that keeps the last good checkpoint).
"""

from alignlab.trainers.best_of_n import (
    BestOfNConfig,
    BestOfNPoint,
    BestOfNResult,
    best_of_n,
    run_best_of_n,
)
from alignlab.trainers.classifier import ClassifierConfig, correct_probs, train_classifier
from alignlab.trainers.config import PolicyTrainConfig, TrainConfig
from alignlab.trainers.dpo import DPOConfig, train_dpo
from alignlab.trainers.guard import DivergenceError, NonFiniteLossError
from alignlab.trainers.ppo import PPOConfig, train_ppo
from alignlab.trainers.reward import RewardConfig, train_reward
from alignlab.trainers.rundir import CheckpointError, read_metrics, train_or_reuse
from alignlab.trainers.sft import SFTConfig, train_sft

__all__ = [
    "BestOfNConfig",
    "BestOfNPoint",
    "BestOfNResult",
    "CheckpointError",
    "ClassifierConfig",
    "DPOConfig",
    "DivergenceError",
    "NonFiniteLossError",
    "PPOConfig",
    "PolicyTrainConfig",
    "RewardConfig",
    "SFTConfig",
    "TrainConfig",
    "best_of_n",
    "correct_probs",
    "read_metrics",
    "run_best_of_n",
    "train_classifier",
    "train_dpo",
    "train_or_reuse",
    "train_ppo",
    "train_reward",
    "train_sft",
]
