"""Language models and reward models: loading, token sequences, generation, scoring.

``loading`` reads HF causal LMs and tokenizers (LoRA optional), ``sequences``
turns records into token tensors and log-probs, ``generation`` samples
responses, ``reward`` holds reward models and their ensembles, ``backends``
serves models to evaluation and AI feedback (local HF or an OpenAI-compatible
endpoint), and ``served`` turns a server's responses into the generations local
sampling gives.

Names are imported on first use, so ``alignlab.models.backends`` (HTTP only)
does not pull in torch and transformers.
"""

from importlib import import_module

_EXPORTS = {
    "generation": ("Generation", "generate", "generate_samples", "stop_token_ids"),
    "loading": ("LoraSpec", "load_causal_lm", "load_tokenizer", "resolve_device", "resolve_dtype"),
    "reward": ("EnsembleScores", "RewardEnsemble", "RewardModel"),
    "served": ("generate_served", "served_generation"),
    "reward_fns": ("RewardFn", "batched", "resolve_judge", "resolve_reward"),
    "sequences": (
        "EncodedPair",
        "collate",
        "encode_pair",
        "encode_pairs",
        "encode_prompt",
        "encode_prompts",
        "response_token_logps",
        "sequence_logps",
        "truncate_pair",
    ),
}
_MODULE_OF = {name: module for module, names in _EXPORTS.items() for name in names}
__all__ = sorted(_MODULE_OF)


def __getattr__(name: str):
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module 'alignlab.models' has no attribute {name!r}")
    value = getattr(import_module(f"alignlab.models.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
