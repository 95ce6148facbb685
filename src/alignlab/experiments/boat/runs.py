"""One boat per fix and seed: train it (or reuse it), measure it, keep its files.

A run lives in ``output_dir/boat/<key>/<fix>/seed-<s>/``, ``key`` a fingerprint of the
settings that shape what a run computes (not the seeds, fixes or betas, so adding one
reuses the rest)::

    metrics.jsonl   one line per PPO update: its races' observed return, hidden
                    performance and laps, and the KL to the demonstrator
    policy.pt       the trained network
    result.json     the measurement (written last: a run without it is recomputed)

``<key>/demonstrator/seed-<s>/result.json`` measures the demonstrator itself.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path

import gymnasium as gym
import numpy as np
import torch
from torch import Tensor, nn

from alignlab.config import fingerprint, to_dict
from alignlab.data.io import write_json
from alignlab.experiments.boat.agent import episode_kl, train_agent
from alignlab.experiments.boat.config import BoatConfig, Fix
from alignlab.experiments.boat.rollout import ActorCritic, Episodes, rollout
from alignlab.organisms.boat import (
    BoatRaceEnv,
    Track,
    TrainingReward,
    demonstrator_table,
    observation,
)

RUN_FREE = ("output_dir", "seeds", "first_seed", "fixes", "betas", "threads", "progress",
            "report_dir")  # fmt: skip
"""Settings that choose which runs to make, or where and how, not what a run computes."""

DEMONSTRATOR = "demonstrator"


class Demonstrator(nn.Module):
    """The noisy scripted racer as a policy network: logits ``log pi_demo``, values 0."""

    def __init__(self, track: Track, noise: float):
        super().__init__()
        table = torch.tensor(demonstrator_table(track, noise), dtype=torch.float32)
        self.register_buffer("table", table)
        self.cells = len(track)

    def probs(self, obs: Tensor) -> Tensor:
        """``pi_demo(. | s)``, ``[..., 4]``."""
        return obs[..., : self.cells] @ self.table

    def forward(self, obs: Tensor) -> tuple[Tensor, Tensor]:
        return self.probs(obs).log(), torch.zeros(obs.shape[:-1])


def run_root(config: BoatConfig) -> Path:
    """``output_dir/boat/<key>``, with the settings behind ``key`` as ``settings.json``."""
    settings = {k: v for k, v in to_dict(config).items() if k not in RUN_FREE}
    root = Path(config.output_dir) / "boat" / fingerprint(settings)
    root.mkdir(parents=True, exist_ok=True)
    (root / "settings.json").write_text(json.dumps(settings, indent=2) + "\n", encoding="utf-8")
    return root


def env_factory(config: BoatConfig, fix: Fix | None = None) -> Callable[[], gym.Env]:
    """Races rewarding what ``fix`` trains on; with no fix, the plain observed reward."""
    if fix is None:
        return lambda: BoatRaceEnv(config.horizon)
    return lambda: TrainingReward(
        BoatRaceEnv(config.horizon),
        base=fix.base,
        finish_bonus=fix.finish_bonus,
        shaping=fix.shaping,
        gamma=config.agent.gamma,
    )


def every_state(track: Track, horizon: int) -> Tensor:
    """The observation of every cell, checkpoint and time: the states cloning fits on."""
    states = [
        observation(track, cell, checkpoint, t, horizon)
        for cell in track.cells
        for checkpoint in range(len(track.arrows) + 1)
        for t in range(horizon)
    ]
    return torch.tensor(np.stack(states))


def _rounded(values) -> list[float]:
    return [round(float(v), 4) for v in values]


def measure(net: nn.Module, config: BoatConfig, demonstrator: Demonstrator, seed: int) -> dict:
    """``eval_episodes`` sampled races of ``net``'s policy (per race: observed return,
    hidden performance, laps, KL to the demonstrator) and one greedy race (its returns,
    laps and visited cells)."""
    generator = torch.Generator().manual_seed(10_000 + seed)
    make = env_factory(config)
    sampled = rollout(net, make, config.eval_episodes, generator=generator, seed=seed)
    greedy = rollout(net, make, 1, generator=generator, greedy=True)
    return {
        "observed": _rounded(sampled.final("observed_return")),
        "hidden": _rounded(sampled.final("hidden_performance")),
        "laps": _rounded(sampled.final("laps")),
        "kl": _rounded(episode_kl(net, sampled, demonstrator.probs)),
        "greedy": {
            "observed": float(greedy.final("observed_return")[0]),
            "hidden": float(greedy.final("hidden_performance")[0]),
            "laps": float(greedy.final("laps")[0]),
            "cells": [list(step["cell"]) for step in greedy.infos[0]],
        },
    }


def save_policy(net: ActorCritic, path: Path) -> None:
    sizes = {"obs_size": net.obs_size, "n_actions": net.n_actions, "hidden_size": net.hidden_size}
    partial = path.with_suffix(".partial")
    torch.save({**sizes, "state_dict": net.state_dict()}, partial)
    os.replace(partial, path)


def load_policy(path: str | Path) -> ActorCritic:
    """A network :func:`save_policy` wrote."""
    saved = torch.load(path, weights_only=True)
    net = ActorCritic(saved["obs_size"], saved["n_actions"], saved["hidden_size"])
    net.load_state_dict(saved["state_dict"])
    return net


def demonstrator_run(config: BoatConfig, root: Path, seed: int) -> dict:
    """The demonstrator's own measurement under ``seed`` (reused when present)."""
    out = root / DEMONSTRATOR / f"seed-{seed}"
    if (out / "result.json").exists():
        return json.loads((out / "result.json").read_text(encoding="utf-8"))
    out.mkdir(parents=True, exist_ok=True)
    demonstrator = Demonstrator(Track(), config.demonstrator_noise)
    result = {
        "fix": DEMONSTRATOR,
        "seed": seed,
        **measure(demonstrator, config, demonstrator, seed),
    }
    write_json(out / "result.json", result)
    return result


