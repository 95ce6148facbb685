"""``alignlab demo``: the whole alignment ladder on the assistant organism, then the report.

Stages, each writing ordinary files under ``OUT`` and skipped when its output exists:

=================  ==========================================================
``organism/``      the world: base model and data (reused from the cache)
``runs/sft``       SFT on the demonstrations
``runs/reward``    a reward model on the annotators' labels
``runs/ensemble``  a bootstrap ensemble of reward models
``runs/reward-short``  a reward model fitted on short pairs only (extremal form)
``runs/bon``       best-of-n samples of the SFT policy, scored by proxy and gold
``runs/ppo-proxy`` PPO against the reward model; ``runs/ppo-oracle`` against gold
``runs/dpo``       DPO on the annotators' labels
``runs/cai``       SL-CAI revisions, the SFT model tuned on them, and RL-CAI labels
``eval/``          each stage's sampled held-out responses, judged by gold
=================  ==========================================================

then ``results.json`` (:mod:`alignlab.report.results`) and ``report.html``.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import numpy as np

from alignlab import __version__
from alignlab.config import from_dict, to_dict
from alignlab.data import read_records, write_records
from alignlab.experiments.demo import goodhart
from alignlab.experiments.demo.config import DemoConfig
from alignlab.experiments.demo.judges import judges_against_gold
from alignlab.experiments.demo.measure import heldout_pairs
from alignlab.experiments.stages import Stages
from alignlab.progress import err, progress_bar


class Demo(Stages):
    """One run of the ladder in ``config.out``; :meth:`run` does every stage in order."""

    def __init__(self, config: DemoConfig):
        super().__init__()
        self.config = config
        self.out = Path(config.out)
        self.org = self.out / "organism"
        self.runs = self.out / "runs"
        self.common = {"seed": config.seed, "threads": config.threads, "progress": config.progress}

    # --- helpers ---------------------------------------------------------------

    def trained(self, train, config_cls, settings: dict) -> Path:
        """Train unless ``output_dir/model`` exists; an unfinished run resumes."""
        from alignlab.trainers import train_or_reuse

        # Measure at the start and the end only, and keep no intermediate checkpoints: the
        # demo reuses finished stages, and its runs are short.
        quick = {"max_steps": self.config.max_steps, "eval_every": 0, "save_every": 0}
        return train_or_reuse(train, from_dict(config_cls, {**self.common, **quick, **settings}))

    # --- stages ----------------------------------------------------------------

    def organism(self) -> dict:
        from alignlab.organisms.assistant.build import build
        from alignlab.organisms.assistant.config import WorldConfig

        world = build(
            self.org,
            seed=self.config.seed,
            config=from_dict(WorldConfig, self.config.world),
            use_cache=not self.config.fresh,
            progress=self.config.progress,
        )
        err.print(
            f"  organism {'reused from ' + world['reused'] if world.get('reused') else 'built'}"
        )
        return world

    def sft(self) -> Path:
        from alignlab.trainers import SFTConfig, train_sft

        settings = {
            "model": str(self.org / "base"),
            "train_file": str(self.org / "data" / "sft.jsonl"),
            "output_dir": str(self.runs / "sft"),
        }
        return self.trained(train_sft, SFTConfig, settings)

    def reward(self, name: str, train_file: Path, **extra) -> Path:
        from alignlab.trainers import RewardConfig, train_reward

        settings = {
            "model": str(self.runs / "sft" / "model"),
            "train_file": str(train_file),
            "eval_file": str(self.org / "data" / "prefs_heldout.jsonl"),
            "output_dir": str(self.runs / name),
            **extra,
        }
        return self.trained(train_reward, RewardConfig, settings)

    def short_pairs(self) -> Path:
        """The annotators' pairs whose responses both have at most ``short_words`` words."""
        path = self.runs / "reward-short.jsonl"
        if not path.exists():
            limit = self.config.short_words
            short = [
                c
                for c in read_records(self.org / "data" / "prefs.jsonl", "comparison")
                if max(len(c.chosen.split()), len(c.rejected.split())) <= limit
            ]
            write_records(path, short)
        return path

    def ppo(self, name: str, reward: str) -> Path:
        from alignlab.trainers import PPOConfig, train_ppo

        settings = {
            "model": str(self.runs / "sft" / "model"),
            "reward": reward,
            "gold": "gold",
            "judge": "gold",
            "prompts": str(self.org / "data" / "prompts_train.jsonl"),
            "eval_prompts": str(self.org / "data" / "prompts_heldout.jsonl"),
            "output_dir": str(self.runs / name),
            "max_steps": self.config.ppo_steps,
            "lr": self.config.ppo_lr,
            "kl_coef": self.config.ppo_kl_coef,
            "eval_every": max(1, self.config.ppo_steps // 6),
            "save_every": self.config.ppo_steps,
        }
        return self.trained(train_ppo, PPOConfig, settings)

    def dpo(self) -> Path:
        from alignlab.trainers import DPOConfig, train_dpo

        settings = {
            "model": str(self.runs / "sft" / "model"),
            "train_file": str(self.org / "data" / "prefs.jsonl"),
            "output_dir": str(self.runs / "dpo"),
            "beta": self.config.dpo_beta,
        }
        return self.trained(train_dpo, DPOConfig, settings)

    def cai(self) -> tuple[Path, Path]:
        from alignlab.feedback import LabelConfig, ReviseConfig, run_label, run_revise, summary
        from alignlab.trainers import SFTConfig, train_sft

        cai = self.runs / "cai"
        cai.mkdir(parents=True, exist_ok=True)
        common = {"threads": self.config.threads, "progress": self.config.progress}
        revisions = cai / "revisions.jsonl"
        if not (cai / "sl_cai" / "model").exists():
            counts = run_revise(
                from_dict(
                    ReviseConfig,
                    {
                        **common,
                        "seed": self.config.seed,
                        "constitution": "organism",
                        "prompts": str(self.org / "data" / "prompts_train.jsonl"),
                        "output": str(revisions),
                        "policy": {"model": str(self.runs / "sft" / "model"), "device": "cpu"},
                        "critic": {"model": str(self.org / "base"), "device": "cpu"},
                        "samples_per_prompt": self.config.cai_samples,
                        "resume": revisions.exists(),
                    },
                )
            )
            err.print(f"  SL-CAI: {summary(counts)}")
        if (cai / "sl_cai" / "model").exists() or revisions.stat().st_size > 0:
            settings = {
                "model": str(self.runs / "sft" / "model"),
                "train_file": str(revisions),
                "output_dir": str(cai / "sl_cai"),
            }
            sl_cai = self.trained(train_sft, SFTConfig, settings)
        else:  # nothing to fine-tune on: the CAI row is the SFT policy, and says so
            err.print("  [yellow]SL-CAI: no answer was revised; the CAI row is the SFT policy[/]")
            sl_cai = self.runs / "sft" / "model"
        labels = cai / "ai_heldout.jsonl"
        if not (cai / "ai_heldout.done").exists():
            run_label(
                from_dict(
                    LabelConfig,
                    {
                        **common,
                        "seed": self.config.seed,
                        "constitution": "organism",
                        "pairs": str(self.org / "data" / "prefs_heldout.jsonl"),
                        "output": str(labels),
                        "feedback": {"model": str(self.org / "base"), "device": "cpu"},
                        "resume": labels.exists(),
                    },
                )
            )
            (cai / "ai_heldout.done").touch()
        return sl_cai, labels

    def bon_samples(self) -> dict:
        """``bon_prompts`` held-out prompts, ``max(bon_ns)`` SFT samples each, all scored."""
        path = self.runs / "bon" / "samples.npz"
        if path.exists():
            with np.load(path, allow_pickle=False) as f:
                data = {k: f[k] for k in f.files}
            data["prompts"] = json.loads(str(data["prompts"]))
            data["responses"] = json.loads(str(data["responses"]))
            return data
        from alignlab.models import load_causal_lm, load_tokenizer
        from alignlab.models.reward_fns import resolve_reward
        from alignlab.trainers.best_of_n import best_of_n
        from alignlab.trainers.tracking import spread

        samples = read_records(self.org / "data" / "prompts_heldout.jsonl", "sample")
        chosen = spread(samples, self.config.bon_prompts)
        prompts = [s.input for s in chosen]
        sft = self.runs / "sft" / "model"
        model, tokenizer = load_causal_lm(sft, device="cpu"), load_tokenizer(sft)
        drawn = best_of_n(
            model,
            tokenizer,
            prompts,
            resolve_reward(str(self.runs / "reward" / "model")),
            self.config.bon_ns,
            gold_fn=resolve_reward("gold"),
            seed=self.config.seed,
            max_new_tokens=48,
            progress=self.config.progress,
        )
        flat_p = [p for p, rs in zip(prompts, drawn.responses, strict=True) for _ in rs]
        flat_r = [r for rs in drawn.responses for r in rs]
        short = resolve_reward(str(self.runs / "reward-short" / "model"))(flat_p, flat_r)
        data = {
            "prompts": prompts,
            "families": np.array([s.meta.get("family", "") for s in chosen]),
            "responses": drawn.responses,
            "gold": drawn.gold,
            "proxy": drawn.proxy,
            "short": np.asarray(short).reshape(drawn.proxy.shape),
            "words": np.array([len(r.split()) for r in flat_r]).reshape(drawn.proxy.shape),
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez(
            path,
            **{k: v for k, v in data.items() if k not in ("prompts", "responses")},
            prompts=json.dumps(prompts),
            responses=json.dumps(drawn.responses),
        )
        return data

    # --- the ladder --------------------------------------------------------------

    def run(self) -> Path:
        """Run every stage (reusing finished ones), then write results.json and report.html."""
        from alignlab.report import write_report

        config = self.config
        if config.fresh:  # only what the demo wrote: OUT may hold the user's own files
            for name in ("organism", "runs", "eval"):
                shutil.rmtree(self.out / name, ignore_errors=True)
        self.out.mkdir(parents=True, exist_ok=True)
        start = time.perf_counter()
        world = self.stage("organism", self.organism)
        sft = self.stage("SFT", self.sft)
        rm = self.stage("reward model", self.reward, "reward", self.org / "data" / "prefs.jsonl")
        ensemble = self.stage(
            "reward-model ensemble",
            self.reward,
            "ensemble",
            self.org / "data" / "prefs.jsonl",
            ensemble=config.ensemble,
            max_steps=config.ensemble_steps,
        )
        self.stage("short-only reward model", self.reward, "reward-short", self.short_pairs())
        bon = self.stage("best-of-n samples", self.bon_samples)
        ppo_proxy = self.stage("PPO against the reward model", self.ppo, "ppo-proxy", str(rm))
        ppo_oracle = self.stage("PPO against gold (oracle)", self.ppo, "ppo-oracle", "gold")
        dpo = self.stage("DPO", self.dpo)
        sl_cai, ai_labels = self.stage("Constitutional AI", self.cai)
        results = self.stage(
            "evaluations",
            self.measure,
            world,
            {"sft": sft, "rm": rm, "ensemble": ensemble, "bon": bon},
            {"PPO": ppo_proxy, "PPO-oracle": ppo_oracle, "DPO": dpo, "CAI": sl_cai},
            ai_labels,
        )
        self.timings["total"] = round(time.perf_counter() - start, 2)
        results["timings"] = self.timings
        # The real-model ladder (alignlab demo --model) and --eval runs share this report.
        return write_report(self.out, results, keep=("real_ladder", "evaluations"))

    def measure(self, world: dict, models: dict, policies: dict, ai_labels: Path) -> dict:
        import torch

        from alignlab.experiments.demo.evaluate import (
            HeldOut,
            best_of_n_row,
            evaluate_policy,
        )
        from alignlab.models import load_causal_lm
        from alignlab.models.reward_fns import resolve_reward

        if self.config.threads:
            torch.set_num_threads(self.config.threads)
        config, seed = self.config, self.config.seed
        pairs, pair_gold, labels = heldout_pairs(self.org / "data" / "prefs_heldout.jsonl")
        held = HeldOut.load(self.org, pairs, pair_gold, config.eval_prompts)
        bon = models["bon"]
        curves = goodhart.bon_curves(bon["proxy"], bon["gold"], config.bon_ns, seed)
        best = max(curves[0]["points"], key=lambda p: p["gold"]["value"])
        reference = load_causal_lm(models["sft"], device="cpu")
        eval_dir = self.out / "eval"
        rows = []
        stages = [
            ("base", self.org / "base"),
            ("SFT", models["sft"]),
            ("RM-BoN", None),
            *policies.items(),
        ]
        reward_fn = resolve_reward(str(models["rm"]))
        pair_scores = {"rm": held.pair_scores(reward_fn)}
        with progress_bar(len(stages), "evaluations", enabled=config.progress, unit="stage") as bar:
            for name, model_dir in stages:
                if model_dir is None:
                    name = f"RM-BoN (n={best['pressure']})"
                    row = best_of_n_row(name, bon, best, pair_scores["rm"], held, seed, eval_dir)
                else:
                    row = evaluate_policy(
                        name, model_dir, reference, held, config.eval_samples, seed, eval_dir
                    )
                rows.append(row)
                bar(stage=name)
        for name in ("PPO", "PPO-oracle"):
            curves.append(goodhart.ppo_curve(name, read_metrics_of(policies[name])))
        return {
            "title": "alignlab demo: the alignment ladder on the assistant organism",
            "alignlab_version": __version__,
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "seed": seed,
            "config": to_dict(config),
            "organism": {"path": str(self.org), "build_key": world["build_key"]},
            "ladder": rows,
            "curves": curves,
            "reward_models": judges_against_gold(
                self.org, models, held, labels, ai_labels, pair_scores, seed
            ),
            "goodhart_forms": [
                goodhart.regressional(bon["gold"], config.bon_ns, config.noise_levels, seed),
                goodhart.extremal(
                    bon["short"],
                    bon["words"],
                    bon["gold"],
                    self.longest_short(),
                    config.bon_ns,
                    seed,
                ),
                goodhart.adversarial(*self.harm_subset(bon), config.bon_ns, seed),
            ],
        }

    def longest_short(self) -> int:
        pairs = read_records(self.runs / "reward-short.jsonl", "comparison")
        return max(max(len(c.chosen.split()), len(c.rejected.split())) for c in pairs)

    @staticmethod
    def harm_subset(bon: dict) -> tuple[list, list]:
        keep = [i for i, f in enumerate(bon["families"]) if f in ("harmful", "benign")]
        return [bon["prompts"][i] for i in keep], [bon["responses"][i] for i in keep]


def read_metrics_of(model_dir: Path) -> list[dict]:
    from alignlab.trainers import read_metrics

    return read_metrics(Path(model_dir).parent)


def run_demo(config: DemoConfig) -> Path:
    """Run the ladder as ``config`` says; returns the path of ``report.html``."""
    return Demo(config).run()
