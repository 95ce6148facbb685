"""Where preference labels come from without human labellers: Constitutional AI.

``constitution`` reads constitutions (principles with critique, revision and comparison
requests; ``default`` for chat models and ``organism`` for the assistant world ship with
alignlab), ``revise`` runs critique and revision (SL-CAI) into supervised data, and
``label`` asks a feedback model to compare pairs (RL-CAI, RLAIF) into soft-labelled
comparisons. Models are called through the :class:`~alignlab.models.backends.Backend`
protocol, so local models and OpenAI-compatible endpoints work alike.
"""

from alignlab.feedback.backend import ModelSpec, open_backend
from alignlab.feedback.constitution import (
    BUILTIN,
    ComparisonLayout,
    Constitution,
    ConstitutionError,
    Principle,
    Turn,
    load_constitution,
    parse_constitution,
)
from alignlab.feedback.items import PairItem, PromptItem, read_pairs, read_prompts, sample_pairs
from alignlab.feedback.journal import Journal, ResumeError
from alignlab.feedback.label import LabelConfig, label_chunk, label_pairs, run_label
from alignlab.feedback.revise import (
    ReviseConfig,
    critique_revise,
    rejected_path,
    revise_chunk,
    run_revise,
    summary,
)

__all__ = [
    "BUILTIN",
    "ComparisonLayout",
    "Constitution",
    "ConstitutionError",
    "Journal",
    "LabelConfig",
    "ModelSpec",
    "PairItem",
    "Principle",
    "PromptItem",
    "ResumeError",
    "ReviseConfig",
    "Turn",
    "critique_revise",
    "label_chunk",
    "label_pairs",
    "load_constitution",
    "open_backend",
    "parse_constitution",
    "read_pairs",
    "read_prompts",
    "rejected_path",
    "revise_chunk",
    "run_label",
    "run_revise",
    "sample_pairs",
    "summary",
]
