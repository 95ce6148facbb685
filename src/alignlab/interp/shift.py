"""The token-distribution shift of alignment (Lin et al. 2023, "The Unlocking Spell on Base
LLMs", URIAL): how far an aligned model's answers move off its base model's distribution.

An aligned model answers a prompt greedily; at each position t of its answer y, the base
model (same tokenizer) is given the same prefix, prompt + y_<t, and the aligned token y_t
gets its **rank** under the base's next-token logits z:

    rank_min(y_t) = 1 + #{v : z_v > z_{y_t}}        (ties: the best rank, "min")
    rank_max(y_t) = #{v : z_v >= z_{y_t}}           (ties: the worst rank, "max")

so a token tied with others shares their best (``min``, the default) or worst (``max``)
place; a tie with the top token is rank 1 under ``min`` and not under ``max``. Logits are
compared, not probabilities, so no softmax rounding makes ties. A position is

    unshifted: rank 1,  marginal: rank 2-3,  shifted: rank > 3          (:data:`BANDS`)

URIAL finds most positions unshifted and the shifted ones stylistic (discourse markers,
safety disclaimers, "Thank you", "However"), not knowledge. Which tokens are stylistic is a
rule of :mod:`alignlab.interp.shift_tokens` (each token gets a category, stylistic or not).

**Intervals.** Positions of one answer share its prompt and its earlier tokens, so they are
not independent. A share here is the pooled share of positions (URIAL's count), with a
percentile bootstrap over *answers* (:func:`over_answers`: each replicate redraws whole
answers and recomputes the pooled ratio, through :func:`~alignlab.stats.bootstrap_ci`),
widened where needed to cover the Clopper-Pearson interval of the pooled count (so a pool
of few alike answers, or one all in or all out of the band, never gets a point).
:func:`shift_shares` with ``clustering="positions"`` gives that Clopper-Pearson interval
alone, which treats positions as independent (:func:`~alignlab.stats.rate`): for
comparison, and too narrow where answers differ.

:func:`score_answers` runs both models over a batch of answers (CPU, float32, batched
forward passes; the base's ranks, its top token, and the aligned model's own rank of its
token, which greedy decoding makes 1 up to float noise: the pipeline's check).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from alignlab.interp.shift_tokens import STYLISTIC
from alignlab.models.adapters import adapter_base, is_adapter_dir, merge_adapter
from alignlab.models.loading import load_causal_lm
from alignlab.models.sequences import EncodedPair, collate, forward_logits
from alignlab.registry import registrar
from alignlab.stats import Estimate, bootstrap_ci, clopper_pearson, rate

BANDS = {"unshifted": (1, 1), "marginal": (2, 3), "shifted": (4, None)}
"""URIAL's bands of the base rank, ``(lowest, highest)`` inclusive (``None``: no bound)."""

# --- ranks -----------------------------------------------------------------------------

TieRule = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
TIE_RULES: dict[str, TieRule] = {}


register_tie_rule = registrar(TIE_RULES, "tie rule")
"""Register how a token's rank counts the tokens whose logit equals its own."""


@register_tie_rule("min")
def _min_rank(logits: torch.Tensor, own: torch.Tensor) -> torch.Tensor:
    """``1 + #{z_v > z_y}``: tied tokens share the best of their places."""
    return 1 + (logits > own).sum(-1)


@register_tie_rule("max")
def _max_rank(logits: torch.Tensor, own: torch.Tensor) -> torch.Tensor:
    """``#{z_v >= z_y}``: tied tokens share the worst of their places."""
    return (logits >= own).sum(-1)


def token_ranks(logits: torch.Tensor, tokens: torch.Tensor, ties: str = "min") -> torch.Tensor:
    """Rank (1 = the top) of ``tokens[...]`` under ``logits[..., V]``, ties by ``ties``."""
    if ties not in TIE_RULES:
        raise ValueError(f"ties: unknown {ties!r}; known: {', '.join(sorted(TIE_RULES))}")
    if logits.shape[:-1] != tokens.shape:
        raise ValueError(f"logits {tuple(logits.shape)} do not fit tokens {tuple(tokens.shape)}")
    own = logits.gather(-1, tokens.long().unsqueeze(-1))
    return TIE_RULES[ties](logits, own)


