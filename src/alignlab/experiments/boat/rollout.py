"""Episodes of a discrete-action ``gymnasium`` environment, sampled from a torch policy.

Episodes run in lockstep, one per environment, and are stored as ``[B, T]`` rows (the
shape of :mod:`alignlab.objectives.ppo`): ``mask`` marks each episode's steps, from the
first to its last (an environment that ends early is padded). Sampling draws from a
seeded ``torch.Generator``, so a rollout repeats exactly on one machine.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import gymnasium as gym
import numpy as np
import torch
from torch import Tensor, nn


class ActorCritic(nn.Module):
    """A policy and a value function, two MLPs (tanh) over the observation vector."""

    def __init__(self, obs_size: int, n_actions: int, hidden_size: int = 64):
        super().__init__()
        self.obs_size, self.n_actions = int(obs_size), int(n_actions)
        self.hidden_size = int(hidden_size)
        self.policy = _mlp(self.obs_size, self.hidden_size, self.n_actions, last_gain=0.01)
        self.value = _mlp(self.obs_size, self.hidden_size, 1, last_gain=1.0)

    def forward(self, obs: Tensor) -> tuple[Tensor, Tensor]:
        """``(logits [..., A], values [...])``."""
        return self.policy(obs), self.value(obs).squeeze(-1)


def _mlp(inputs: int, hidden: int, outputs: int, last_gain: float) -> nn.Sequential:
    """Orthogonal initialization as in PPO's reference implementation; a small last layer
    makes the first policy nearly uniform."""
    layers = [nn.Linear(inputs, hidden), nn.Tanh(), nn.Linear(hidden, hidden), nn.Tanh()]
    layers.append(nn.Linear(hidden, outputs))
    for layer in layers:
        if isinstance(layer, nn.Linear):
            gain = last_gain if layer is layers[-1] else float(np.sqrt(2.0))
            nn.init.orthogonal_(layer.weight, gain)
            nn.init.zeros_(layer.bias)
    return nn.Sequential(*layers)


@dataclass
class Episodes:
    """A rollout: ``[B, T]`` tensors (``obs`` is ``[B, T, D]``) and each step's ``info``."""

    obs: Tensor  # observations the actions were taken in
    actions: Tensor  # long
    logps: Tensor  # log pi(a_t | s_t) of the sampling policy
    values: Tensor  # V(s_t) of the sampling critic
    rewards: Tensor  # the environment's reward
    mask: Tensor  # bool: a step of the episode
    infos: list[list[dict]]  # per episode, each step's info

    @property
    def steps(self) -> int:
        return int(self.mask.sum())

    def returns(self) -> Tensor:
        """Each episode's undiscounted return ``[B]``."""
        return torch.where(self.mask, self.rewards, 0.0).sum(1)

    def final(self, key: str) -> np.ndarray:
        """``info[key]`` at each episode's last step, ``[B]``."""
        return np.array([float(steps[-1][key]) for steps in self.infos])


def action_logps(net: ActorCritic, obs: Tensor) -> tuple[Tensor, Tensor]:
    """``(log pi(. | s) [..., A], V(s) [...])``."""
    logits, values = net(obs)
    return torch.log_softmax(logits, -1), values


def rollout(
    net: ActorCritic,
    make_env: Callable[[], gym.Env],
    n_episodes: int,
    *,
    generator: torch.Generator,
    seed: int = 0,
    greedy: bool = False,
    max_steps: int = 10_000,
) -> Episodes:
    """``n_episodes`` episodes, environment ``i`` reset with seed ``seed + i``; actions are
    sampled with ``generator`` (or the most probable, ``greedy``)."""
    envs = [make_env() for _ in range(n_episodes)]
    current = np.stack([env.reset(seed=seed + i)[0] for i, env in enumerate(envs)])
    alive = np.ones(n_episodes, dtype=bool)
    columns: dict[str, list] = {k: [] for k in ("obs", "actions", "logps", "values", "rewards")}
    masks, infos = [], [[] for _ in envs]
    with torch.no_grad():
        for _ in range(max_steps):
            if not alive.any():
                break
            obs = torch.tensor(current, dtype=torch.float32)  # a copy: current is updated in place
            logps, values = action_logps(net, obs)
            if greedy:
                actions = logps.argmax(-1)
            else:
                actions = torch.multinomial(logps.exp(), 1, generator=generator).squeeze(-1)
            rewards = np.zeros(n_episodes, dtype=np.float32)
            masks.append(torch.as_tensor(alive.copy()))
            for i, env in enumerate(envs):
                if not alive[i]:
                    continue
                nxt, reward, terminated, truncated, info = env.step(int(actions[i]))
                rewards[i] = reward
                infos[i].append(info)
                current[i] = nxt
                alive[i] = not (terminated or truncated)
            columns["obs"].append(obs)
            columns["actions"].append(actions)
            columns["logps"].append(logps.gather(-1, actions[:, None]).squeeze(-1))
            columns["values"].append(values)
            columns["rewards"].append(torch.as_tensor(rewards))
        else:
            raise RuntimeError(f"an episode ran past max_steps={max_steps}")
    stacked = {k: torch.stack(v, 1) for k, v in columns.items()}
    return Episodes(**stacked, mask=torch.stack(masks, 1), infos=infos)
