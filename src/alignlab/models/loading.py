"""Loading HF causal LMs and their tokenizers, with dtype and device chosen sensibly.

A model is named by a local directory or a hub id. Weights are read from
safetensors only (a pickled checkpoint can run code when loaded), and remote
code runs only when the caller asks for it.

A name that exists locally is a local path. A name that does not is looked up
on the hub only when it is plainly a hub id: ``owner/name`` with exactly one
slash, not starting with ``.``, ``/`` or ``~``, and whose ``owner`` is not an
existing local path (``organism/base`` where ``./organism`` exists is a local
model that is missing, not a repository of the hub). Any other missing name is
an error naming the path, never a download.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch
from peft import LoraConfig, get_peft_model
from transformers import AutoModelForCausalLM, AutoTokenizer, PreTrainedModel
from transformers.integrations import is_deepspeed_zero3_enabled
from transformers.tokenization_utils_base import PreTrainedTokenizerBase

from alignlab.models.adapters import MAX_CHAIN, adapter_base, is_adapter_dir, merge_adapter
from alignlab.models.dialogue import FEW_SHOT_TEMPLATE, read_chat_template

_HUB_PART = re.compile(r"[A-Za-z0-9][\w.-]*")
_DTYPES = {
    "float32": torch.float32,
    "fp32": torch.float32,
    "bfloat16": torch.bfloat16,
    "bf16": torch.bfloat16,
    "float16": torch.float16,
    "fp16": torch.float16,
}


@dataclass(frozen=True, slots=True)
class LoraSpec:
    """Low-rank adapters (Hu et al. 2021) to train instead of the full weights.

    Each adapted weight ``W`` becomes ``W + (alpha / r) B A`` with ``A`` of rank ``r``;
    only ``A`` and ``B`` are trained.
    """

    r: int = 16
    """Rank of the update ``B A``."""
    alpha: float = 32.0
    """Scale numerator: the update is multiplied by ``alpha / r``."""
    dropout: float = 0.05
    """Dropout on the adapter's input during training."""
    target_modules: str | tuple[str, ...] = "all-linear"
    """Module names to adapt, or ``"all-linear"`` for every linear layer but the output head."""

    def __post_init__(self) -> None:
        if self.r < 1:
            raise ValueError(f"LoraSpec.r must be >= 1, got {self.r}")
        if self.alpha <= 0:
            raise ValueError(f"LoraSpec.alpha must be > 0, got {self.alpha}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"LoraSpec.dropout must be in [0, 1), got {self.dropout}")


def resolve_device(device: str | torch.device | None = None) -> torch.device:
    """The device to use: ``device`` itself, or the best available (cuda > mps > cpu).

    On CUDA the current device is taken, so that each process launched by
    ``accelerate`` gets its own GPU.
    """
    if device is not None:
        return torch.device(device)
    if torch.cuda.is_available():
        return torch.device("cuda", torch.cuda.current_device())
    if torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def resolve_dtype(dtype: str | torch.dtype, device: torch.device) -> torch.dtype:
    """``"auto"`` is bfloat16 on a CUDA device that supports it and float32 elsewhere."""
    if isinstance(dtype, torch.dtype):
        return dtype
    if dtype == "auto":
        if device.type == "cuda" and torch.cuda.is_bf16_supported():
            return torch.bfloat16
        return torch.float32
    if dtype not in _DTYPES:
        raise ValueError(f"unknown dtype {dtype!r} (expected 'auto' or one of {sorted(_DTYPES)})")
    return _DTYPES[dtype]


def _local_or_hub(name_or_path: str | Path, what: str) -> tuple[str, Path | None]:
    """``(name, directory)`` for an existing directory, ``(name, None)`` for a hub id.

    The one rule every loader follows (see the module docstring): a name that does not
    exist locally is a hub id only if it is ``owner/name`` (one slash, no ``..``, not
    starting with ``.``, ``/`` or ``~``) and ``owner`` does not exist locally; any other
    missing name is a ``FileNotFoundError`` naming it.
    """
    name = str(name_or_path)
    path = Path(name).expanduser()
    if path.exists():
        if not path.is_dir():
            raise NotADirectoryError(f"{name}: is a file, expected a {what} directory")
        return str(path), path
    missing = f"{name}: no such {what} directory"
    parts = name.split("/")
    if len(parts) == 1 and _HUB_PART.fullmatch(name):
        raise FileNotFoundError(f"{missing} (a hub model is named owner/name)")
    if (
        name.startswith((".", "/", "~"))
        or len(parts) != 2
        or ".." in name
        or not all(_HUB_PART.fullmatch(part) for part in parts)
    ):
        raise FileNotFoundError(missing)
    if Path(parts[0]).exists():
        raise FileNotFoundError(
            f"{missing}; {parts[0]}/ exists here, so {name} is a local path, not a hub id"
        )
    return name, None


def _cannot_load(name: str, what: str, error: Exception) -> ValueError:
    where = "" if Path(name).exists() else " (not a local directory; asked the hub)"
    return ValueError(f"{name}: cannot load {what}{where}: {error}")


def check_model_source(name_or_path: str | Path) -> str:
    """Check that ``name_or_path`` can name a model; return it as a string.

    An existing path must be a directory with a ``config.json`` and safetensors
    weights, or a LoRA adapter directory (:mod:`~alignlab.models.adapters`) whose base
    passes this check in turn. A name that does not exist locally must be plainly a hub
    id (``owner/name``, by the rule of the module docstring).
    """
    name, path = _local_or_hub(name_or_path, "model")
    chain = [name]
    while path is not None and is_adapter_dir(path):
        if len(chain) > MAX_CHAIN:
            raise ValueError(f"{name}: adapters on adapters, more than {MAX_CHAIN}: {chain}")
        try:
            base, path = _local_or_hub(adapter_base(path), "model")
        except (FileNotFoundError, NotADirectoryError) as error:
            raise ValueError(f"{chain[-1]}: the adapter's base model: {error}") from None
        chain.append(base)
    if path is not None:
        if not (path / "config.json").is_file():
            raise ValueError(
                f"{chain[-1]}: not a model directory (no config.json, no adapter_config.json)"
            )
        if not any(path.glob("*.safetensors")):
            raise ValueError(
                f"{chain[-1]}: no safetensors weights (alignlab loads *.safetensors only; "
                "convert pickled checkpoints with save_pretrained)"
            )
    return name


def load_tokenizer(
    name_or_path: str | Path,
    *,
    trust_remote_code: bool = False,
    padding_side: str | None = None,
    chat_template: str | Path | None = None,
) -> PreTrainedTokenizerBase:
    """Load a tokenizer; give it a pad token (its eos) when it has none.

    The pad token is always an existing token, so the vocabulary size never
    changes and the model's embeddings stay valid. ``chat_template`` (a Jinja file)
    replaces the tokenizer's own template; a tokenizer with none gets the base-model
    dialogue format of :mod:`~alignlab.models.dialogue`, with a warning that says so.
    """
    if padding_side not in (None, "left", "right"):
        raise ValueError(f"padding_side must be 'left' or 'right', got {padding_side!r}")
    name, _ = _local_or_hub(name_or_path, "tokenizer")
    try:
        tokenizer = AutoTokenizer.from_pretrained(name, trust_remote_code=trust_remote_code)
    except (OSError, ValueError) as error:
        raise _cannot_load(name, "a tokenizer", error) from error
    if tokenizer.pad_token_id is None:
        if tokenizer.eos_token_id is None:
            raise ValueError(f"{name}: tokenizer has neither a pad token nor an eos token")
        tokenizer.pad_token = tokenizer.eos_token
    if chat_template is not None:
        tokenizer.chat_template = read_chat_template(chat_template)
    elif not getattr(tokenizer, "chat_template", None):
        warnings.warn(
            f"{name}: the tokenizer has no chat template; using alignlab's few-shot dialogue "
            "format for base models (alignlab.models.dialogue; pass --chat-template FILE "
            "for your own)",
            stacklevel=2,
        )
        tokenizer.chat_template = FEW_SHOT_TEMPLATE
    if padding_side is not None:
        tokenizer.padding_side = padding_side
    return tokenizer


def wrap_lora(model: PreTrainedModel, lora: LoraSpec, *, task_type: str = "CAUSAL_LM"):
    """Freeze ``model`` and add trainable LoRA adapters (``peft``)."""
    target = lora.target_modules
    config = LoraConfig(
        r=lora.r,
        lora_alpha=lora.alpha,
        lora_dropout=lora.dropout,
        target_modules=target if isinstance(target, str) else list(target),
        task_type=task_type,
    )
    return get_peft_model(model, config)


def load_causal_lm(
    name_or_path: str | Path,
    *,
    dtype: str | torch.dtype = "auto",
    device: str | torch.device | None = None,
    trust_remote_code: bool = False,
    lora: LoraSpec | None = None,
):
    """Load a causal LM from safetensors onto ``device`` in ``dtype``, with LoRA if asked.

    Returns the model in eval mode; with ``lora`` it is a ``peft`` model whose
    base weights are frozen. An adapter directory loads as its base with the adapter
    merged in (:func:`~alignlab.models.adapters.merge_adapter`); ``lora`` then trains new
    adapters on top of that merged model.
    """
    source = check_model_source(name_or_path)
    if is_adapter_dir(source):
        base = load_causal_lm(
            adapter_base(source), dtype=dtype, device=device, trust_remote_code=trust_remote_code
        )
        model = merge_adapter(base, source)
        if lora is not None:
            model = wrap_lora(model, lora)
        model.eval()
        return model
    target = resolve_device(device)
    kwargs = {}
    # Under DeepSpeed ZeRO-3 the engine places (and shards) the weights itself.
    if not is_deepspeed_zero3_enabled():
        kwargs["device_map"] = {"": target}
    try:
        model = AutoModelForCausalLM.from_pretrained(
            source,
            dtype=resolve_dtype(dtype, target),
            trust_remote_code=trust_remote_code,
            use_safetensors=True,
            **kwargs,
        )
    except (OSError, ValueError) as error:
        raise _cannot_load(source, "a causal LM", error) from error
    if lora is not None:
        model = wrap_lora(model, lora)
    model.eval()
    return model