def band_mask(ranks, band: str) -> np.ndarray:
    """Whether each rank lies in ``band`` of :data:`BANDS`."""
    if band not in BANDS:
        raise ValueError(f"band: unknown {band!r}; known: {', '.join(BANDS)}")
    ranks = np.asarray(ranks, dtype=int)
    lo, hi = BANDS[band]
    return (ranks >= lo) & (ranks <= (hi if hi is not None else np.iinfo(int).max))


# --- answers and their shares -----------------------------------------------------------


@dataclass(frozen=True)
class AnswerShift:
    """One aligned answer, position by position, under the base model."""

    id: str
    """The prompt's id."""
    family: str
    """The prompt's family (its record's ``meta.family`` or ``meta.suite``, or its file)."""
    tokens: list[str]
    """The aligned model's tokens, decoded one by one."""
    ranks: list[int]
    """The base model's rank of each aligned token (1 = its top token)."""
    base_top: list[str]
    """The base model's top token at each position."""
    self_ranks: list[int]
    """The aligned model's own rank of each of its tokens (1 under greedy decoding)."""
    categories: list[str]
    """Each aligned token's category (:mod:`~alignlab.interp.shift_tokens`)."""

    def to_dict(self) -> dict:
        return asdict(self)


def without_end(answer: AnswerShift) -> AnswerShift:
    """``answer`` without its ``end`` positions (special tokens: the end of turn)."""
    keep = [i for i, c in enumerate(answer.categories) if c != "end"]
    fields = ("tokens", "ranks", "base_top", "self_ranks", "categories")
    picked = {f: [getattr(answer, f)[i] for i in keep] for f in fields}
    return AnswerShift(id=answer.id, family=answer.family, **picked)


def over_answers(hits: Sequence, *, seed: int = 0, n_resamples: int = 2000) -> Estimate:
    """Pooled share of 1s in ``hits`` (one 0/1 array per answer), with a percentile bootstrap
    over answers (module docstring); answers with no positions drop out, ``n`` counts
    positions. The interval is the union of the bootstrap's and the pooled count's
    Clopper-Pearson interval: clustering only adds uncertainty to positions taken as
    independent, and a bootstrap over few alike answers (or all 0s, all 1s) would give a
    point."""
    arrays = [np.asarray(h, dtype=float) for h in hits]
    arrays = [a for a in arrays if a.size]
    if not arrays:
        return Estimate(float("nan"), 0, float("nan"), float("nan"))
    num = np.array([a.sum() for a in arrays])
    den = np.array([a.size for a in arrays], dtype=float)
    n, count = int(den.sum()), float(num.sum())
    cp_lo, cp_hi = (float(b) for b in clopper_pearson(count, n))

    def pooled(resampled: np.ndarray, axis: int = -1) -> np.ndarray:
        picks = resampled.astype(int)
        return num[picks].sum(axis=axis) / den[picks].sum(axis=axis)

    est = bootstrap_ci(
        np.arange(len(arrays), dtype=float), pooled, n_resamples=n_resamples, seed=seed
    )
    return Estimate(est.value, n, min(est.lo, cp_lo), max(est.hi, cp_hi))


def shift_shares(answers: Sequence[AnswerShift], clustering: str = "answers") -> dict:
    """Share of positions in each band of :data:`BANDS`: ``clustering="answers"`` bootstraps
    over answers (:func:`over_answers`), ``"positions"`` takes positions as independent
    (Clopper-Pearson of the pooled count)."""
    if clustering not in ("answers", "positions"):
        raise ValueError(f"clustering: expected 'answers' or 'positions', got {clustering!r}")
    shares = {}
    for band in BANDS:
        hits = [band_mask(a.ranks, band) for a in answers]
        if clustering == "answers":
            shares[band] = over_answers(hits)
        else:
            shares[band] = rate(np.concatenate(hits) if hits else np.array([]))
    return shares


def stylistic_share(answers: Sequence[AnswerShift], band: str = "shifted") -> Estimate:
    """Share of the positions in ``band`` whose aligned token is :data:`STYLISTIC`, clustered
    over answers (:func:`over_answers`)."""
    hits = []
    for a in answers:
        inside = band_mask(a.ranks, band)
        hits.append(np.array([c in STYLISTIC for c in a.categories], dtype=bool)[inside])
    return over_answers(hits)


