import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from safetensors.torch import load_file
from typer.testing import CliRunner

import alignlab.trainers.ppo as ppo_module
from alignlab.cli.train import app as train_app
from alignlab.config import to_dict, to_toml
from alignlab.data.io import write_records
from alignlab.models.loading import load_causal_lm
from alignlab.models.reward_fns import batched
from alignlab.trainers import NonFiniteLossError, read_metrics
from alignlab.trainers.ppo import PPOConfig, train_ppo
from alignlab.trainers.rundir import checkpoint_steps

PROMPTS = [{"input": f"what is {a} + {b} ?"} for a in range(4) for b in range(4)]
TIMING = {"tokens_per_s"}


@batched
def yes_fraction(prompts, responses):
    """The toy reward: the fraction of a response's words that are ``yes``."""
    return [r.split().count("yes") / max(1, len(r.split())) for r in responses]


@batched
def no_fraction(prompts, responses):
    return [r.split().count("no") / max(1, len(r.split())) for r in responses]


def says_yes(prompt, response):
    return SimpleNamespace(category="yes" if "yes" in response.split() else "other", padded=False)


@pytest.fixture(scope="module")
def prompts_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "prompts.jsonl"
    write_records(path, PROMPTS)
    return path


def config(lm_dir, prompts_file, out, **overrides) -> PPOConfig:
    settings = dict(
        model=str(lm_dir),
        prompts=str(prompts_file),
        eval_prompts=str(prompts_file),
        eval_max_prompts=4,
        eval_max_new_tokens=8,
        reward="test_trainers_ppo:yes_fraction",
        output_dir=str(out),
        rollout_size=16,
        batch_size=8,
        max_new_tokens=8,
        ppo_epochs=2,
        max_steps=6,
        lr=1e-2,
        kl_coef=0.0,
        eval_every=3,
        save_every=2,
        progress=False,
    )
    return PPOConfig(**{**settings, **overrides})


def numbers(run_dir) -> list[dict]:
    rows = read_metrics(run_dir)
    return [
        {k: v for k, v in r.items() if k not in TIMING and not k.startswith("time/")} for r in rows
    ]


def test_ppo_raises_a_toy_reward_and_writes_its_run(lm_dir, prompts_file, tmp_path):
    run = tmp_path / "run"
    cfg = config(lm_dir, prompts_file, run, max_steps=16, gold="test_trainers_ppo:no_fraction")
    model_dir = train_ppo(replace(cfg, judge="test_trainers_ppo:says_yes"))
    rows = read_metrics(run)
    assert [r["step"] for r in rows] == list(range(17))
    # Step 0 is the evaluation of the starting policy, on the held-out prompts only.
    assert set(rows[0]) - {"step", "epoch", "time/eval"} == {
        k for k in rows[0] if k.startswith("eval/")
    }
    assert {"eval/kl", "eval/proxy/mean", "eval/gold/mean", "eval/gold/padded"} <= set(rows[0])
    expected = {
        "proxy/mean", "score/mean", "gold/mean", "gold/padded", "kl", "kl_coef", "objective",
        "approx_kl", "clipfrac", "entropy", "value_loss", "policy_loss", "loss", "returns/mean",
        "response/length",
        "response/finished", "grad_norm", "lr", "time/rollout", "time/train", "time/generate",
        "time/reward", "time/forward", "tokens_per_s",
    }  # fmt: skip
    assert all(expected <= set(r) for r in rows[1:])
    assert {"eval/gold/mean", "eval/kl"} <= set(rows[15]) - set(rows[14])
    assert rows[1]["kl"] == 0.0 and rows[1]["epoch"] == 1.0 and rows[2]["epoch"] == 2.0
    proxy = [r["proxy/mean"] for r in rows[1:]]
    assert np.mean(proxy[-4:]) > np.mean(proxy[:4]) + 0.2
    assert rows[-1]["kl"] > 1.0 and rows[-1]["eval/proxy/mean"] > rows[0]["eval/proxy/mean"]
    # Saying "yes" is the gold judge's category; saying "no" the gold reward.
    assert rows[-1]["gold/yes"] > rows[1].get("gold/yes", 0.0)

    policy = load_causal_lm(model_dir, device="cpu")
    assert isinstance(policy, torch.nn.Module)
    head = load_file(model_dir / "value_head.safetensors")
    assert head["weight"].shape == (1, 32) and head["weight"].abs().sum() > 0
    assert checkpoint_steps(run) == [14, 16]


def test_same_seed_same_numbers_other_seed_other_numbers(lm_dir, prompts_file, tmp_path):
    for name, seed in (("a", 0), ("b", 0), ("c", 1)):
        train_ppo(config(lm_dir, prompts_file, tmp_path / name, max_steps=3, seed=seed))
    assert numbers(tmp_path / "a") == numbers(tmp_path / "b")
    assert numbers(tmp_path / "a") != numbers(tmp_path / "c")
    weights_a = load_file(tmp_path / "a" / "model" / "model.safetensors")
    weights_b = load_file(tmp_path / "b" / "model" / "model.safetensors")
    assert all(torch.equal(weights_a[k], weights_b[k]) for k in weights_a)


