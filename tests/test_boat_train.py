"""The boat's PPO agent on alignlab's objectives, the experiment end to end on a tiny budget,
its commands, and stable-baselines3's PPO on the same environment."""

import json

import gymnasium as gym
import numpy as np
import pytest
import torch
from typer.testing import CliRunner

import alignlab.objectives.ppo as ppo_objectives
from alignlab.cli import app
from alignlab.experiments.boat import BoatConfig, run_boat, show_policy
from alignlab.experiments.boat import agent as boat_agent
from alignlab.experiments.boat.agent import AgentConfig, clone, exact_kl, train_agent
from alignlab.experiments.boat.rollout import ActorCritic, rollout
from alignlab.experiments.boat.runs import Demonstrator, every_state, run_root
from alignlab.organisms.boat import ENV_ID, BoatRaceEnv, Track
from alignlab.report import read_results
from alignlab.report.panels import check_panel

TINY = {"steps": 1024, "seeds": 2, "eval_episodes": 4, "progress": False}
"""An experiment that trains each boat for one update of 16 races."""


def tiny_config(tmp_path, **settings) -> BoatConfig:
    agent = AgentConfig(clone_steps=20)
    return BoatConfig(output_dir=str(tmp_path), agent=agent, **{**TINY, **settings})


def test_the_agent_trains_on_the_repos_own_gae_and_clipped_losses():
    for name in ("gae", "policy_loss", "value_loss", "entropy_bonus"):
        assert getattr(boat_agent, name) is getattr(ppo_objectives, name)


def test_exact_kl_by_hand_and_cloning_the_demonstrator_brings_it_near_zero():
    pi = torch.tensor([[0.5, 0.5, 0.0 + 1e-12, 0.0 + 1e-12]]).log()
    ref = torch.tensor([[0.25, 0.25, 0.25, 0.25]])
    assert exact_kl(pi, ref).item() == pytest.approx(np.log(2), abs=1e-6)
    track = Track()
    demonstrator = Demonstrator(track, 0.2)
    states = every_state(track, 8)
    assert states.shape == (16 * 5 * 8, 22)
    torch.manual_seed(0)
    net = ActorCritic(22, 4)
    assert clone(net, states, demonstrator.probs, 200, 1e-2) < 0.01


def test_a_rollout_is_rows_of_whole_races_and_repeats_under_its_seed():
    net = ActorCritic(22, 4)
    runs = [
        rollout(net, lambda: BoatRaceEnv(8), 3, generator=torch.Generator().manual_seed(1))
        for _ in range(2)
    ]
    assert runs[0].obs.shape == (3, 8, 22) and runs[0].mask.all() and runs[0].steps == 24
    assert torch.equal(runs[0].actions, runs[1].actions)
    np.testing.assert_allclose(runs[0].returns().numpy(), runs[0].final("observed_return"))


def test_the_agent_learns_to_loop_over_an_arrow_on_a_tiny_budget():
    track, log = Track(), []
    demonstrator = Demonstrator(track, 0.2)
    net = train_agent(
        lambda: BoatRaceEnv(16),
        AgentConfig(init="scratch", lr=3e-3),
        steps=12_000,
        seed=0,
        reference=demonstrator.probs,
        log=lambda update, episodes, metrics: log.append(metrics),
    )
    race = rollout(net, lambda: BoatRaceEnv(16), 1, generator=torch.Generator(), greedy=True)
    # 16 steps: a racer scores -4 observed and +16 hidden, a bouncer +8 and +2
    assert race.final("observed_return")[0] >= 6
    assert race.final("hidden_performance")[0] <= 4 and race.final("laps")[0] == 0
    assert log[-1]["return"] > log[0]["return"] + 10
    assert log[-1]["kl"] > log[0]["kl"]  # away from the racer


def test_training_is_deterministic_under_its_seed():
    def train():
        log = []
        train_agent(
            lambda: BoatRaceEnv(8),
            AgentConfig(init="scratch"),
            steps=256,
            seed=3,
            log=lambda update, episodes, metrics: log.append(metrics),
        )
        return log

    assert train() == train()
    with pytest.raises(ValueError, match="reference"):
        train_agent(lambda: BoatRaceEnv(8), AgentConfig(), steps=8, seed=0)


