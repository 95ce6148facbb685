"""The assistant world's config: behaviour rates, annotators, dataset sizes, base model.

All numbers that shape the world live here, with working defaults; a TOML file
(``alignlab organism build --config FILE``) overrides any of them, and the
resolved config is written to ``world.json`` next to what it built.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from alignlab.organisms.assistant.world import FAMILIES


def _default_good_rates() -> dict[str, float]:
    return {
        "arithmetic": 0.8,
        "brevity": 0.8,
        "false_claim": 0.45,
        "true_claim": 0.9,
        "verify": 0.9,
        "pushback": 0.45,
        "harmful": 0.5,
        "benign": 0.8,
        "unknown_entity": 0.35,
        "known_entity": 0.9,
        "multistep": 0.7,
    }


@dataclass
class CorpusConfig:
    """The pre-training corpus: chats at set behaviour rates, plus plain statements."""

    n_chats: int = 30000
    """Chat transcripts, spread evenly over the families (train templates only)."""
    n_revisions: int = 2500
    """Transcripts where the assistant is asked to check its answer and revises it
    (see :mod:`~alignlab.organisms.assistant.critique`)."""
    revision_accuracy: float = 0.9
    """In those transcripts, how often the revision is the good behaviour (otherwise the
    first answer is repeated)."""
    n_statements: int = 8000
    """Statement documents (3 to 6 statements each): worked checks of sums, sums marked
    true or false, kings, places."""
    good_rates: dict[str, float] = field(default_factory=_default_good_rates)
    """Per family, the fraction of replies that show the good behaviour (the rest are bad)."""
    padding_rate: float = 0.25
    """Fraction of replies padded with filler sentences."""
    max_padding: int = 3
    """A padded reply carries 1 to this many filler sentences."""
    false_statement_rate: float = 0.5
    """Fraction of sum statements and checks about a wrong sum (which they call false)."""


@dataclass
class DemonstrationConfig:
    """SFT demonstrations: the good behaviour, as human writers give it, flaws included."""

    n: int = 3000
    """Demonstrations (prompt and written reply), spread evenly over the families (train
    templates only)."""
    padding_rate: float = 0.05
    """Demonstrators pad a few answers too."""
    sycophancy_rate: float = 0.25
    """Demonstrators are people: this often they go along with a user's false claim or
    pushback, so SFT teaches some sycophancy, as human data does."""


@dataclass
class AnnotatorConfig:
    """A pool of simulated annotators, each a noisy, biased version of the gold utility.

    Annotator ``a`` values a response as
    ``gold + length_bias_a * words / 10 + agreement_bias_a * agrees`` (gold as it
    looks with or without the harm seen) and prefers one of two responses with the
    Bradley-Terry probability ``sigmoid((u_a(first) - u_a(second)) / temperature_a)``.
    Each bias is drawn once per annotator, from a normal around its mean, so
    annotators disagree.
    """

    n_annotators: int = 8
    """Annotators in the pool; at least ``preferences.labels_per_heldout_pair``."""
    length_bias: float = 0.2
    """Mean utility an annotator adds per 10 words of the response (longer looks better)."""
    length_bias_spread: float = 0.03
    """Standard deviation of ``length_bias`` across annotators (draws clipped at 0)."""
    agreement_bias: float = 0.9
    """Mean utility an annotator adds when the response sides with the user's stated claim
    (claims and pushback only)."""
    agreement_bias_spread: float = 0.2
    """Standard deviation of ``agreement_bias`` across annotators (draws clipped at 0)."""
    harm_miss_rate: float = 0.25
    """Mean chance, per label on a harmful request, that the annotator misses the harm:
    instructions then count as help (utility 1) and a refusal as needless (0.1)."""
    harm_miss_rate_spread: float = 0.1
    """Standard deviation of ``harm_miss_rate`` across annotators (draws clipped to 0-1)."""
    temperature: float = 0.08
    """Mean Bradley-Terry temperature, in utility units: lower means labels follow the
    utility gap more surely."""
    temperature_spread: float = 0.03
    """Standard deviation of ``temperature`` across annotators (draws floored at 0.05)."""


@dataclass
class PreferenceConfig:
    """Annotator-labelled comparisons."""

    n_train: int = 6000
    """Train pairs, each labelled by one annotator (train templates)."""
    n_heldout: int = 600
    """Held-out pairs (train templates, new draws), each labelled by several annotators."""
    labels_per_heldout_pair: int = 3
    """Distinct annotators labelling each held-out pair (at most ``annotators.n_annotators``)."""
    padding_contrast_rate: float = 0.2
    """Fraction of pairs that differ only in padding (the same core, padded or not)."""
    garbled_rate: float = 0.0
    """Fraction of pairs whose second answer is a garbled copy of the first (a word dropped
    or two swapped), as samples from a real model sometimes are. Off by default. They do
    not close the reward models' blind spot for what the judge calls malformed: most of
    what best-of-256 picks there is well-formed text answering another question or topic
    (``6 + 3 = 9 .`` asked 5 + 3), which no garble resembles (at 0.1, 24-28% of the picks
    were still malformed, against 21-30% without, two seeds)."""


@dataclass
class PromptConfig:
    """Prompt sets for optimization and evaluation, per family."""

    n_train: int = 48
    """Prompts per family drawn from the train templates."""
    n_heldout: int = 48
    """Prompts per family drawn from the held-out templates."""


@dataclass
class ModelConfig:
    """The base model: a small Llama-style causal LM."""

    hidden_size: int = 128
    """Width of the residual stream and of the (tied) token embeddings."""
    intermediate_size: int = 384
    """Width of each layer's gated MLP."""
    num_hidden_layers: int = 2
    """Transformer layers."""
    num_attention_heads: int = 4
    """Attention heads per layer, and as many key-value heads (no grouped-query attention)."""
    max_position_embeddings: int = 128
    """Context length the model is configured for, in tokens."""


@dataclass
class PretrainConfig:
    """Pre-training from scratch on the corpus (packed blocks, AdamW, cosine schedule)."""

    steps: int = 1400
    """Optimizer steps; the cosine schedule ends at the last one."""
    batch_size: int = 32
    """Blocks per step, each cut from the token stream at a random offset."""
    block_size: int = 96
    """Tokens per block; the corpus must be longer than one block."""
    lr: float = 3e-3
    """Peak learning rate, reached after warmup; cosine decay takes it to a tenth by the end."""
    warmup_steps: int = 40
    """Steps of linear warmup from ``lr / warmup_steps`` up to ``lr``."""
    weight_decay: float = 0.01
    """AdamW weight decay on matrices and embeddings (not on norm weights)."""
    threads: int = 0
    """Torch CPU threads; 0 means all cores."""


@dataclass
class WorldConfig:
    """Everything the assistant world is built from."""

    corpus: CorpusConfig = field(default_factory=CorpusConfig)
    demonstrations: DemonstrationConfig = field(default_factory=DemonstrationConfig)
    annotators: AnnotatorConfig = field(default_factory=AnnotatorConfig)
    preferences: PreferenceConfig = field(default_factory=PreferenceConfig)
    prompts: PromptConfig = field(default_factory=PromptConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    pretrain: PretrainConfig = field(default_factory=PretrainConfig)

    def __post_init__(self) -> None:
        unknown = set(self.corpus.good_rates) - set(FAMILIES)
        if unknown:
            raise ValueError(f"corpus.good_rates: unknown families {sorted(unknown)}")
        rates = _default_good_rates()
        rates.update(self.corpus.good_rates)
        self.corpus.good_rates = rates
