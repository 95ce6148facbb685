import pytest
import torch

from alignlab.models import loading
from alignlab.models.loading import (
    LoraSpec,
    check_model_source,
    load_causal_lm,
    load_tokenizer,
    resolve_device,
    resolve_dtype,
)
from tiny_models import build_tokenizer, write_tiny_causal_lm


def test_load_tokenizer_keeps_existing_pad(lm_dir):
    tokenizer = load_tokenizer(lm_dir)
    assert tokenizer.pad_token == "<pad>"
    assert tokenizer.chat_template is not None


def test_load_tokenizer_pads_with_eos_without_growing_vocab(tmp_path):
    build_tokenizer(pad_token=False).save_pretrained(tmp_path)
    tokenizer = load_tokenizer(tmp_path)
    assert tokenizer.pad_token_id == tokenizer.eos_token_id
    assert len(tokenizer) == len(build_tokenizer(pad_token=False))


def test_load_tokenizer_sets_padding_side(lm_dir):
    assert load_tokenizer(lm_dir, padding_side="left").padding_side == "left"
    with pytest.raises(ValueError, match="padding_side"):
        load_tokenizer(lm_dir, padding_side="middle")


def test_load_causal_lm_on_cpu_in_float32_eval_mode(lm_dir):
    model = load_causal_lm(lm_dir, device="cpu")
    assert model.dtype == torch.float32
    assert next(model.parameters()).device.type == "cpu"
    assert not model.training


def test_load_causal_lm_explicit_dtype(lm_dir):
    assert load_causal_lm(lm_dir, device="cpu", dtype="bfloat16").dtype == torch.bfloat16


def test_resolve_dtype_and_device():
    cpu = torch.device("cpu")
    assert resolve_dtype("auto", cpu) == torch.float32
    assert resolve_dtype(torch.float16, cpu) == torch.float16
    assert resolve_device("cpu") == cpu
    with pytest.raises(ValueError, match="unknown dtype 'float8'"):
        resolve_dtype("float8", cpu)


def test_missing_path_is_named(tmp_path):
    missing = tmp_path / "nowhere"
    with pytest.raises(FileNotFoundError, match="nowhere: no such model directory"):
        load_causal_lm(missing)
    with pytest.raises(FileNotFoundError, match="no such tokenizer directory"):
        load_tokenizer(missing)


@pytest.fixture
def no_hub(monkeypatch):
    """Any hub lookup fails the test: the names below must never reach one."""

    def refuse(name, *args, **kwargs):
        raise AssertionError(f"asked the hub for {name}")

    monkeypatch.setattr(loading.AutoTokenizer, "from_pretrained", refuse)
    monkeypatch.setattr(loading.AutoModelForCausalLM, "from_pretrained", refuse)


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("gpt-nowhere", r"gpt-nowhere: no such model directory \(a hub model is named owner/name"),
        ("runs/sft/model", r"runs/sft/model: no such model directory$"),
        ("./organism/base", r"\./organism/base: no such model directory$"),
        ("~/nowhere/model", r"~/nowhere/model: no such model directory$"),
        ("owner/../base", r"no such model directory$"),
        ("owner/ba se", r"no such model directory$"),
    ],
)
def test_a_missing_name_that_is_not_plainly_a_hub_id_is_never_looked_up(
    name, message, tmp_path, monkeypatch, no_hub
):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(FileNotFoundError, match=message):
        load_causal_lm(name)
    with pytest.raises(FileNotFoundError, match="no such tokenizer directory"):
        load_tokenizer(name)


def test_a_missing_model_under_an_existing_directory_is_a_local_path(tmp_path, monkeypatch, no_hub):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "organism").mkdir()
    with pytest.raises(FileNotFoundError) as caught:
        load_causal_lm("organism/base")
    assert str(caught.value) == (
        "organism/base: no such model directory; organism/ exists here, "
        "so organism/base is a local path, not a hub id"
    )
    with pytest.raises(FileNotFoundError, match="organism/base: no such tokenizer directory"):
        load_tokenizer("organism/base")


def test_only_a_plain_owner_slash_name_goes_to_the_hub(tmp_path, monkeypatch, no_hub):
    monkeypatch.chdir(tmp_path)
    # No ./organism here: organism/base can only be a hub id, and is checked as one.
    assert check_model_source("organism/base") == "organism/base"
    assert check_model_source("Qwen/Qwen2.5-0.5B") == "Qwen/Qwen2.5-0.5B"
    with pytest.raises(AssertionError, match=r"asked the hub for Qwen/Qwen2\.5-0\.5B"):
        load_tokenizer("Qwen/Qwen2.5-0.5B")


def test_a_failed_hub_load_says_it_was_not_a_local_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)

    def offline(name, *args, **kwargs):
        raise OSError("we could not connect")

    monkeypatch.setattr(loading.AutoTokenizer, "from_pretrained", offline)
    with pytest.raises(ValueError, match=r"not a local directory; asked the hub\): we could"):
        load_tokenizer("owner/model")


def test_file_is_not_a_model_directory(tmp_path):
    path = tmp_path / "weights.txt"
    path.write_text("x")
    with pytest.raises(NotADirectoryError, match="expected a model directory"):
        load_causal_lm(path)


def test_directory_without_config(tmp_path):
    with pytest.raises(
        ValueError, match=r"not a model directory \(no config.json, no adapter_config.json\)"
    ):
        load_causal_lm(tmp_path)


def test_directory_without_safetensors(tmp_path):
    write_tiny_causal_lm(tmp_path)
    (tmp_path / "model.safetensors").unlink()
    with pytest.raises(ValueError, match="no safetensors weights"):
        load_causal_lm(tmp_path)


def test_lora_freezes_base_weights_and_starts_as_the_base_model(lm_dir):
    base = load_causal_lm(lm_dir, device="cpu")
    model = load_causal_lm(lm_dir, device="cpu", lora=LoraSpec(r=4, alpha=8, dropout=0.0))
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    frozen = {n for n, p in model.named_parameters() if not p.requires_grad}
    assert trainable and all("lora_" in n for n in trainable)
    assert frozen and not any("lora_" in n for n in frozen)
    # Every linear layer of the blocks is adapted; the output head is not.
    assert any("q_proj.lora_A" in n for n in trainable)
    assert any("down_proj.lora_B" in n for n in trainable)
    assert not any("lm_head" in n for n in trainable)
    input_ids = torch.tensor([[1, 5, 24, 25, 2, 6]])
    with torch.no_grad():
        assert torch.allclose(model(input_ids).logits, base(input_ids).logits, atol=1e-6)


def test_lora_spec_rejects_bad_values():
    with pytest.raises(ValueError, match=r"LoraSpec\.r"):
        LoraSpec(r=0)
    with pytest.raises(ValueError, match=r"LoraSpec\.dropout"):
        LoraSpec(dropout=1.0)


def test_reward_loaders_follow_the_same_rule(tmp_path, monkeypatch, no_hub):
    from alignlab.models.reward import RewardModel
    from alignlab.models.reward_fns import resolve_reward

    monkeypatch.chdir(tmp_path)
    (tmp_path / "organism").mkdir()
    for load in (RewardModel.load, RewardModel.from_causal_lm):
        with pytest.raises(FileNotFoundError, match="organism/rm: no such model directory; "):
            load("organism/rm")
    # A reward spec names a local directory or a function, never a hub repository.
    with pytest.raises(ValueError, match="names no reward"):
        resolve_reward("owner/rm")
