"""Constitutional AI end to end on a tiny assistant world: revise, fine-tune, label, DPO."""

import pytest

from alignlab.config import from_dict
from alignlab.data import read_records
from alignlab.feedback import LabelConfig, ReviseConfig, run_label, run_revise
from alignlab.organisms.assistant import judge
from alignlab.organisms.assistant.build import build
from test_organism_build import tiny_config


@pytest.mark.slow
def test_sl_cai_and_ai_feedback_run_on_the_organism(tmp_path):
    from alignlab.trainers import DPOConfig, SFTConfig, train_dpo, train_sft

    org = tmp_path / "organism"
    build(org, seed=5, config=tiny_config(), use_cache=False, progress=False)
    base, data = str(org / "base"), org / "data"
    common = {"threads": 1, "progress": False}
    revisions = tmp_path / "revisions.jsonl"
    counts = run_revise(
        from_dict(
            ReviseConfig,
            {
                **common,
                "prompts": str(data / "prompts_train.jsonl"),
                "output": str(revisions),
                "policy": {"model": base, "device": "cpu"},
                "rounds": 2,
                "max_new_tokens": 12,
            },
        )
    )
    records = read_records(revisions, "demonstration")
    assert counts["total"] == len(records) > 0
    for r in records:
        assert len(r.meta["rounds"]) == 2 and r.meta["family"]
        assert {step["principle"] for step in r.meta["rounds"]} <= {
            "truth",
            "safety",
            "brevity",
            "honesty",
        }
        judge(r.prompt, r.response)  # every revision is an answer the gold utility can score
    model = train_sft(
        from_dict(
            SFTConfig,
            {
                **common,
                "model": base,
                "train_file": str(revisions),
                "output_dir": str(tmp_path / "sl_cai"),
            },
        )
    )
    labels = tmp_path / "labels.jsonl"
    summary = run_label(
        from_dict(
            LabelConfig,
            {
                **common,
                "pairs": str(data / "prefs.jsonl"),
                "output": str(labels),
                "feedback": {"model": str(model), "device": "cpu"},
            },
        )
    )
    comparisons = read_records(labels, "comparison")
    assert summary["method"] == "logprobs" and len(comparisons) == summary["total"]
    assert all(0.5 <= c.weight <= 1.0 for c in comparisons)
    train_dpo(
        from_dict(
            DPOConfig,
            {
                **common,
                "model": base,
                "train_file": str(labels),
                "output_dir": str(tmp_path / "dpo"),
            },
        )
    )
    assert (tmp_path / "dpo" / "model").exists()