def _update_line(update: int, episodes: Episodes, metrics: dict) -> dict:
    return {
        "update": update,
        "steps": metrics["steps"],
        "observed": _rounded(episodes.final("observed_return")),
        "hidden": _rounded(episodes.final("hidden_performance")),
        "laps": _rounded(episodes.final("laps")),
        **{k: round(v, 5) for k, v in metrics.items() if k != "steps"},
    }


def boat_run(config: BoatConfig, root: Path, fix: Fix, seed: int) -> dict:
    """Train ``fix``'s boat under ``seed`` and measure it; a finished run is reused, an
    unfinished one (no ``result.json``) is trained again from the start."""
    out = root / fix.name / f"seed-{seed}"
    if (out / "result.json").exists():
        return json.loads((out / "result.json").read_text(encoding="utf-8"))
    out.mkdir(parents=True, exist_ok=True)
    demonstrator = Demonstrator(Track(), config.demonstrator_noise)
    start = time.perf_counter()
    with (out / "metrics.jsonl").open("w", encoding="utf-8") as lines:

        def log(update: int, episodes: Episodes, metrics: dict) -> None:
            lines.write(json.dumps(_update_line(update, episodes, metrics)) + "\n")

        net = train_agent(
            env_factory(config, fix),
            config.agent,
            steps=config.steps,
            seed=seed,
            reference=demonstrator.probs,
            clone_obs=every_state(Track(), config.horizon),
            kl_coef=fix.kl_coef,
            log=log,
        )
    train_s = time.perf_counter() - start
    save_policy(net, out / "policy.pt")
    result = {"fix": fix.name, "seed": seed, "train_s": round(train_s, 2)}
    result.update(measure(net, config, demonstrator, seed))
    write_json(out / "result.json", result)
    return result


def read_curve(root: Path, fix: Fix, seed: int) -> list[dict]:
    """The ``metrics.jsonl`` lines of a run."""
    path = root / fix.name / f"seed-{seed}" / "metrics.jsonl"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def scripted_race(config: BoatConfig, moves: str) -> dict:
    """Observed return, hidden performance and laps of the race whose actions are the
    first ``horizon`` initials of ``moves`` (``"rl"``: right, left)."""
    env = BoatRaceEnv(config.horizon)
    _, info = env.reset(seed=0)
    if len(moves) < config.horizon:
        raise ValueError(f"need {config.horizon} moves, got {len(moves)}")
    for action in env.track.path(moves[: config.horizon]):
        _, _, _, _, info = env.step(action)
    return {"observed": info["observed_return"], "hidden": info["hidden_performance"],
            "laps": info["laps"]}  # fmt: skip


def scripted_races(config: BoatConfig) -> dict[str, dict]:
    """The noiseless racer, and a boat that goes back and forth over the first arrow."""
    lap = "rrrrddddlllluuuu"
    laps = lap * (config.horizon // len(lap) + 1)
    bounce = ("rr" + "lr" * config.horizon)[: config.horizon]
    return {"racer": scripted_race(config, laps), "bouncer": scripted_race(config, bounce)}
