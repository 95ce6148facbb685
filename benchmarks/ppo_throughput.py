"""PPO-RLHF throughput on this machine, and where a PPO step's time goes.

By default builds a fixed tiny setup locally (the assistant organism's tokenizer and
base-model shape with random weights, a reward model on the same backbone with a fresh
head: nothing is downloaded), runs :func:`alignlab.trainers.ppo.train_ppo` for a fixed
number of steps, and prints the PPO steps per second and response tokens per second
(medians after warm-up), the median seconds of each part of a step (generation, the
policy/value and reference forward passes, the reward, the PPO update), and the wall
time of a pure generation pass of the same batch for comparison. Each part is also counted
in forward passes (no gradients) of the sampled batch, and the step's floor is printed:
generation plus the reference's and the reward's forwards plus a forward and backward
(about three forwards) per PPO epoch, which no implementation can skip. On a CPU, where a
small model's generation costs under two forwards, that floor lies well above 2x.

    python benchmarks/ppo_throughput.py [--steps 12] [--rollout-size 64] [--threads 1]
    python benchmarks/ppo_throughput.py --model runs/sft/model --reward runs/reward/model \\
        --prompts organism/data/prompts_train.jsonl

A random model rarely stops early, so its responses run to ``--max-new-tokens``; a trained
one stops when it has answered, which makes generation cheaper next to the update.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch

from alignlab.data.io import read_records, write_records
from alignlab.models.generation import generate_samples
from alignlab.models.loading import load_causal_lm, load_tokenizer
from alignlab.models.reward import RewardModel
from alignlab.models.sequences import EncodedPair, collate
from alignlab.organisms.assistant.config import ModelConfig
from alignlab.organisms.assistant.language import build_tokenizer
from alignlab.organisms.assistant.pretrain import model_config
from alignlab.trainers import read_metrics
from alignlab.trainers.ppo import PPOConfig, train_ppo
from alignlab.trainers.rollout import prompt_indices, rollout_seed

WARMUP_STEPS = 2
PARTS = {
    "generation": "time/generate",
    "policy/value + reference forward": "time/forward",
    "reward": "time/reward",
    "PPO update": "time/train",
}


def write_model(path: Path) -> None:
    """The organism-shaped base model with random weights (seed 0) and its tokenizer."""
    from transformers import LlamaForCausalLM

    tokenizer = build_tokenizer()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = LlamaForCausalLM(model_config(tokenizer, ModelConfig()))
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)


def write_prompts(path: Path, n: int = 256) -> None:
    write_records(path, [{"input": f"what is {i % 10} + {i // 10 % 10} ?"} for i in range(n)])


def generation_pass(config: PPOConfig, step: int) -> tuple[float, float]:
    """Seconds to sample the rollout of ``step`` from the starting model, and nothing else;
    and seconds of one forward pass (no gradients) over the sampled prompts + responses,
    the unit every other part of a step is made of (median of three)."""
    tokenizer = load_tokenizer(config.model)
    model = load_causal_lm(config.model, dtype=config.dtype, device="cpu" if config.cpu else None)
    prompts = [s.input for s in read_records(config.prompts, "sample")]
    start = (step - 1) * config.rollout_size
    indices = prompt_indices(len(prompts), config.rollout_size, config.seed, start)
    batch = [prompts[i] for i in indices]
    kwargs = dict(max_new_tokens=config.max_new_tokens, batch_size=config.forward_batch_size)
    generate_samples(model, tokenizer, batch, seed=config.seed, **kwargs)  # warm-up
    started = time.perf_counter()
    groups = generate_samples(
        model, tokenizer, batch, seed=rollout_seed(config.seed, step), **kwargs
    )
    generation = time.perf_counter() - started
    pairs = [EncodedPair.from_ids(g[0].prompt_ids, g[0].response_ids) for g in groups]
    encoded = collate(pairs, tokenizer.pad_token_id)
    times = []
    with torch.inference_mode():
        for _ in range(4):
            started = time.perf_counter()
            model(input_ids=encoded["input_ids"], attention_mask=encoded["attention_mask"])
            times.append(time.perf_counter() - started)
    return generation, statistics.median(times[1:])


def main() -> None:
    defaults = PPOConfig(model="-", prompts="-", eval_prompts="-")  # for the defaults only
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--rollout-size", type=int, default=defaults.rollout_size)
    parser.add_argument("--max-new-tokens", type=int, default=defaults.max_new_tokens)
    parser.add_argument("--batch-size", type=int, default=defaults.batch_size)
    parser.add_argument("--ppo-epochs", type=int, default=defaults.ppo_epochs)
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads; 0: torch's")
    parser.add_argument("--model", help="a policy to start from (default: random, organism-shaped)")
    parser.add_argument("--reward", help="a reward spec (default: a random-headed reward model)")
    parser.add_argument("--prompts", help="Sample records to roll out on (default: sums)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        model, reward, prompts = args.model, args.reward, args.prompts
        if model is None:
            write_model(root / "model")
            model = str(root / "model")
        if reward is None:
            RewardModel.from_causal_lm(model, device="cpu", seed=0).save(root / "reward")
            reward = str(root / "reward")
        if prompts is None:
            write_prompts(root / "prompts.jsonl")
            prompts = str(root / "prompts.jsonl")
        config = PPOConfig(
            model=model,
            reward=reward,
            prompts=prompts,
            eval_prompts=prompts,
            output_dir=str(root / "run"),
            max_steps=args.steps,
            rollout_size=args.rollout_size,
            max_new_tokens=args.max_new_tokens,
            batch_size=args.batch_size,
            ppo_epochs=args.ppo_epochs,
            eval_every=0,
            save_every=0,
            cpu=not torch.cuda.is_available(),
            progress=False,
        )
        parameters = sum(p.numel() for p in load_causal_lm(model, device="cpu").parameters())
        train_ppo(config)
        rows = [r for r in read_metrics(root / "run") if r["step"] > WARMUP_STEPS]
        generation, forward = generation_pass(config, step=rows[0]["step"])
    step_s = statistics.median(r["time/rollout"] + r["time/train"] for r in rows)
    lengths = statistics.mean(r["response/length"] for r in rows)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    print(
        f"model: {parameters:,} parameters; rollout {args.rollout_size} prompts x up to "
        f"{args.max_new_tokens} new tokens (mean {lengths:.1f}); {args.ppo_epochs} PPO epochs "
        f"of {args.batch_size}; {args.steps} steps"
    )
    print(f"device: {device}; torch threads: {torch.get_num_threads()}")
    tokens_per_s = statistics.median(r["tokens_per_s"] for r in rows)
    print(f"PPO: {1 / step_s:.2f} steps/s, {tokens_per_s:,.0f} response tokens/s (median)")
    print("where a step's time goes (median seconds; share; in forward passes of the batch):")
    for name, key in PARTS.items():
        seconds = statistics.median(r[key] for r in rows)
        print(f"  {name:34s} {seconds:7.3f}  {seconds / step_s:5.1%}  {seconds / forward:5.1f}")
    print(f"  {'whole step':34s} {step_s:7.3f}")
    print(f"pure generation pass of the same batch: {generation:.3f} s")
    print(f"one forward pass of the batch, no gradients: {forward:.4f} s")
    print(f"a PPO step takes {step_s / generation:.1f}x a generation pass")
    # Besides generation a step needs at least the reference's forward, the reward's, and
    # a forward and backward (about three forwards) per PPO epoch: what no code can save.
    floor = (generation + (2 + 3 * args.ppo_epochs) * forward) / generation
    print(f"floor at this forward/generation cost ratio (ref + reward + update): {floor:.1f}x")


if __name__ == "__main__":
    main()
