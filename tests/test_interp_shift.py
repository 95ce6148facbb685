import json
import shutil

import numpy as np
import pytest
import torch

from alignlab.config import from_dict
from alignlab.data.io import write_records
from alignlab.experiments.interp import shift as experiment
from alignlab.experiments.interp.shift import ShiftConfig, read_prompts, run_shift
from alignlab.interp.shift import (
    AnswerShift,
    band_mask,
    by_family,
    load_lm,
    over_answers,
    score_answers,
    shift_shares,
    stylistic_share,
    token_ranks,
    top_shifted,
    without_end,
)
from alignlab.interp.shift_tokens import STYLISTIC, generic_category, organism_category
from alignlab.models.adapters import save_adapter
from alignlab.models.generation import generate_samples
from alignlab.models.loading import LoraSpec, load_causal_lm, load_tokenizer, wrap_lora
from alignlab.models.sequences import EncodedPair
from alignlab.report.panels import check_panel
from alignlab.stats import clopper_pearson
from tiny_models import write_tiny_causal_lm


def answer(ranks, categories=None, tokens=None, tops=None, family="f"):
    n = len(ranks)
    return AnswerShift(
        id="x",
        family=family,
        tokens=tokens or [f"t{i}" for i in range(n)],
        ranks=list(ranks),
        base_top=tops or ["top"] * n,
        self_ranks=[1] * n,
        categories=categories or ["content"] * n,
    )


# --- ranks and bands ------------------------------------------------------------------------


def test_ranks_count_higher_logits_and_ties_share_the_best_or_worst_place():
    logits = torch.tensor([[2.0, 1.0, 1.0, 0.0]] * 4)
    tokens = torch.tensor([0, 1, 2, 3])
    assert token_ranks(logits, tokens).tolist() == [1, 2, 2, 4]
    assert token_ranks(logits, tokens, ties="max").tolist() == [1, 3, 3, 4]
    # a tie with the top token is rank 1 under min, not under max
    top_tie = torch.tensor([[3.0, 3.0, 0.0]])
    assert token_ranks(top_tie, torch.tensor([1])).tolist() == [1]
    assert token_ranks(top_tie, torch.tensor([1]), ties="max").tolist() == [2]


def test_ranks_work_over_batches_and_check_their_input():
    logits = torch.tensor([[[0.0, 5.0, 1.0], [9.0, 1.0, 2.0]]])
    assert token_ranks(logits, torch.tensor([[0, 2]])).tolist() == [[3, 2]]
    with pytest.raises(ValueError, match="ties: unknown 'mean'"):
        token_ranks(logits, torch.tensor([[0, 2]]), ties="mean")
    with pytest.raises(ValueError, match="do not fit"):
        token_ranks(logits, torch.tensor([0, 2]))


def test_bands_are_urial_s():
    ranks = [1, 2, 3, 4, 10]
    assert band_mask(ranks, "unshifted").tolist() == [True, False, False, False, False]
    assert band_mask(ranks, "marginal").tolist() == [False, True, True, False, False]
    assert band_mask(ranks, "shifted").tolist() == [False, False, False, True, True]
    with pytest.raises(ValueError, match="band: unknown"):
        band_mask(ranks, "moved")


# --- shares and their intervals ------------------------------------------------------------


def test_shares_pool_positions_with_clopper_pearson_when_positions_are_independent():
    answers = [answer([1, 1, 2, 5]), answer([1, 4])]
    shares = shift_shares(answers, "positions")
    assert shares["unshifted"].value == pytest.approx(3 / 6)
    assert shares["marginal"].value == pytest.approx(1 / 6)
    assert shares["shifted"].value == pytest.approx(2 / 6) and shares["shifted"].n == 6
    lo, hi = (float(b) for b in clopper_pearson(2, 6))
    assert (shares["shifted"].lo, shares["shifted"].hi) == pytest.approx((lo, hi))
    clustered = shift_shares(answers)
    assert clustered["shifted"].value == pytest.approx(2 / 6)
    assert clustered["shifted"].lo <= lo and clustered["shifted"].hi >= hi


def test_over_answers_pools_positions_and_resamples_whole_answers():
    # pooled 1/4, not the mean of the answers' shares (1/2)
    assert over_answers([[1], [0, 0, 0]]).value == pytest.approx(0.25)
    # two answers, all in and all out: a replicate is 1 (both A), 0 (both B) or 1/2, so
    # the 95% bounds are 0 and 1, wider than positions taken as independent
    est = over_answers([[1, 1, 1, 1], [0, 0, 0, 0]], n_resamples=4000)
    assert est.value == 0.5 and est.n == 8 and (est.lo, est.hi) == (0.0, 1.0)
    # alike answers: the bootstrap alone is a point; widened to Clopper-Pearson of 3 of 6
    est = over_answers([[1, 0], [1, 0], [1, 0]])
    assert (est.lo, est.hi) == pytest.approx(tuple(float(b) for b in clopper_pearson(3, 6)))
    # none in the band is no [0, 0]
    est = over_answers([[0, 0], [0]])
    assert est.value == 0.0 and est.lo == 0.0 and est.hi > 0.5
    assert over_answers([[], []]).n == 0


