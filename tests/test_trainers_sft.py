from types import SimpleNamespace

import pytest
import torch
from safetensors.torch import load_file

from alignlab.config import load_config
from alignlab.data.io import write_records
from alignlab.models.loading import LoraSpec, load_causal_lm
from alignlab.trainers import SFTConfig, read_metrics, train_sft

DEMOS = [
    {"prompt": f"what is {a} + {b} ?", "completion": f"{a} + {b} = {a + b} ."}
    for a in range(4)
    for b in range(3)
]
MESSAGES = [
    {
        "messages": [
            {"role": "user", "content": d["prompt"]},
            {"role": "assistant", "content": d["completion"]},
        ]
    }
    for d in DEMOS
]


def response_words(prompt, response: str) -> float:
    return float(len(response.split()))


def first_word(prompt, response: str):
    words = response.split()
    return SimpleNamespace(category=words[0] if words else "empty", padded=len(words) > 3)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    write_records(root / "sft.jsonl", DEMOS)
    write_records(root / "messages.jsonl", MESSAGES)
    write_records(root / "prompts.jsonl", [{"input": d["prompt"]} for d in DEMOS[:5]])
    return root


def config(lm_dir, data, out, **overrides) -> SFTConfig:
    settings = dict(
        model=str(lm_dir),
        train_file=str(data / "sft.jsonl"),
        output_dir=str(out),
        batch_size=4,
        lr=1e-3,
        save_every=2,
        progress=False,
    )
    return SFTConfig(**{**settings, **overrides})


def test_sft_run_writes_a_loadable_model_and_metrics(lm_dir, data, tmp_path):
    cfg = config(lm_dir, data, tmp_path / "run", epochs=2)
    model_dir = train_sft(cfg)
    assert model_dir == tmp_path / "run" / "model"
    model = load_causal_lm(model_dir, device="cpu")
    start = load_causal_lm(lm_dir, device="cpu")
    assert not torch.equal(model.lm_head.weight, start.lm_head.weight)
    assert (model_dir / "tokenizer.json").exists() and (model_dir / "model.safetensors").exists()
    assert load_config(SFTConfig, tmp_path / "run" / "config.toml") == cfg

    rows = read_metrics(tmp_path / "run")
    assert [r["step"] for r in rows] == list(range(1, 7))  # 12 demos / 4 = 3 steps per epoch
    assert rows[-1]["epoch"] == 2.0
    for row in rows:
        assert {"loss", "lr", "ppl", "tokens", "grad_norm", "tokens_per_s"} <= set(row)
        assert row["loss"] > 0 and row["tokens_per_s"] > 0
    assert rows[-1]["loss"] < rows[0]["loss"]
    assert sorted(p.name for p in (tmp_path / "run" / "checkpoints").iterdir()) == [
        "step-4",
        "step-6",
    ]


def test_messages_format_trains_on_the_same_tokens(lm_dir, data, tmp_path):
    plain = train_sft(config(lm_dir, data, tmp_path / "plain", max_steps=2, save_every=0))
    chat = config(lm_dir, data, tmp_path / "chat", max_steps=2, save_every=0)
    chat.train_file = str(data / "messages.jsonl")
    train_sft(chat)
    assert [r["loss"] for r in read_metrics(tmp_path / "plain")] == [
        r["loss"] for r in read_metrics(tmp_path / "chat")
    ]
    assert plain.exists()


def test_policy_tracking_logs_length_kl_proxy_gold_and_judge_rates(lm_dir, data, tmp_path):
    cfg = config(
        lm_dir,
        data,
        tmp_path / "run",
        max_steps=4,
        eval_every=2,
        eval_prompts=str(data / "prompts.jsonl"),
        eval_max_new_tokens=5,
        reward="test_trainers_sft:response_words",
        gold="test_trainers_sft:response_words",
        judge="test_trainers_sft:first_word",
    )
    train_sft(cfg)
    rows = read_metrics(tmp_path / "run")
    evals = [r for r in rows if "kl" in r]
    assert [r["step"] for r in evals] == [0, 2, 4]
    # Before the first step the policy is its own reference.
    assert evals[0]["kl"] == 0.0 and "loss" not in evals[0]
    for row in evals:
        assert row["eval/n"] == 5.0
        assert 1 <= row["response/length"] <= 5
        assert row["proxy/mean"] == row["gold/mean"] <= 5
        rates = {k: v for k, v in row.items() if k.startswith("gold/") and k != "gold/mean"}
        assert "gold/padded" in rates and len(rates) >= 2
        assert sum(v for k, v in rates.items() if k != "gold/padded") == pytest.approx(1.0)
    # Training moved the policy away from its starting weights, the reference.
    assert evals[-1]["kl"] != 0.0


def test_lora_run_with_merge_lora_saves_merged_plain_weights(lm_dir, data, tmp_path):
    lora = LoraSpec(r=4, alpha=8.0)
    cfg = config(lm_dir, data, tmp_path / "run", max_steps=3, lora=lora, merge_lora=True)
    model_dir = train_sft(cfg)
    weights = load_file(model_dir / "model.safetensors")
    assert not any("lora" in name for name in weights)
    assert not (model_dir / "adapter_config.json").exists()
    model = load_causal_lm(model_dir, device="cpu")
    start = load_causal_lm(lm_dir, device="cpu")
    q_proj = "model.layers.0.self_attn.q_proj.weight"
    assert not torch.equal(model.state_dict()[q_proj], start.state_dict()[q_proj])
    # The output head is not adapted ("all-linear" skips it), so it keeps its weights.
    assert torch.equal(model.lm_head.weight, start.lm_head.weight)


def test_an_earlier_run_is_not_overwritten(lm_dir, data, tmp_path):
    train_sft(config(lm_dir, data, tmp_path / "run", max_steps=1))
    before = (tmp_path / "run" / "metrics.jsonl").read_text()
    with pytest.raises(ValueError, match="holds an earlier run"):
        train_sft(config(lm_dir, data, tmp_path / "run", max_steps=1))
    assert (tmp_path / "run" / "metrics.jsonl").read_text() == before


def test_tracked_rewards_need_eval_prompts():
    with pytest.raises(ValueError, match="gold: is tracked on samples"):
        SFTConfig(model="m", train_file="t.jsonl", gold="gold")


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("batch_size", 0, "batch_size: must be >= 1"),
        ("lr", 0.0, "lr: must be > 0"),
        ("max_length", 1, "max_length: must be >= 2"),
        ("eval_temperature", 0.0, "eval_temperature: must be > 0"),
    ],
)
def test_bad_values_name_their_field(field, value, message):
    with pytest.raises(ValueError, match=message):
        SFTConfig(model="m", train_file="t.jsonl", **{field: value})
