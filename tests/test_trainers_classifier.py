import json

import pytest

from alignlab.data.io import parse, write_records
from alignlab.data.records import Labelled, RecordError
from alignlab.trainers import ClassifierConfig, correct_probs, read_metrics, train_classifier

ITEMS = [
    {"prompt": f"what is {a} + {b} ?", "response": response, "label": label}
    for a in range(4)
    for b in range(4)
    for response, label in ((f"{a} + {b} = {a + b} .", 1.0), (f"i do not know {a} .", 0.0))
]


def test_labelled_records_parse_and_name_their_bad_fields():
    record = parse({"prompt": "p", "response": "r", "label": 1}, None)
    assert record == Labelled("p", "r", 1.0)
    assert Labelled.from_dict(record.to_dict()) == record
    with pytest.raises(RecordError, match=r"label: expected a number in \[0, 1\], got True"):
        parse({"prompt": "p", "response": "r", "label": True}, "labelled")
    with pytest.raises(RecordError, match="response: missing"):
        parse({"prompt": "p", "label": 0.5}, "labelled")


def test_a_classifier_learns_which_responses_are_correct(lm_dir, tmp_path):
    write_records(tmp_path / "train.jsonl", ITEMS)
    write_records(tmp_path / "heldout.jsonl", ITEMS[::3])
    config = ClassifierConfig(
        model=str(lm_dir),
        train_file=str(tmp_path / "train.jsonl"),
        eval_file=str(tmp_path / "heldout.jsonl"),
        output_dir=str(tmp_path / "run"),
        batch_size=8,
        lr=3e-3,
        epochs=8,
        eval_every=0,
        save_every=0,
        progress=False,
    )
    model_dir = train_classifier(config)
    probs = correct_probs(model_dir, [i["prompt"] for i in ITEMS], [i["response"] for i in ITEMS])
    labels = [i["label"] for i in ITEMS]
    accuracy = sum((p > 0.5) == (y == 1.0) for p, y in zip(probs, labels, strict=True)) / len(ITEMS)
    assert accuracy > 0.8
    rows = read_metrics(tmp_path / "run")
    assert rows[-1]["step"] == 32 and rows[-1]["loss"] < rows[1]["loss"]
    summary = json.loads((tmp_path / "run" / "eval.json").read_text())
    assert summary["accuracy"]["n"] == len(ITEMS[::3])


def test_aux_weight_must_be_a_probability():
    with pytest.raises(ValueError, match="aux_weight"):
        ClassifierConfig(model="m", train_file="f", aux_weight=2.0)


def test_head_only_trains_the_head_and_leaves_the_language_model_as_it_was(lm_dir, tmp_path):
    from safetensors.torch import load_file

    write_records(tmp_path / "train.jsonl", ITEMS)
    config = ClassifierConfig(
        model=str(lm_dir),
        train_file=str(tmp_path / "train.jsonl"),
        output_dir=str(tmp_path / "run"),
        batch_size=8,
        lr=1e-2,
        epochs=2,
        eval_every=0,
        save_every=0,
        progress=False,
        head_only=True,
    )
    model_dir = train_classifier(config)
    before = load_file(str(lm_dir / "model.safetensors"))
    after = load_file(str(model_dir / "model.safetensors"))
    backbone = [k for k in after if k in before and not k.startswith("score.")]
    assert len(backbone) > 4, "the saved classifier shares no weights with its LM"
    assert all((after[k] == before[k]).all() for k in backbone), "the frozen LM changed"
    assert any(k.startswith("score.") for k in after)
    with pytest.raises(ValueError, match="head_only"):
        ClassifierConfig(model="m", train_file="f", head_only=True, lora={"r": 2})