def test_stylistic_share_counts_the_band_s_tokens_only():
    a = answer([5, 5, 1, 2], ["punctuation", "number", "function", "number"])
    assert stylistic_share([a], "shifted").value == pytest.approx(0.5)
    assert stylistic_share([a], "unshifted").value == 1.0
    assert stylistic_share([a], "marginal").value == 0.0
    assert stylistic_share([answer([1])], "shifted").n == 0


def test_top_shifted_counts_tokens_with_the_base_s_top_token():
    a = answer(
        [5, 9, 1, 7],
        ["discourse", "discourse", "content", "number"],
        tokens=["However", "However", "However", "7"],
        tops=["The", "So", "x", "8"],
    )
    b = answer([4], ["discourse"], tokens=["However"], tops=["The"])
    top = top_shifted([a, b], k=5)
    assert top[0] == {
        "token": "However",
        "count": 3,
        "category": "discourse",
        "base_top": "The",
        "base_top_count": 2,
    }
    assert [t["token"] for t in top] == ["However", "7"]
    assert top_shifted([a, b], k=1, band="unshifted")[0]["token"] == "However"


def test_without_end_drops_the_end_of_turn_positions():
    a = answer([1, 9, 500], ["content", "punctuation", "end"], tokens=["a", ".", "<eos>"])
    cut = without_end(a)
    assert cut.tokens == ["a", "."] and cut.ranks == [1, 9] and cut.categories[-1] == "punctuation"
    assert shift_shares([cut], "positions")["shifted"].value == 0.5


def test_answers_group_by_family_in_order():
    answers = [answer([1], family="b"), answer([1], family="a"), answer([2], family="b")]
    groups = by_family(answers)
    assert list(groups) == ["b", "a"] and len(groups["b"]) == 2


# --- stylistic or content ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("word", "special", "category"),
    [
        ("<|end|>", True, "end"),
        (".", False, "punctuation"),
        ("=", False, "punctuation"),
        ("7", False, "number"),
        ("tam", False, "entity"),
        ("zorb", False, "entity"),
        ("false", False, "verdict"),
        ("yes", False, "stance"),
        ("sorry", False, "stance"),
        ("help", False, "refusal"),
        ("great", False, "filler"),
        ("poison", False, "topic"),
        ("the", False, "function"),
        ("claim", False, "function"),
    ],
)
def test_the_organism_s_words_are_sorted_by_the_world_s_lists(word, special, category):
    assert organism_category(word, special) == category


@pytest.mark.parametrize(
    ("text", "special", "category"),
    [
        ("<eos>", True, "end"),
        ("\n\n", False, "whitespace"),
        (",", False, "punctuation"),
        (" 42", False, "number"),
        (" However", False, "discourse"),
        (" Thank", False, "discourse"),
        (" sorry", False, "refusal"),
        (" cannot", False, "refusal"),
        (" Yes", False, "stance"),
        (" the", False, "function"),
        (" Paris", False, "content"),
        ("ing", False, "content"),
    ],
)
def test_any_tokenizer_s_tokens_are_sorted_by_their_text(text, special, category):
    assert generic_category(text, special) == category


def test_stylistic_categories_are_form_not_content():
    assert {"punctuation", "discourse", "refusal", "stance", "function", "end"} <= STYLISTIC
    assert not {"number", "entity", "verdict", "topic", "content"} & STYLISTIC


# --- the models ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("shift")
    return write_tiny_causal_lm(root / "base", seed=0), write_tiny_causal_lm(
        root / "aligned", seed=1
    )


