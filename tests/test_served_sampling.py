"""Best-of-n and PPO rollouts sampled through a backend (a server), scored locally; the
endpoints of evaluation and AI feedback sent a server's sampling fields and stop strings."""

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from alignlab.cli.bon import app as bon_app
from alignlab.data.io import read_records, write_records
from alignlab.evals.config import EvalConfig, backend_for
from alignlab.feedback.backend import ModelSpec, open_backend
from alignlab.models.backends import SAMPLING_FIELDS, Completion, GenerationRequest, sample_seed
from alignlab.models.backends import openai as openai_backend
from alignlab.models.dialogue import STOP_STRINGS
from alignlab.models.loading import load_causal_lm, load_tokenizer
from alignlab.trainers.best_of_n import best_of_n, draw
from alignlab.trainers.rollout import ActorCritic, collect_rollout
from openai_server import LoopbackServer
from test_served_generation import PROMPTS, Replay, as_completion, clean
from tiny_models import write_tiny_causal_lm


def word_count(prompts, responses):
    return np.array([len(r.split()) for r in responses], dtype=float)


def test_a_rollout_through_a_backend_is_scored_as_the_same_samples_locally(lm_dir):
    tokenizer = load_tokenizer(lm_dir)
    policy = ActorCritic(load_causal_lm(lm_dir, device="cpu"))
    reference = load_causal_lm(lm_dir, device="cpu")
    kwargs = dict(max_new_tokens=6, batch_size=4, seed=3)
    here, _ = collect_rollout(policy, reference, tokenizer, PROMPTS, word_count, **kwargs)
    backend = Replay([as_completion(g) for g in here.generations])
    served, times = collect_rollout(
        policy, reference, tokenizer, PROMPTS, word_count, **kwargs, backend=backend
    )
    assert set(times) == {"time/generate", "time/reward", "time/forward"}
    assert served.texts == here.texts and len({r.seed for r in backend.asked}) == len(PROMPTS)
    torch.testing.assert_close(served.proxy, here.proxy)
    rows = [i for i, g in enumerate(here.generations) if clean(g)]
    assert len(rows) >= 3
    for i in rows:
        n = len(here.generations[i].response_ids)
        assert served.generations[i].response_ids == here.generations[i].response_ids
        assert int(served.mask[i].sum()) == int(here.mask[i].sum()) == n
        for name in ("logps", "ref_logps", "values"):
            ours, theirs = getattr(served, name)[i], getattr(here, name)[i]
            torch.testing.assert_close(ours[served.mask[i]], theirs[here.mask[i]])


class Seeds:
    """A backend whose answer is its request's seed."""

    name = "seeds"

    def __init__(self):
        self.asked = []

    def generate(self, requests, *, progress=False):
        self.asked.extend(requests)
        return [Completion((f"{r.seed}",), ("stop",)) for r in requests]


def test_draw_through_a_backend_asks_once_per_sample_and_never_depends_on_the_batch():
    backend = Seeds()
    texts = draw(backend, None, ["a", "b", "c"], 4, start=2, seed=9, temperature=0.7)
    assert len(backend.asked) == 12 and all(r.n == 1 for r in backend.asked)
    assert {r.temperature for r in backend.asked} == {0.7}
    expected = [
        [str(sample_seed(9, GenerationRequest(p, seed=2 + i), k)) for k in range(4)]
        for i, p in enumerate("abc")
    ]
    assert texts == expected
    assert draw(Seeds(), None, ["b"], 4, start=3, seed=9, temperature=0.7) == [expected[1]]


def test_best_of_n_through_a_backend_selects_as_locally():
    result = best_of_n(Seeds(), None, ["a", "b"], lambda p, r: [int(t) for t in r], (1, 2, 4))
    assert result.proxy.shape == (2, 4)
    for n in (1, 2, 4):
        picked = result.selected_responses(n)
        assert [int(t) for t in picked] == result.proxy[:, :n].max(axis=1).tolist()


def test_the_bon_command_samples_through_a_server(lm_dir, tmp_path, monkeypatch):
    prompts = tmp_path / "prompts.jsonl"
    write_records(prompts, [{"input": p} for p in PROMPTS[:3]])
    out = tmp_path / "out"
    with LoopbackServer() as server:
        args = ["--policy", str(lm_dir), "--reward", "test_best_of_n:length"]
        args += ["--prompts", str(prompts), "--out", str(out), "--n", "1,2"]
        result = CliRunner().invoke(bon_app, [*args, "--base-url", server.url])
        assert result.exit_code == 0, result.output
    assert len(server.log) == 6  # 3 prompts x 2 samples, one request each
    assert len(read_records(out / "samples.jsonl")) == 6

    async def no_wait(seconds):
        pass

    monkeypatch.setattr(openai_backend, "_sleep", no_wait)
    bad = CliRunner().invoke(bon_app, [*args, "--base-url", "http://127.0.0.1:9/v1"])
    assert bad.exit_code == 1 and "Traceback" not in bad.output


def test_eval_and_feedback_endpoints_send_the_servers_fields_and_a_directorys_stops(tmp_path):
    base = str(write_tiny_causal_lm(tmp_path / "base", chat_template=False))
    url = "http://127.0.0.1:9/v1"
    config = EvalConfig(model=base, base_url=url, server="transformers")
    spec = ModelSpec(base, base_url=url, server="transformers")
    for backend in (backend_for(base, url, None, config, None), open_backend(spec)):
        assert backend.stop == STOP_STRINGS
        assert backend.extra_body == SAMPLING_FIELDS["transformers"]
    hosted = open_backend(ModelSpec("gpt-x", base_url=url))
    assert hosted.stop == () and hosted.extra_body == {}
    with pytest.raises(ValueError, match="server"):
        EvalConfig(model=base, server="tgi")
    with pytest.raises(ValueError, match="server"):
        ModelSpec(base, server="tgi")
