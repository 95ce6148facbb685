"""Reward models: a language-model backbone with a scalar head, and ensembles of them.

A reward model reads the prompt and response rendered exactly as
:func:`~alignlab.models.sequences.encode_pair` renders them (chat template when
there is one) and outputs ``r(x, y)``, the head applied to the hidden state of the
last non-pad token (Stiennon et al. 2020; Ouyang et al. 2022). Batches are
right-padded with the tokenizer's pad token, which is also the model config's, so
the token read is the same however a sequence is batched. When the pad token is
EOS, the trailing EOS counts as padding and the token before it is read.
"""

from __future__ import annotations

import contextlib
import copy
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor
from transformers import AutoModelForSequenceClassification, PreTrainedModel
from transformers.integrations import is_deepspeed_zero3_enabled
from transformers.tokenization_utils_base import PreTrainedTokenizerBase

from alignlab.data.records import Text
from alignlab.models.adapters import is_adapter_dir
from alignlab.models.generation import seeded
from alignlab.models.loading import (
    check_model_source,
    load_causal_lm,
    load_tokenizer,
    resolve_device,
    resolve_dtype,
)
from alignlab.models.sequences import EncodedPair, collate, encode_pairs


@contextlib.contextmanager
def _quiet_load_report() -> Iterator[None]:
    """Silence transformers' load report; the caller checks the loading info itself."""
    logger = logging.getLogger("transformers.modeling_utils")

    def drop(record: logging.LogRecord) -> bool:
        return False

    logger.addFilter(drop)
    try:
        yield
    finally:
        logger.removeFilter(drop)


def _load_classifier(
    source: str,
    *,
    dtype: str | torch.dtype,
    device: str | torch.device | None,
    trust_remote_code: bool,
    num_labels: int | None = None,
) -> tuple[PreTrainedModel, list[str]]:
    """Load a sequence-classification model; return it and the weights it had to initialize."""
    target = resolve_device(device)
    kwargs = {} if num_labels is None else {"num_labels": num_labels}
    if not is_deepspeed_zero3_enabled():
        kwargs["device_map"] = {"": target}
    try:
        with _quiet_load_report():
            model, info = AutoModelForSequenceClassification.from_pretrained(
                source,
                dtype=resolve_dtype(dtype, target),
                trust_remote_code=trust_remote_code,
                use_safetensors=True,
                output_loading_info=True,
                **kwargs,
            )
    except (OSError, ValueError) as error:
        raise ValueError(f"{source}: cannot load as a reward model: {error}") from error
    return model, sorted(info["missing_keys"])


def _classifier_from_adapter(
    source: str,
    *,
    dtype: str | torch.dtype,
    device: str | torch.device | None,
    trust_remote_code: bool,
    seed: int | None,
) -> PreTrainedModel:
    """A one-output classifier whose backbone is the merged model of adapter dir ``source``."""
    causal = load_causal_lm(source, dtype=dtype, device=device, trust_remote_code=trust_remote_code)
    config = copy.deepcopy(causal.config)
    config.num_labels, config.architectures = 1, None
    target = resolve_device(device)
    with seeded(seed, target):
        model = AutoModelForSequenceClassification.from_config(
            config, dtype=next(causal.parameters()).dtype, trust_remote_code=trust_remote_code
        )
    model.base_model.load_state_dict(causal.base_model.state_dict())
    model.name_or_path = source
    return model.to(target)


