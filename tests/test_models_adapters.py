"""LoRA runs save a peft adapter (merged full weights only with merge_lora), and every
loader reads an adapter directory as its base with the adapter applied."""

import json

import pytest
import torch

from alignlab.data.io import write_records
from alignlab.models.adapters import is_adapter_dir, is_model_dir
from alignlab.models.loading import LoraSpec, check_model_source, load_causal_lm, load_tokenizer
from alignlab.models.reward import RewardModel
from alignlab.trainers import DPOConfig, SFTConfig, train_dpo, train_sft
from alignlab.trainers.policy import save_policy
from test_trainers_dpo import PAIRS

LORA = LoraSpec(r=4, alpha=8.0, dropout=0.0)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    write_records(root / "prefs.jsonl", PAIRS)
    return root


def logits(model, tokenizer) -> torch.Tensor:
    batch = tokenizer(["what is 1 + 2 ?", "hello there"], return_tensors="pt", padding=True)
    with torch.no_grad():
        return model(**batch).logits


def perturbed_lora_model(lm_dir):
    """A LoRA model whose adapters are not the zero update they start as."""
    model = load_causal_lm(lm_dir, device="cpu", lora=LORA)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(1)
        for name, parameter in model.named_parameters():
            if "lora_B" in name:
                parameter.data.normal_(std=0.1)
    return model


def test_an_adapter_save_loads_back_with_the_same_logits(lm_dir, tmp_path):
    model = perturbed_lora_model(lm_dir)
    tokenizer = load_tokenizer(lm_dir)
    before = logits(model, tokenizer)
    assert not torch.allclose(before, logits(load_causal_lm(lm_dir, device="cpu"), tokenizer))
    out = save_policy(model, tokenizer, tmp_path / "adapter")
    assert is_adapter_dir(out) and is_model_dir(out)
    names = {p.name for p in out.iterdir()}
    assert {"adapter_config.json", "adapter_model.safetensors", "tokenizer.json"} <= names
    assert "model.safetensors" not in names and "config.json" not in names
    base = json.loads((out / "adapter_config.json").read_text())["base_model_name_or_path"]
    assert base == str(lm_dir.resolve())
    assert check_model_source(out) == str(out)
    loaded = load_causal_lm(out, device="cpu")
    torch.testing.assert_close(logits(loaded, load_tokenizer(out)), before, atol=1e-5, rtol=0)


def test_merge_lora_saves_full_weights_with_the_same_logits(lm_dir, tmp_path):
    model = perturbed_lora_model(lm_dir)
    tokenizer = load_tokenizer(lm_dir)
    before = logits(model, tokenizer)
    out = save_policy(model, tokenizer, tmp_path / "merged", merge_lora=True)
    assert (out / "config.json").exists() and (out / "model.safetensors").exists()
    assert not (out / "adapter_config.json").exists()
    torch.testing.assert_close(logits(load_causal_lm(out, device="cpu"), tokenizer), before)


def test_lora_sft_saves_a_small_adapter_and_dpo_trains_on_it(lm_dir, data, train_file, tmp_path):
    common = dict(batch_size=4, lr=1e-3, max_steps=2, save_every=0, progress=False, lora=LORA)
    sft = train_sft(
        SFTConfig(
            model=str(lm_dir),
            train_file=str(train_file),
            output_dir=str(tmp_path / "sft"),
            **common,
        )
    )
    adapter_bytes = sum(p.stat().st_size for p in sft.iterdir() if p.suffix == ".safetensors")
    full_bytes = (lm_dir / "model.safetensors").stat().st_size
    assert is_adapter_dir(sft) and adapter_bytes < full_bytes / 2
    # DPO from the adapter: its policy and its reference both load the adapter directory,
    # and its own adapter names the SFT adapter as base, so loading follows the chain.
    dpo = train_dpo(
        DPOConfig(
            model=str(sft),
            train_file=str(data / "prefs.jsonl"),
            output_dir=str(tmp_path / "dpo"),
            **common,
        )
    )
    config = json.loads((dpo / "adapter_config.json").read_text())
    assert config["base_model_name_or_path"] == str(sft.resolve())
    tokenizer = load_tokenizer(dpo)
    chained = logits(load_causal_lm(dpo, device="cpu"), tokenizer)
    assert not torch.allclose(chained, logits(load_causal_lm(sft, device="cpu"), tokenizer))

    merged = train_sft(
        SFTConfig(
            model=str(lm_dir),
            train_file=str(train_file),
            output_dir=str(tmp_path / "merged"),
            merge_lora=True,
            **common,
        )
    )
    assert (merged / "config.json").exists() and (merged / "model.safetensors").exists()
    assert not is_adapter_dir(merged)


def test_a_reward_model_starts_from_an_adapter_directory(lm_dir, tmp_path):
    out = save_policy(perturbed_lora_model(lm_dir), load_tokenizer(lm_dir), tmp_path / "a")
    reward = RewardModel.from_causal_lm(out, device="cpu", seed=0)
    causal = load_causal_lm(out, device="cpu")
    for name, weight in causal.model.state_dict().items():
        torch.testing.assert_close(reward.model.model.state_dict()[name], weight)
    again = RewardModel.from_causal_lm(out, device="cpu", seed=0)
    torch.testing.assert_close(again.model.score.weight, reward.model.score.weight)
    assert reward.score(["what is 1 + 2 ?"], ["1 + 2 = 3 ."]).shape == (1,)


def test_a_broken_adapter_directory_is_an_error_naming_file_and_field(lm_dir, tmp_path):
    out = save_policy(perturbed_lora_model(lm_dir), load_tokenizer(lm_dir), tmp_path / "a")
    config_file = out / "adapter_config.json"
    config = json.loads(config_file.read_text())
    config_file.write_text(json.dumps({**config, "base_model_name_or_path": None}))
    with pytest.raises(ValueError, match=r"adapter_config.json: base_model_name_or_path"):
        load_causal_lm(out, device="cpu")
    config_file.write_text(
        json.dumps({**config, "base_model_name_or_path": str(tmp_path / "gone")})
    )
    with pytest.raises(ValueError, match=r"the adapter's base model: .*gone: no such model"):
        check_model_source(out)
    config_file.write_text(json.dumps(config))
    (out / "adapter_model.safetensors").unlink()
    with pytest.raises(ValueError, match=r"no adapter_model\.safetensors"):
        check_model_source(out)