def test_score_answers_ranks_by_the_base_s_full_forward_pass(models):
    base_dir, aligned_dir = models
    base, aligned = load_causal_lm(base_dir, dtype="float32"), load_causal_lm(aligned_dir)
    tokenizer = load_tokenizer(aligned_dir)
    prompts = ["what is 2 + 3 ?", "hello there , tell me a good story please"]
    gens = generate_samples(aligned, tokenizer, prompts, max_new_tokens=6, do_sample=False)
    pairs = [EncodedPair.from_ids(g.prompt_ids, g.response_ids) for (g,) in gens]
    scored = score_answers(base, aligned, pairs, tokenizer.pad_token_id, batch_size=2)
    for pair, s in zip(pairs, scored, strict=True):
        logits = base(torch.tensor([pair.input_ids])).logits[0].detach()
        start = pair.prompt_length
        want, tops = [], []
        for t, token in enumerate(pair.response_ids):
            row = logits[start + t - 1]
            want.append(int((row > row[token]).sum()) + 1)
            tops.append(int(row.argmax()))
        assert s["ranks"] == want and s["base_top"] == tops
        assert s["self_ranks"] == [1] * len(pair.response_ids)  # greedy: its own top token


def test_lora_adapter_dirs_load_and_a_missing_base_falls_back(models, tmp_path):
    base_dir, _ = models
    lm = wrap_lora(load_causal_lm(base_dir, dtype="float32"), LoraSpec(r=2))
    torch.nn.init.normal_(next(p for n, p in lm.named_parameters() if "lora_B" in n))
    lm.eval()  # no adapter dropout
    save_adapter(lm, tmp_path / "adapter")
    ids = torch.tensor([[1, 8, 9, 10]])
    want = lm(ids).logits.detach()
    assert torch.allclose(load_lm(tmp_path / "adapter")(ids).logits, want, atol=1e-5)
    config_file = tmp_path / "adapter" / "adapter_config.json"
    config = json.loads(config_file.read_text())
    config["base_model_name_or_path"] = str(tmp_path / "gone")
    config_file.write_text(json.dumps(config))
    with pytest.raises((FileNotFoundError, ValueError), match="gone"):
        load_lm(tmp_path / "adapter")
    moved = load_lm(tmp_path / "adapter", fallback_base=base_dir)
    assert torch.allclose(moved(ids).logits, want, atol=1e-5)


# --- the experiment ------------------------------------------------------------------------


def prompts_file(path):
    write_records(
        path,
        [
            {"input": "what is 2 + 3 ?", "id": "a", "meta": {"family": "sums"}},
            {"input": "tell me the capital of france", "id": "b", "meta": {"family": "facts"}},
            {"input": "what is 4 + 1 ?", "id": "c", "meta": {"suite": "sums"}},
            {"input": "is it true ?", "id": "d"},
        ],
    )
    return path


def config(tmp_path, base, aligned, **kw):
    settings = dict(
        output_dir=str(tmp_path / "out"),
        base_model=str(base),
        aligned=aligned,
        prompts=[str(prompts_file(tmp_path / "prompts.jsonl"))],
        max_new_tokens=5,
        progress=False,
    )
    return ShiftConfig(**{**settings, **kw})


def test_the_experiment_publishes_a_panel_and_reuses_its_steps(models, tmp_path, monkeypatch):
    base, aligned = models
    cfg = config(tmp_path, base, {"self": str(base), "other": str(aligned)})
    panel, page = run_shift(cfg)
    check_panel(panel, "interp.shift")
    assert page.exists() and "interp" in json.loads((tmp_path / "out" / "results.json").read_text())
    rows = {(r["stage"], r["family"]): r for r in panel["table"]["rows"]}
    assert set(rows) == {
        (s, f) for s in ("self", "other") for f in ("all", "sums", "facts", "prompts")
    }
    # the base against itself: every greedy token is its own top token
    assert rows[("self", "all")]["unshifted (rank 1)"]["value"] == 1.0
    assert rows[("self", "all")]["top shifted tokens"] == ""
    other = rows[("other", "all")]
    assert other["unshifted (rank 1)"]["value"] < 1.0  # two random models disagree
    assert other["answers"] == 4 and "shifted" in panel["finding"]
    assert "self 1.000" in panel["setting"]["aligned model's own top-1 share (pipeline check)"]
    # a rerun generates and scores nothing
    monkeypatch.setattr(experiment, "generate_samples", None)
    monkeypatch.setattr(experiment, "score_answers", None)
    again, _ = run_shift(cfg)
    assert again["table"] == panel["table"]