def test_a_stopped_run_resumes_to_the_numbers_of_a_whole_one(
    lm_dir, prompts_file, tmp_path, monkeypatch
):
    # The adaptive coefficient is state the checkpoint must carry.
    adaptive = dict(kl_coef=0.1, kl_target=0.5, kl_horizon=16)
    whole = config(lm_dir, prompts_file, tmp_path / "whole", **adaptive)
    train_ppo(whole)
    coefs = [r["kl_coef"] for r in read_metrics(tmp_path / "whole")[1:]]
    assert len(set(coefs)) == len(coefs)

    calls = []
    real_loss = ppo_module.policy_loss

    def poisoned(*args, **kwargs):
        calls.append(1)
        loss, metrics = real_loss(*args, **kwargs)
        # 2 epochs of 2 micro-batches per step: the 18th is in step 5.
        return (loss * float("nan") if len(calls) == 18 else loss), metrics

    monkeypatch.setattr(ppo_module, "policy_loss", poisoned)
    cut = replace(whole, output_dir=str(tmp_path / "cut"))
    with pytest.raises(NonFiniteLossError, match=r"step 5: the loss is nan.*step-4"):
        train_ppo(cut)
    assert checkpoint_steps(tmp_path / "cut") == [2, 4]
    assert [r["step"] for r in read_metrics(tmp_path / "cut")] == [0, 1, 2, 3, 4]
    assert not (tmp_path / "cut" / "model").exists()

    monkeypatch.setattr(ppo_module, "policy_loss", real_loss)
    train_ppo(replace(cut, resume=True))
    assert numbers(tmp_path / "cut") == numbers(tmp_path / "whole")


def test_config_errors_name_the_field(lm_dir, prompts_file, tmp_path):
    with pytest.raises(ValueError, match=r"rollout_size .* multiple of batch_size"):
        config(lm_dir, prompts_file, tmp_path, rollout_size=12)
    with pytest.raises(ValueError, match="reward: PPO needs a reward"):
        config(lm_dir, prompts_file, tmp_path, reward=None)
    with pytest.raises(ValueError, match="kl_target"):
        config(lm_dir, prompts_file, tmp_path, kl_target=1.0, kl_coef=0.0)
    with pytest.raises(ValueError, match="names no reward"):
        train_ppo(config(lm_dir, prompts_file, tmp_path / "r", reward="no-such-reward"))


def test_cli_trains_resumes_and_reports_errors(lm_dir, prompts_file, tmp_path):
    out = tmp_path / "run"
    config_file = tmp_path / "ppo.toml"
    config_file.write_text(to_toml(to_dict(config(lm_dir, prompts_file, out, max_steps=2))))
    runner = CliRunner()
    result = runner.invoke(train_app, ["ppo", "--config", str(config_file)])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip().endswith(str(out / "model"))
    assert [r["step"] for r in read_metrics(out)] == [0, 1, 2]

    again = runner.invoke(train_app, ["ppo", "--config", str(config_file)])
    assert again.exit_code == 1 and "holds an earlier run" in again.output
    longer = ["--set", "max_steps=3", "--resume"]
    resumed = runner.invoke(train_app, ["ppo", "--config", str(config_file), *longer])
    assert resumed.exit_code == 0, resumed.output
    assert [r["step"] for r in read_metrics(out)] == [0, 1, 2, 3]

    bad = runner.invoke(train_app, ["ppo", "--config", str(config_file), "--set", "kl_coef=-1"])
    assert bad.exit_code == 2 and "kl_coef" in bad.output and "Traceback" not in bad.output


@pytest.mark.slow
def test_a_killed_run_resumes_with_every_step_logged_once(lm_dir, prompts_file, tmp_path):
    run = tmp_path / "run"
    cfg = config(lm_dir, prompts_file, run, max_steps=200, save_every=2, eval_every=50)
    config_file = tmp_path / "ppo.toml"
    config_file.write_text(to_toml(to_dict(cfg)))
    script = "from alignlab.cli.train import app; app()"
    command = [sys.executable, "-c", script, "ppo", "--config", str(config_file)]
    tests_dir = str(Path(__file__).parent)
    env = {**os.environ, "CI": "1", "PYTHONPATH": tests_dir}
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while (checkpoint_steps(run) or [0])[-1] < 4:
        assert process.poll() is None, process.communicate()[1].decode()[-2000:]
        assert time.monotonic() < deadline, "no second checkpoint in 120 s"
        time.sleep(0.005)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert not (run / "model").exists()
    killed_at = checkpoint_steps(run)[-1]
    assert killed_at < 200

    resumed = subprocess.run([*command, "--resume"], env=env, capture_output=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr.decode()[-2000:]
    assert Path(resumed.stdout.decode().strip()) == run / "model"
    assert [r["step"] for r in read_metrics(run)] == list(range(201))
    assert checkpoint_steps(run)[-1] == 200


def test_ppo_runs_without_held_out_prompts_and_logs_no_evaluation(lm_dir, prompts_file, tmp_path):
    settings = config(lm_dir, prompts_file, tmp_path / "run", max_steps=2, save_every=0)
    settings.eval_prompts = None
    PPOConfig(**{k: getattr(settings, k) for k in settings.__dataclass_fields__})  # accepted
    train_ppo(settings)
    rows = read_metrics(tmp_path / "run")
    assert [r["step"] for r in rows] == [1, 2]
    assert not any(k.startswith("eval/") for r in rows for k in r)
    assert all("proxy/mean" in r for r in rows)