class RewardModel(torch.nn.Module):
    """``r(x, y)``: an HF sequence-classification model with one output, and its tokenizer."""

    def __init__(self, model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase):
        super().__init__()
        if model.config.num_labels != 1:
            raise ValueError(
                f"a reward model has one output (num_labels=1), got {model.config.num_labels}"
            )
        if tokenizer.pad_token_id is None:
            raise ValueError("tokenizer has no pad token: load it with load_tokenizer to set one")
        model.config.pad_token_id = tokenizer.pad_token_id
        self.model = model
        self.tokenizer = tokenizer

    @classmethod
    def from_causal_lm(
        cls,
        name_or_path: str | Path,
        *,
        dtype: str | torch.dtype = "auto",
        device: str | torch.device | None = None,
        trust_remote_code: bool = False,
        seed: int | None = None,
    ) -> RewardModel:
        """A reward model whose backbone is a causal LM's and whose scalar head is fresh.

        The head's initialization is reproducible under ``seed``. The causal LM may be a
        LoRA adapter directory; its backbone is then the base with the adapter merged.
        """
        source = check_model_source(name_or_path)
        if is_adapter_dir(source):
            model = _classifier_from_adapter(
                source, dtype=dtype, device=device, trust_remote_code=trust_remote_code, seed=seed
            )
            return cls(model, load_tokenizer(source, trust_remote_code=trust_remote_code))
        with seeded(seed, resolve_device(device)):
            model, missing = _load_classifier(
                source,
                dtype=dtype,
                device=device,
                trust_remote_code=trust_remote_code,
                num_labels=1,
            )
        prefix = f"{model.base_model_prefix}."
        backbone_missing = [k for k in missing if k.startswith(prefix)]
        if backbone_missing:
            raise ValueError(
                f"{name_or_path}: the language model lacks backbone weights the reward model "
                f"needs: {backbone_missing[:5]}"
            )
        tokenizer = load_tokenizer(source, trust_remote_code=trust_remote_code)
        return cls(model, tokenizer)

    @classmethod
    def load(
        cls,
        path: str | Path,
        *,
        dtype: str | torch.dtype = "auto",
        device: str | torch.device | None = None,
        trust_remote_code: bool = False,
    ) -> RewardModel:
        """Load a reward model written by :meth:`save`."""
        source = check_model_source(path)
        model, missing = _load_classifier(
            source, dtype=dtype, device=device, trust_remote_code=trust_remote_code
        )
        if missing:
            raise ValueError(
                f"{path}: not a saved reward model (no weights for {missing[:5]}); "
                "start one from a language model with RewardModel.from_causal_lm"
            )
        return cls(model, load_tokenizer(source, trust_remote_code=trust_remote_code))

    def save(self, path: str | Path) -> None:
        """Write an HF model directory (safetensors) with the tokenizer: always full weights,
        never a LoRA adapter (the scalar head is trained whole, and a reward directory is
        read as one model), so a LoRA reward run merges its adapters before it saves."""
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        self.model.save_pretrained(path)
        self.tokenizer.save_pretrained(path)

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def forward(self, batch: dict[str, Tensor]) -> Tensor:
        """Rewards ``[B]`` of a right-padded batch from :func:`~alignlab.models.sequences.collate`."""
        input_ids = batch["input_ids"].to(self.device)
        attention_mask = batch["attention_mask"].to(self.device)
        if bool((attention_mask[:, 0] == 0).any()):
            raise ValueError(
                "reward model batches must be right-padded (collate padding_side='right')"
            )
        output = self.model(input_ids=input_ids, attention_mask=attention_mask, use_cache=False)
        return output.logits.squeeze(-1)

    def encode(
        self, prompts: Sequence[Text], responses: Sequence[Text], *, max_length: int | None = None
    ) -> list[EncodedPair]:
        """The pairs this model scores, encoded as training sees them."""
        return encode_pairs(self.tokenizer, prompts, responses, max_length=max_length)

    def score(
        self,
        prompts: Sequence[Text],
        responses: Sequence[Text],
        *,
        batch_size: int = 32,
        max_length: int | None = None,
    ) -> Tensor:
        """Rewards ``[N]`` (float32, on the CPU) of the pairs ``(prompts[i], responses[i])``."""
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        pairs = self.encode(prompts, responses, max_length=max_length)
        order = sorted(range(len(pairs)), key=lambda i: len(pairs[i].input_ids))
        rewards = torch.empty(len(pairs), dtype=torch.float32)
        was_training = self.training
        self.eval()
        try:
            with torch.inference_mode():
                for start in range(0, len(order), batch_size):
                    chunk = order[start : start + batch_size]
                    batch = collate([pairs[i] for i in chunk], self.tokenizer.pad_token_id)
                    rewards[chunk] = self(batch).float().cpu()
        finally:
            self.train(was_training)
        return rewards


@dataclass(frozen=True, slots=True)
class EnsembleScores:
    """Rewards of ``K`` ensemble members on ``N`` pairs, and their mean and spread.

    ``std`` is the sample standard deviation across members (0 for one member).
    """

    mean: Tensor
    std: Tensor
    members: Tensor

    @classmethod
    def from_members(cls, members: Tensor) -> EnsembleScores:
        if members.dim() != 2 or members.shape[0] < 1:
            raise ValueError(
                f"members must be [K, N] with K >= 1, got shape {tuple(members.shape)}"
            )
        std = torch.zeros_like(members[0]) if members.shape[0] == 1 else members.std(dim=0)
        return cls(members.mean(dim=0), std, members)

    def conservative(self, k: float = 1.0) -> Tensor:
        """``mean - k * std``: uncertainty-penalized reward (Coste et al. 2023)."""
        return self.mean - k * self.std

    def worst_case(self) -> Tensor:
        """``min_k r_k``: worst-case reward over the members (Coste et al. 2023)."""
        return self.members.min(dim=0).values


class RewardEnsemble:
    """Several reward models scoring the same pairs; their disagreement measures uncertainty."""

    def __init__(self, members: Sequence[RewardModel]):
        if not members:
            raise ValueError("a reward ensemble needs at least one member")
        self.members = list(members)

    def __len__(self) -> int:
        return len(self.members)

    @classmethod
    def load(
        cls,
        directory: str | Path,
        *,
        dtype: str | torch.dtype = "auto",
        device: str | torch.device | None = None,
        trust_remote_code: bool = False,
    ) -> RewardEnsemble:
        """Load the members saved in ``member_0/``, ``member_1/``, ... of ``directory``."""
        directory = Path(directory)
        if not directory.is_dir():
            raise FileNotFoundError(f"{directory}: no such ensemble directory")
        members = []
        while (directory / f"member_{len(members)}").is_dir():
            member_dir = directory / f"member_{len(members)}"
            members.append(
                RewardModel.load(
                    member_dir, dtype=dtype, device=device, trust_remote_code=trust_remote_code
                )
            )
        if not members:
            raise ValueError(f"{directory}: not a reward ensemble (no member_0/ directory)")
        return cls(members)

    def save(self, directory: str | Path) -> None:
        """Write each member to ``directory/member_<k>/``."""
        directory = Path(directory)
        for k, member in enumerate(self.members):
            member.save(directory / f"member_{k}")

    def score(
        self,
        prompts: Sequence[Text],
        responses: Sequence[Text],
        *,
        batch_size: int = 32,
        max_length: int | None = None,
    ) -> EnsembleScores:
        """Every member's rewards ``[K, N]`` of the pairs, with their mean and spread."""
        members = torch.stack(
            [
                m.score(prompts, responses, batch_size=batch_size, max_length=max_length)
                for m in self.members
            ]
        )
        return EnsembleScores.from_members(members)