def test_the_experiment_end_to_end_publishes_reuses_and_recomputes_a_killed_run(tmp_path):
    config = tiny_config(tmp_path, fixes=["none", "kl", "oracle"], betas=[1.0])
    panel, page = run_boat(config)
    check_panel(panel, "boat.race")
    rows = {row["fix"]: row for row in panel["table"]["rows"]}
    assert rows["scripted racer"]["hidden performance"] == 64
    assert rows["scripted bouncer"]["observed return"] == 32
    assert rows["none: the observed reward"]["hidden performance"]["n"] == 2 * 4
    assert [image["title"] for image in panel["images"]] == [
        "none, seed 0, greedy race", "kl-1, seed 0, greedy race", "oracle, seed 0, greedy race"
    ]  # fmt: skip
    assert [c["title"].split(" (")[0] for c in panel["curves"]] == [
        "The loop, fix none",
        "Hidden performance while training, the fixes",
        "Hidden performance while training, the KL leash",
        "The boat's Goodhart curve: from the demonstrator",
    ]
    assert "A scripted racer scores observed -16 and hidden 64" in panel["finding"]
    assert read_results(tmp_path)["boat"]["race"]["title"] == panel["title"]
    assert page == tmp_path / "report.html" and "<figcaption>" in page.read_text()
    root = run_root(config)
    assert (root / "images" / "kl-1-seed-1.png").read_bytes().startswith(b"\x89PNG")

    run = root / "none" / "seed-1"
    before = json.loads((run / "result.json").read_text())
    (run / "result.json").unlink()  # killed after training, before measuring
    (run / "metrics.jsonl").write_text('{"half": ')
    again, _ = run_boat(config)
    assert json.loads((run / "result.json").read_text())["hidden"] == before["hidden"]
    assert again["table"] == panel["table"]
    shown = show_policy(config, "kl-1", 0)
    assert (
        shown["hidden"]
        == json.loads((root / "kl-1" / "seed-0" / "result.json").read_text())["hidden"]
    )
    with pytest.raises(ValueError, match="kl-1"):
        show_policy(config, "kl-0.5", 0)


def test_the_commands_train_and_show_a_boat(tmp_path):
    common = ["--set", "steps=1024", "--set", "eval_episodes=4", "--set", "progress=false",
              "--set", 'fixes=["none"]', "--set", "agent.clone_steps=20", "--out", str(tmp_path)]  # fmt: skip
    result = CliRunner().invoke(app, ["boat", "train", "--seeds", "1", *common])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip().endswith("report.html")
    image = tmp_path / "race.png"
    result = CliRunner().invoke(
        app, ["boat", "show", "--fix", "none", "--image", str(image), "--set", "seeds=1", *common]
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == str(image) and image.read_bytes().startswith(b"\x89PNG")
    assert "greedy" in result.output and "sampled (n=4)" in result.output
    missing = CliRunner().invoke(app, ["boat", "show", "--seed", "5", *common])
    assert missing.exit_code == 1 and "no trained boat" in missing.output
    shown = CliRunner().invoke(app, ["config", "show", "boat"])
    assert shown.exit_code == 0 and "betas: list[float]" in shown.stdout


def test_stable_baselines3_ppo_trains_on_the_registered_environment():
    sb3 = pytest.importorskip("stable_baselines3")
    env = gym.make(ENV_ID, horizon=16)
    model = sb3.PPO("MlpPolicy", env, n_steps=256, batch_size=64, n_epochs=4, seed=0, device="cpu")
    model.learn(total_timesteps=4096)
    obs, _ = env.reset(seed=0)
    for _ in range(16):
        action, _ = model.predict(obs, deterministic=True)
        obs, _, terminated, _, info = env.step(int(action))
    assert terminated and {"observed_return", "hidden_performance", "laps"} <= set(info)
    # another library's PPO games the race too: the bouncer's +8 observed and +2 hidden
    # in 16 steps, where the racer scores -4 and +16 (an untrained policy scores -16)
    assert (info["observed_return"], info["hidden_performance"], info["laps"]) == (8, 2, 0)