def top_shifted(answers: Sequence[AnswerShift], k: int = 10, band: str = "shifted") -> list[dict]:
    """The ``k`` aligned tokens most often in ``band`` (count of such positions, then the
    token), each with its category and the base's most frequent top token at those
    positions (``base_top``, with how often it was the top, ``base_top_count``)."""
    counts: Counter = Counter()
    tops: dict[str, Counter] = {}
    category: dict[str, str] = {}
    for a in answers:
        for token, top, cat, shifted in zip(
            a.tokens, a.base_top, a.categories, band_mask(a.ranks, band), strict=True
        ):
            if shifted:
                counts[token] += 1
                tops.setdefault(token, Counter())[top] += 1
                category[token] = cat
    ordered = sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:k]
    return [
        {
            "token": token,
            "count": count,
            "category": category[token],
            "base_top": tops[token].most_common(1)[0][0],
            "base_top_count": tops[token].most_common(1)[0][1],
        }
        for token, count in ordered
    ]


def by_family(answers: Sequence[AnswerShift]) -> dict[str, list[AnswerShift]]:
    """The answers grouped by prompt family, families in order of first appearance."""
    groups: dict[str, list[AnswerShift]] = {}
    for a in answers:
        groups.setdefault(a.family, []).append(a)
    return groups


# --- the models -------------------------------------------------------------------------


def load_lm(path: str | Path, fallback_base: str | Path | None = None):
    """A causal LM (CPU, float32) from a model or LoRA adapter directory. An adapter chain
    whose recorded base (``base_model_name_or_path``) is not a local path is loaded onto
    ``fallback_base`` when given: the adapters are merged onto it in order."""
    adapters, source = [], Path(path)
    while is_adapter_dir(source):
        adapters.append(source)
        source = Path(adapter_base(source)).expanduser()
        if not source.exists() and fallback_base is not None:
            base = load_causal_lm(fallback_base, dtype="float32", device="cpu")
            for adapter in reversed(adapters):
                base = merge_adapter(base, adapter)
            return base.eval()
    return load_causal_lm(path, dtype="float32", device="cpu")


def _chunks(pairs: Sequence[EncodedPair], vocab: int, budget: int, rows: int) -> list[list[int]]:
    """Pair indices in batches sorted by length, each at most ``rows`` pairs and ``budget``
    bytes of float32 logits ``[rows, length, vocab]``."""
    order = sorted(range(len(pairs)), key=lambda i: len(pairs[i].input_ids))
    chunks: list[list[int]] = []
    for i in order:
        width = len(pairs[i].input_ids)
        if (
            chunks
            and len(chunks[-1]) < rows
            and (len(chunks[-1]) + 1) * width * vocab * 4 <= budget
        ):
            chunks[-1].append(i)
        else:
            chunks.append([i])
    return chunks


def _response_logits(model, batch: dict) -> tuple[torch.Tensor, torch.Tensor, list[int]]:
    """The logits ``[N, V]`` that predict each response token, the tokens ``[N]``, and how
    many of them each row holds."""
    logits = forward_logits(model, batch)[:, :-1].float()
    mask = batch["response_mask"][:, 1:].bool().to(logits.device)
    tokens = batch["input_ids"][:, 1:].to(logits.device)[mask]
    return logits[mask], tokens, mask.sum(-1).tolist()


def score_answers(
    base,
    aligned,
    pairs: Sequence[EncodedPair],
    pad_id: int,
    *,
    ties: str = "min",
    batch_size: int = 16,
    logits_budget: int = 1 << 29,
    advance: Callable[[int], None] | None = None,
) -> list[dict]:
    """For each pair (prompt ids + the aligned answer's ids): the base's rank of every answer
    token (``ranks``), its top token id (``base_top``), and the aligned model's own rank
    (``self_ranks``). Forward passes take ``batch_size`` pairs, fewer when their logits would
    pass ``logits_budget`` bytes; ``advance(k)`` is told of each batch done."""
    vocab = base.get_output_embeddings().weight.shape[0]
    out: list[dict | None] = [None] * len(pairs)
    with torch.inference_mode():
        for chunk in _chunks(pairs, vocab, logits_budget, batch_size):
            batch = collate([pairs[i] for i in chunk], pad_id)
            base_logits, tokens, counts = _response_logits(base, batch)
            ranks = token_ranks(base_logits, tokens, ties).split(counts)
            tops = base_logits.argmax(-1).split(counts)
            del base_logits
            own_logits, _, _ = _response_logits(aligned, batch)
            own = token_ranks(own_logits, tokens, ties).split(counts)
            for i, r, t, s in zip(chunk, ranks, tops, own, strict=True):
                out[i] = {"ranks": r.tolist(), "base_top": t.tolist(), "self_ranks": s.tolist()}
            if advance is not None:
                advance(len(chunk))
    return out
