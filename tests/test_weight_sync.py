"""Weight sync: each step's policy saved and asked for by path (reload), a LoRA adapter
loaded into vLLM (vllm-lora), a server that cannot take new weights falling back to local
sampling with a warning, and PPO training on rollouts a server sampled."""

import json
import warnings
from pathlib import Path

import httpx
import pytest
import torch

from alignlab.data.io import write_records
from alignlab.models.backends import GenerationRequest
from alignlab.models.backends.hf import HFBackend
from alignlab.models.loading import LoraSpec, load_causal_lm, load_tokenizer, wrap_lora
from alignlab.models.reward_fns import batched
from alignlab.trainers import ppo as ppo_module
from alignlab.trainers.config import PPOConfig
from alignlab.trainers.ppo import PPOTrainer
from alignlab.trainers.rundir import read_metrics
from alignlab.trainers.weight_sync import WEIGHT_SYNCS, RolloutServer

URL = "http://rollouts.test/v1"
PROMPTS = [{"input": f"what is {a} + {b} ?"} for a in range(4) for b in range(2)]


class OnDemand:
    """An OpenAI-compatible server that loads any model directory a request names, as
    ``transformers serve`` started without a model does; ``pinned`` serves one name only.
    Other POSTs answer ``status``; a LoRA adapter loaded by one is served by its name."""

    def __init__(self, pinned: str | None = None, status: int = 200):
        self.pinned, self.status = pinned, status
        self.loaded: dict[str, HFBackend] = {}
        self.bodies: list[dict] = []
        self.posts: list[tuple[str, dict]] = []
        self.adapters: dict[str, str] = {}

    def __call__(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        if not request.url.path.endswith("/chat/completions"):
            self.posts.append((request.url.path.rsplit("/", 1)[-1], body))
            if self.status == 200 and "lora_path" in body:
                self.adapters[body["lora_name"]] = body["lora_path"]
            return httpx.Response(self.status, text="Success")
        self.bodies.append(body)
        model = self.adapters.get(body["model"], body["model"])
        if self.pinned is not None and model != self.pinned:
            detail = f"Server is pinned to '{self.pinned}'; requested '{model}'."
            return httpx.Response(400, json={"detail": detail})
        if not Path(model).is_dir():
            return httpx.Response(404, json={"detail": f"no model {model}"})
        if model not in self.loaded:
            self.loaded[model] = HFBackend.load(model, device="cpu")
        request = GenerationRequest(
            body["messages"],
            max_new_tokens=body["max_tokens"],
            temperature=body["temperature"],
            seed=body.get("seed"),
            stop=tuple(body.get("stop", ())),
        )
        [done] = self.loaded[model].generate([request])
        message = {"role": "assistant", "content": done.text}
        choice = {"index": 0, "message": message, "finish_reason": done.finish_reasons[0]}
        return httpx.Response(200, json={"model": model, "choices": [choice]})


def rollout_server(tmp_path, fake, method="reload") -> RolloutServer:
    transport = httpx.MockTransport(fake)
    return RolloutServer(URL, method, tmp_path / "served", max_retries=0, transport=transport)


def test_reload_saves_each_version_asks_for_it_by_path_and_keeps_the_latest(lm_dir, tmp_path):
    fake = OnDemand()
    server = rollout_server(tmp_path, fake)
    policy, tokenizer = load_causal_lm(lm_dir, device="cpu"), load_tokenizer(lm_dir)
    first = server.sync(policy, tokenizer, 0)
    assert first == str((tmp_path / "served" / "step-0").resolve())
    assert server.sync(policy, tokenizer, 0) == first and len(fake.bodies) == 1  # no resave
    assert fake.bodies[0]["model"] == first and fake.bodies[0]["max_tokens"] == 1
    assert (Path(first) / "chat_template.jinja").exists()
    with torch.no_grad():
        policy.lm_head.weight.add_(1.0)
    second = server.sync(policy, tokenizer, 1)
    assert [p.name for p in (tmp_path / "served").iterdir()] == ["step-1"]
    served = load_causal_lm(second, device="cpu")
    torch.testing.assert_close(served.lm_head.weight, policy.lm_head.weight)
    backend = server.backend(second)
    assert json.loads(backend.extra_body["generation_config"])["do_sample"] is True


def test_reload_merges_a_lora_policy_into_a_copy(lm_dir, tmp_path):
    fake = OnDemand()
    server = rollout_server(tmp_path, fake)
    policy = wrap_lora(load_causal_lm(lm_dir, device="cpu"), LoraSpec(r=2, dropout=0.0))
    with torch.no_grad():
        for name, weight in policy.named_parameters():
            if "lora_B" in name:
                weight.fill_(0.1)
    path = server.sync(policy, load_tokenizer(lm_dir), 3)
    assert (Path(path) / "model.safetensors").exists()
    assert any("lora_B" in name for name, _ in policy.named_parameters())  # still training
    served = load_causal_lm(path, device="cpu")
    ids = torch.tensor([[1, 5, 9, 12]])
    with torch.no_grad():
        torch.testing.assert_close(served(ids).logits, policy(ids).logits)


@pytest.mark.parametrize("fake", [OnDemand(pinned="the-model"), OnDemand(status=404)])
def test_a_server_that_cannot_take_new_weights_falls_back_to_local_sampling(lm_dir, tmp_path, fake):
    method = "reload" if fake.pinned else "vllm-lora"
    server = rollout_server(tmp_path, fake, method)
    policy = load_causal_lm(lm_dir, device="cpu")
    if method == "vllm-lora":
        policy = wrap_lora(policy, LoraSpec(r=2, dropout=0.0))
    with pytest.warns(UserWarning, match="local policy samples the rollouts from here on"):
        assert server.sync(policy, load_tokenizer(lm_dir), 0) is None
    assert server.local and server.backend(None) is None
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # warned once only
        assert server.sync(policy, load_tokenizer(lm_dir), 1) is None


def test_vllm_lora_loads_each_adapter_and_unloads_the_last(lm_dir, tmp_path):
    fake = OnDemand()
    server = rollout_server(tmp_path, fake, "vllm-lora")
    policy = wrap_lora(load_causal_lm(lm_dir, device="cpu"), LoraSpec(r=2, dropout=0.0))
    tokenizer = load_tokenizer(lm_dir)
    assert server.sync(policy, tokenizer, 0) == "step-0"
    assert server.sync(policy, tokenizer, 1) == "step-1"
    assert [b["model"] for b in fake.bodies] == ["step-0", "step-1"]
    adapter = str((tmp_path / "served" / "step-1").resolve())
    assert fake.posts[1:] == [
        ("load_lora_adapter", {"lora_name": "step-1", "lora_path": adapter}),
        ("unload_lora_adapter", {"lora_name": "step-0"}),
    ]
    assert (Path(adapter) / "adapter_config.json").exists()
    assert not (tmp_path / "served" / "step-0").exists()
    with pytest.warns(UserWarning, match="trains all its weights"):
        assert server.sync(load_causal_lm(lm_dir, device="cpu"), tokenizer, 2) is None


def test_a_server_that_does_not_answer_is_an_error(lm_dir, tmp_path):
    def down(request):
        return httpx.Response(503, json={"error": "overloaded"})

    server = rollout_server(tmp_path, down)
    with pytest.raises(RuntimeError, match="503"):
        server.sync(load_causal_lm(lm_dir, device="cpu"), load_tokenizer(lm_dir), 0)


def test_settings_are_checked(tmp_path):
    with pytest.raises(ValueError, match="weight_sync"):
        RolloutServer(URL, "push", tmp_path)
    assert set(WEIGHT_SYNCS) == {"reload", "vllm-lora", "local"}
    base = dict(model="m", prompts="p", eval_prompts="p", rollout_size=8, batch_size=8)
    with pytest.raises(ValueError, match="weight_sync"):
        PPOConfig(**base, weight_sync="push")
    with pytest.raises(ValueError, match="rollout_server"):
        PPOConfig(**base, rollout_server="tgi")
    with pytest.raises(ValueError, match="rollout_base_url"):
        PPOConfig(**base, rollout_api_key_env="KEY")


@batched
def yes_fraction(prompts, responses):
    """The toy reward: the fraction of a response's words that are ``yes``."""
    return [r.split().count("yes") / max(1, len(r.split())) for r in responses]


def test_ppo_trains_on_rollouts_the_server_samples_from_each_steps_weights(
    lm_dir, tmp_path, monkeypatch
):
    fake = OnDemand()

    class Served(RolloutServer):
        def __init__(self, *args, **options):
            super().__init__(*args, **options, transport=httpx.MockTransport(fake))

    monkeypatch.setattr(ppo_module, "RolloutServer", Served)
    prompts = tmp_path / "prompts.jsonl"
    write_records(prompts, PROMPTS)
    config = PPOConfig(
        model=str(lm_dir),
        prompts=str(prompts),
        eval_prompts=str(prompts),
        eval_max_prompts=2,
        reward="test_weight_sync:yes_fraction",
        output_dir=str(tmp_path / "run"),
        rollout_size=8,
        batch_size=8,
        max_new_tokens=5,
        max_steps=2,
        lr=1e-2,
        eval_every=0,
        save_every=0,
        progress=False,
        rollout_base_url=URL,
    )
    PPOTrainer(config).train()
    rows = read_metrics(tmp_path / "run")
    assert [r["step"] for r in rows] == [0, 1, 2]
    assert all("time/sync" in r for r in rows[1:])
    served = sorted({b["model"] for b in fake.bodies})
    assert [Path(m).name for m in served] == ["step-0", "step-1"]  # one version a step
    assert sum(b["max_tokens"] == 5 for b in fake.bodies) == 16  # every response served
    assert [p.name for p in (tmp_path / "run" / "served").iterdir()] == ["step-1"]
