"""alignlab against a real ``transformers serve`` on loopback, on a tiny organism (slow):
served greedy text equals local text, best-of-n samples through it (seeded, sampling),
and PPO trains on rollouts it samples from each step's reloaded weights."""

import warnings

import pytest

from alignlab.data.io import read_records, write_records
from alignlab.models.backends import GenerationRequest, model_stop_strings, served_backend
from alignlab.models.backends.hf import HFBackend
from alignlab.organisms.assistant.build import build
from alignlab.trainers.best_of_n import BestOfNConfig, run_best_of_n
from alignlab.trainers.config import PPOConfig
from alignlab.trainers.ppo import PPOTrainer
from alignlab.trainers.rundir import read_metrics
from test_organism_build import tiny_config
from transformers_serve import serving_available, transformers_serve

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not serving_available(), reason="transformers serve needs fastapi, uvicorn"),
]


@pytest.fixture(scope="module")
def organism(tmp_path_factory):
    out = tmp_path_factory.mktemp("organism")
    build(out, seed=3, config=tiny_config(), use_cache=False, progress=False)
    prompts = [r.input for r in read_records(out / "data" / "prompts_train.jsonl", "sample")]
    prompts += [r.input for r in read_records(out / "data" / "prompts_heldout.jsonl", "sample")]
    return out / "base", prompts


@pytest.fixture(scope="module")
def server():
    with transformers_serve(model_timeout=10) as url:
        yield url


def test_served_greedy_answers_are_the_local_answers(organism, server):
    base, prompts = organism
    requests = [GenerationRequest(p, max_new_tokens=24) for p in prompts]
    local = HFBackend.load(base, device="cpu", batch_size=1).generate(requests)
    served = served_backend(server, str(base), stop=model_stop_strings(base)).generate(requests)
    assert [c.text for c in served] == [c.text for c in local]


def test_best_of_n_samples_through_the_server(organism, server, tmp_path):
    base, prompts = organism
    path = tmp_path / "prompts.jsonl"
    write_records(path, [{"input": p} for p in prompts[:3]])

    def run(out):
        config = BestOfNConfig(
            policy=str(base),
            reward="gold",
            prompts=str(path),
            output_dir=str(out),
            ns=[1, 4],
            max_new_tokens=12,
            base_url=server,
            progress=False,
        )
        return run_best_of_n(config)

    first = run(tmp_path / "a")
    assert first.proxy.shape == (3, 4)
    assert any(len(set(samples)) > 1 for samples in first.responses)  # it samples
    assert run(tmp_path / "b").responses == first.responses  # seeded


def test_ppo_rollouts_from_each_steps_reloaded_weights(organism, server, tmp_path):
    base, prompts = organism
    path = tmp_path / "prompts.jsonl"
    write_records(path, [{"input": p} for p in prompts])
    config = PPOConfig(
        model=str(base),
        prompts=str(path),
        eval_prompts=str(path),
        eval_max_prompts=2,
        reward="gold",
        output_dir=str(tmp_path / "run"),
        rollout_size=8,
        batch_size=8,
        max_new_tokens=12,
        max_steps=2,
        eval_every=0,
        save_every=0,
        progress=False,
        rollout_base_url=server,
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        PPOTrainer(config).train()
    assert not [w for w in caught if "samples the rollouts" in str(w.message)]
    rows = read_metrics(tmp_path / "run")
    assert [r["step"] for r in rows] == [0, 1, 2] and all(r["time/sync"] > 0 for r in rows[1:])
    assert [p.name for p in (tmp_path / "run" / "served").iterdir()] == ["step-1"]


def test_a_server_pinned_to_a_model_falls_back_to_local_rollouts(organism, tmp_path):
    base, prompts = organism
    path = tmp_path / "prompts.jsonl"
    write_records(path, [{"input": p} for p in prompts])
    with transformers_serve(base) as pinned:
        config = PPOConfig(
            model=str(base),
            prompts=str(path),
            eval_prompts=str(path),
            eval_max_prompts=2,
            reward="gold",
            output_dir=str(tmp_path / "run"),
            rollout_size=8,
            batch_size=8,
            max_new_tokens=8,
            max_steps=1,
            eval_every=0,
            save_every=0,
            progress=False,
            rollout_base_url=pinned,
        )
        with pytest.warns(UserWarning, match="pinned"):
            PPOTrainer(config).train()
    assert [r["step"] for r in read_metrics(tmp_path / "run")] == [0, 1]
