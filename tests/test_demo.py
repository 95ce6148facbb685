"""`alignlab demo` end to end on a tiny world: every stage, results.json, report.html, reuse."""

import json

import pytest
from typer.testing import CliRunner

from alignlab.cli import app
from alignlab.config import to_toml
from alignlab.experiments.demo import DemoConfig
from test_organism_build import TINY

QUICK = {
    "world": TINY,
    "max_steps": 2,
    "ensemble": 2,
    "ensemble_steps": 2,
    "bon_ns": [1, 2, 4],
    "bon_prompts": 6,
    "ppo_steps": 2,
    "eval_prompts": 12,
    "eval_samples": 1,
    "short_words": 30,
    "threads": 1,
    "progress": False,
}

STAGES = ["base", "SFT", "RM-BoN", "PPO", "PPO-oracle", "DPO", "CAI"]


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match="bon_ns"):
        DemoConfig(bon_ns=[2, 4, 8])
    with pytest.raises(ValueError, match="ppo_steps"):
        DemoConfig(ppo_steps=0)
    result = CliRunner().invoke(app, ["demo", "--set", "bon_nz=[1]"])
    assert result.exit_code == 2
    assert "bon_nz" in result.output


@pytest.mark.slow
def test_demo_runs_the_ladder_and_reuses_finished_stages(tmp_path):
    config = tmp_path / "demo.toml"
    config.write_text(to_toml(QUICK))
    out = tmp_path / "demo"
    result = CliRunner().invoke(app, ["demo", "--out", str(out), "--config", str(config)])
    assert result.exit_code == 0, result.output
    results = json.loads((out / "results.json").read_text())
    assert [row["stage"].split(" ")[0] for row in results["ladder"]] == STAGES
    for row in results["ladder"]:
        assert 0 <= row["metrics"]["gold"]["value"] <= 1
        assert row["samples"]
    assert results["ladder"][1]["metrics"]["kl"]["value"] == pytest.approx(0.0, abs=1e-6)
    names = [c["name"] for c in results["curves"]]
    assert names == ["best-of-n (proxy)", "best-of-n (oracle)", "PPO", "PPO-oracle"]
    # The ladder's best-of-n row is the proxy curve's point at its n: one best-of-n.
    bon_row = results["ladder"][2]["metrics"]
    n = int(results["ladder"][2]["stage"].split("n=")[1].rstrip(")"))
    (point,) = [p for p in results["curves"][0]["points"] if p["pressure"] == n]
    assert bon_row["gold"] == point["gold"]
    assert bon_row["kl"]["value"] == pytest.approx(point["kl"])
    assert [f["form"] for f in results["goodhart_forms"]] == [
        "regressional",
        "extremal",
        "adversarial",
    ]
    judges = [j["name"] for j in results["reward_models"]["judges"]]
    assert "AI feedback (RL-CAI)" in judges and "ensemble" in judges
    page = (out / "report.html").read_text()
    assert page.count("data:image/png;base64,") == 4

    sft_weights = out / "runs" / "sft" / "model" / "model.safetensors"
    before = sft_weights.stat().st_mtime_ns
    again = CliRunner().invoke(app, ["demo", "--out", str(out), "--config", str(config)])
    assert again.exit_code == 0, again.output
    assert "organism reused from out" in again.output
    assert sft_weights.stat().st_mtime_ns == before
    second = json.loads((out / "results.json").read_text())
    assert second["ladder"] == results["ladder"]  # same seed, same numbers

    (out / "report.html").unlink()
    assert CliRunner().invoke(app, ["report", str(out)]).exit_code == 0
    assert (out / "report.html").exists()

    (out / "notes.txt").write_text("the user's own file")
    fresh = CliRunner().invoke(app, ["demo", "--out", str(out), "--config", str(config), "--fresh"])
    assert fresh.exit_code == 0, fresh.output
    assert "organism built" in fresh.output
    assert sft_weights.stat().st_mtime_ns != before
    assert (out / "notes.txt").read_text() == "the user's own file"
    assert json.loads((out / "results.json").read_text())["ladder"] == results["ladder"]