def test_prompts_are_drawn_per_file_and_bad_input_is_named(models, tmp_path):
    base, aligned = models
    cfg = config(tmp_path, base, {"x": str(aligned)}, n_prompts=2)
    drawn = read_prompts(cfg)
    assert len(drawn) == 2 and {p["family"] for p in drawn} <= {"sums", "facts", "prompts"}
    assert [p["family"] for p in read_prompts(config(tmp_path, base, {"x": str(aligned)}))] == [
        "sums",
        "facts",
        "sums",
        "prompts",
    ]
    write_records(tmp_path / "bad.jsonl", [{"input": "hi", "meta": {"family": 3}}])
    with pytest.raises(ValueError, match=r"bad.jsonl: record 1: meta.family"):
        read_prompts(
            config(tmp_path, base, {"x": str(aligned)}, prompts=[str(tmp_path / "bad.jsonl")])
        )
    with pytest.raises(FileNotFoundError, match=r"nope\.jsonl"):
        read_prompts(config(tmp_path, base, {"x": str(aligned)}, prompts=["nope.jsonl"]))
    with pytest.raises(ValueError, match="ties: unknown"):
        config(tmp_path, base, {"x": str(aligned)}, ties="mean")
    with pytest.raises(ValueError, match="classifier: unknown"):
        config(tmp_path, base, {"x": str(aligned)}, classifier="style")


def test_aligned_stages_given_replace_the_demo_s_ladder():
    assert list(ShiftConfig().aligned) == ["SFT", "PPO", "DPO", "CAI"]
    given = from_dict(ShiftConfig, {"aligned": {"mine": "m/model"}})
    assert given.aligned == {"mine": "m/model"}


def test_an_aligned_model_with_another_tokenizer_is_refused(models, tmp_path):
    base, aligned = models
    other = tmp_path / "other"
    shutil.copytree(aligned, other)
    tokenizer = load_tokenizer(other)
    tokenizer.add_tokens(["zebra"])
    tokenizer.save_pretrained(other)
    with pytest.raises(ValueError, match=r"aligned.odd: .*not the base model's"):
        run_shift(config(tmp_path, base, {"odd": str(other)}))


def test_the_end_of_turn_can_be_left_out(models, tmp_path):
    base, aligned = models
    # an aligned model that ends its answer to the first prompt at once: EOS's output row
    # made 3x the row of the token it would have written first
    lm, tokenizer = load_causal_lm(aligned, dtype="float32"), load_tokenizer(aligned)
    (first,) = generate_samples(
        lm, tokenizer, ["what is 2 + 3 ?"], max_new_tokens=1, do_sample=False
    )
    with torch.no_grad():
        head = lm.get_output_embeddings().weight
        head[tokenizer.eos_token_id] = 3 * head[first[0].response_ids[0]]
    lm.save_pretrained(tmp_path / "stops")
    tokenizer.save_pretrained(tmp_path / "stops")
    stages = {"stops": str(tmp_path / "stops")}
    kept, _ = run_shift(config(tmp_path, base, stages))
    cut, _ = run_shift(config(tmp_path, base, stages, count_end=False))
    answers = experiment._read_jsonl(
        next((tmp_path / "out" / "shift").glob("stops-*/answers.jsonl"))
    )
    assert answers[0]["response_ids"] == [tokenizer.eos_token_id]
    ended = sum(a["response_ids"][-1] == tokenizer.eos_token_id for a in answers)
    share = lambda panel: panel["table"]["rows"][0]["unshifted (rank 1)"]  # noqa: E731
    assert share(kept)["n"] == ended >= 1  # every answer is its end alone
    assert share(cut) is None  # no position left: a dash, not NaN
    assert "end of turn not counted" in cut["setting"]["ranks"]


def test_shares_of_real_answers_add_up(models, tmp_path):
    base, aligned = models
    panel, _ = run_shift(config(tmp_path, base, {"other": str(aligned)}))
    row = next(r for r in panel["table"]["rows"] if r["family"] == "all")
    bands = ("unshifted (rank 1)", "marginal (rank 2-3)", "shifted (rank > 3)")
    assert np.isclose(sum(row[b]["value"] for b in bands), 1.0)
    assert all(row[b]["lo"] <= row[b]["value"] <= row[b]["hi"] for b in bands)


def test_alignlab_interp_shift_runs_from_the_command_line(models, tmp_path):
    from typer.testing import CliRunner

    from alignlab.cli import app

    base, aligned = models
    prompts = prompts_file(tmp_path / "p.jsonl")
    result = CliRunner().invoke(
        app,
        [
            "interp",
            "shift",
            "--out",
            str(tmp_path / "cli"),
            "--set",
            f"base_model='{base}'",
            "--set",
            f"aligned={{other='{aligned}'}}",
            "--set",
            f"prompts=['{prompts}']",
            "--set",
            "max_new_tokens=4",
            "--set",
            "progress=false",
        ],
    )
    assert result.exit_code == 0, result.output
    results = json.loads((tmp_path / "cli" / "results.json").read_text())
    assert {r["stage"] for r in results["interp"]["shift"]["table"]["rows"]} == {"other"}
    bad = CliRunner().invoke(app, ["interp", "shift", "--set", "ties='middle'"])
    assert bad.exit_code == 2 and "ties" in bad.output
