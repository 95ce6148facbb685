"""The amplification experiment (:mod:`alignlab.experiments.oversight.amplify`): its
config, statistics, finding and one small end-to-end run; the protocol's own tests are in
``test_oversight_amplify.py``."""

import json

import pytest

from alignlab.data.io import read_records
from alignlab.organisms.assistant import sums
from test_oversight_amplify import Scripted, one_step

# --- the experiment -----------------------------------------------------------------------


def test_config_errors_name_the_field():
    from alignlab.experiments.oversight.amplify import AmplifyConfig

    with pytest.raises(ValueError, match="ks: must be distinct"):
        AmplifyConfig(ks=[1, 2])
    with pytest.raises(ValueError, match="unknown strategy 'thirds'"):
        AmplifyConfig(reference="thirds")
    with pytest.raises(ValueError, match="tokens_per_term"):
        AmplifyConfig(tokens_per_term=0)
    with pytest.raises(ValueError, match="iterations: must be at least 1, got 0"):
        AmplifyConfig(iterations=0)
    with pytest.raises(ValueError, match="fidelity: must lie in"):
        AmplifyConfig(fidelity=1.5)
    assert AmplifyConfig(iterations=2).rows == [
        "direct",
        "amplified",
        "amplified-1",
        "distilled-1",
        "amplified-2",
        "distilled-2",
    ]
    assert AmplifyConfig(iterations=1, reference=None).rows == [
        "direct",
        "amplified-1",
        "distilled-1",
    ]


def test_accuracy_pools_seeds_per_k():
    from alignlab.experiments.oversight.amplify import SeedRun, accuracy, questions_asked

    def rows(flags):
        return [{"problem": [0] * k, "correct": c, "steps": [0] * k} for k, c in flags]

    per_seed = [
        SeedRun({"direct": rows([(2, True), (2, True), (3, False), (3, True)])}, {}),
        SeedRun({"direct": rows([(2, False), (2, True), (3, False), (3, False)])}, {}),
    ]
    assert accuracy(per_seed, "direct", 2)["value"] == pytest.approx(0.75)  # (1 + 1/2) / 2
    assert accuracy(per_seed, "direct", 3)["value"] == pytest.approx(0.25)
    assert accuracy(per_seed, "direct")["value"] == pytest.approx(0.5)
    assert accuracy(per_seed, "direct", 2)["n"] == 4
    assert questions_asked(per_seed, "direct") == pytest.approx(2.5)


def _runs(reaches: dict[str, int], ks=(2, 3, 4), n=10, seeds=2):
    """Seeds whose every row answers all problems of k <= its reach, and none beyond."""
    from alignlab.experiments.oversight.amplify import SeedRun

    def rows(reach):
        return [
            {"problem": [0] * k, "correct": k <= reach, "steps": [0]} for k in ks for _ in range(n)
        ]

    return [SeedRun({row: rows(r) for row, r in reaches.items()}, {}) for _ in range(seeds)]


def test_the_finding_says_whether_the_distilled_reach_grew():
    from alignlab.experiments.oversight.amplify import AmplifyConfig, finding, panel

    config = AmplifyConfig(ks=[2, 3, 4], iterations=2)
    grows = {"direct": 2, "amplified": 4, "amplified-1": 3, "distilled-1": 3}
    runs = _runs({**grows, "amplified-2": 4, "distilled-2": 4})
    text = finding(config, runs)
    assert "answers 100% of 2-operand sums and 0% of 4-operand ones" in text
    assert "amplified k <= 3, k <= 4; distilled k <= 3, k <= 4" in text
    assert "IDA's shape reproduced" in text and "accuracy at k = 4 rose" in text
    stalls = finding(config, _runs({**grows, "amplified-2": 4, "distilled-2": 3}))
    assert "did not reproduce" in stalls and "did not always keep" in stalls
    result = panel(config, runs, 1.0)
    assert [s["name"] for s in result["curves"][0]["series"]] == [
        "direct",
        "amplified",
        "distilled-1",
        "distilled-2",
    ]
    assert result["setting"]["held-out problems per k and seed"] == "40 (24 at k = 2)"


@pytest.mark.slow
def test_run_amplify_end_to_end_and_a_rerun_reuses_every_step(tmp_path, monkeypatch):
    import alignlab.experiments.oversight.amplify as experiment
    from alignlab.models.adapters import is_model_dir
    from alignlab.organisms.assistant.build import build
    from test_organism_build import tiny_config

    # The tiny organism is trained for real (SFT policy, distillation runs); it answers
    # noise, so the answers come from the scripted overseer who knows one-step sums.
    organism = tmp_path / "organism"
    build(organism, seed=0, config=tiny_config(), use_cache=False, progress=False)
    loaded = []

    class Loaded:
        @staticmethod
        def load(path, **kwargs):
            loaded.append(str(path))
            return Scripted(one_step)

    monkeypatch.setattr(experiment, "HFBackend", Loaded)
    config = experiment.AmplifyConfig(
        organism=str(organism),
        output_dir=str(tmp_path / "out"),
        seeds=1,
        ks=[2, 3],
        n_train=4,
        n_heldout=3,
        iterations=2,
        progress=False,
        distill={"max_steps": 2, "batch_size": 4, "lr": 1e-3},
    )
    panel, report = experiment.run_amplify(config)
    assert report.exists()
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    assert results["oversight"]["amplify"]["title"] == panel["title"]
    assert [r["method"].split(" ")[0] for r in panel["table"]["rows"]] == config.rows
    assert panel["table"]["rows"][0]["k=2"]["n"] == 3
    assert panel["setting"]["held-out problems per k and seed"] == "3"
    assert [p["x"] for p in panel["curves"][0]["series"][0]["points"]] == [2, 3]
    assert "seeds" in panel["setting"] and panel["finding"].startswith("Asked directly")
    distilled = [p for p in loaded if "iter-" in p]
    assert distilled and all(p.endswith("model") for p in distilled)
    direct = next(r for r in panel["table"]["rows"] if r["method"] == "direct")
    assert direct["k=2"]["value"] == 1.0 and direct["k=3"]["value"] == 0.0
    key = experiment.organism_key(organism)
    seed_dir = experiment.run_dir(config, "amplify", key) / "seed-0"
    chosen = json.loads((seed_dir / "iter-1" / "chosen.json").read_text())
    # the scripted "distilled model" guesses 0 for 3 operands, so it never copies the
    # amplification there: every try is made, and the first of the equally faithful kept
    assert chosen["tries"] == 3 and chosen["per_k"] == {"2": 1.0, "3": 0.0}
    assert chosen["model"].endswith("sft-0/model")
    assert all(is_model_dir(seed_dir / "iter-1" / f"sft-{j}" / "model") for j in range(3))
    demos = read_records(seed_dir / "iter-1" / "distill.jsonl", "demonstration")
    assert all(sums.question_terms(d.prompt) for d in demos)

    def refuse(*args, **kwargs):
        raise AssertionError("a finished step was recomputed")

    monkeypatch.setattr(experiment, "train_sft", refuse)
    monkeypatch.setattr(experiment, "amplify", refuse)
    again, _ = experiment.run_amplify(config)
    assert again["table"] == panel["table"]

    monkeypatch.undo()
    monkeypatch.setattr(experiment.HFBackend, "load", lambda *a, **k: Scripted(lambda t: "no ."))
    silent = experiment.AmplifyConfig(**{**vars(config), "n_train": 2})
    with pytest.raises(ValueError, match="answered no train problem, nothing to distil"):
        experiment.run_amplify(silent)
