"""``alignlab demo --model``: the alignment ladder on a real model, measured on the suites.

Stages, each writing ordinary files under ``OUT/real`` and skipped when its output exists
(a stopped run resumes where it stopped):

=========================  ==========================================================
``gemma-270m/``            the base model, when ``model = "gemma"`` (GGUF import, once)
``claims/``                anti-sycophancy claims (Wei et al. 2023), filtered and not
``antisyc-filtered/``      LoRA SFT on the claims the base model judges right alone
``antisyc-unfiltered/``    the ablation: as many claims, drawn without the filter
``cai/``                   SL-CAI: the model's own critiques and revisions, and SFT on
                           them; RL-CAI: pairs of its answers labelled by itself
``dpo/``                   DPO of the SL-CAI model on its own RL-CAI labels
``reward/``                a LoRA reward model on the same labels
``eval/STAGE/``            each stage on the suites (``alignlab eval run`` layout)
=========================  ==========================================================

The best-of-n row samples the DPO policy ``bon_n`` times per prompt and answers with the
reward model's pick (:class:`~alignlab.trainers.bon_backend.BestOfNBackend`). Every row
is measured the same way (:mod:`.measure`); the section goes into ``OUT/results.json`` as
``real_ladder``, beside whatever else is there (the organism's ladder).
"""

from __future__ import annotations

import random
import shutil
import time
from collections.abc import Callable
from pathlib import Path

from alignlab import __version__
from alignlab.config import from_dict, to_dict
from alignlab.data import read_records, write_records
from alignlab.experiments.real.config import RealConfig
from alignlab.experiments.real.measure import CAI_FIRST_TOPIC, MEASURES, measure, row_metrics
from alignlab.experiments.stages import Stages
from alignlab.progress import err
from alignlab.report import merge_section


class RealLadder(Stages):
    """One run of the real-model ladder in ``config.out``; :meth:`run` does every stage."""

    def __init__(self, config: RealConfig):
        super().__init__()
        self.config = config
        self.out = Path(config.out)
        self.root = self.out / "real"
        self.notes: list[str] = []
        self.data: dict = {}

    # --- helpers ---------------------------------------------------------------

    def common(self) -> dict:
        c = self.config
        return {"seed": c.seed, "threads": c.threads, "progress": c.progress}

    def trained(self, train, config_cls, settings: dict) -> Path:
        """LoRA training unless ``output_dir/model`` exists; an unfinished run resumes."""
        from alignlab.trainers import train_or_reuse

        c = self.config
        quick = {"eval_every": 0, "save_every": 0, "lr": c.lr, "lora": {"r": c.lora_r}}
        return train_or_reuse(train, from_dict(config_cls, {**self.common(), **quick, **settings}))

    def spec(self, model: Path) -> dict:
        return {"model": str(model), "device": "cpu"}

    # --- stages ----------------------------------------------------------------

    def base(self) -> Path:
        if self.config.model != "gemma":
            path = Path(self.config.model).expanduser()
            if not path.is_dir():
                raise FileNotFoundError(f"model: {path} is not a model directory")
            return path
        from alignlab.models.gguf import gemma_gguf, import_gguf

        result = import_gguf(gemma_gguf(), self.root / "gemma-270m", say=err.print)
        return result.out

    def claims(self, base: Path) -> tuple[Path, Path]:
        """The filtered claims and as many drawn without the filter (the ablation)."""
        from alignlab.evals.suites.sycophancy import operand_pairs
        from alignlab.feedback.truth_claims import build_claims, demonstrations, judged_right
        from alignlab.models.backends.hf import HFBackend

        c, folder = self.config, self.root / "claims"
        kept_file, drawn_file = folder / "filtered.jsonl", folder / "unfiltered.jsonl"
        claims = build_claims(c.claims, c.seed, exclude=operand_pairs())
        if not kept_file.exists():
            right = judged_right(HFBackend.load(base), claims, progress=c.progress)
            kept = [claim for claim, ok in zip(claims, right, strict=True) if ok]
            if not kept:
                raise ValueError(f"{base}: judged none of {len(claims)} claims right alone")
            folder.mkdir(parents=True, exist_ok=True)
            drawn = random.Random(c.seed).sample(claims, len(kept))
            write_records(drawn_file, demonstrations(drawn, c.seed))
            write_records(kept_file, demonstrations(kept, c.seed))
        kept = list(read_records(kept_file, "demonstration"))
        true = sum(bool(d.meta.get("holds")) for d in kept)
        self.data["filter"] = {"built": len(claims), "kept": len(kept), "kept_true": true}
        err.print(f"  filter kept {len(kept)} of {len(claims)} claims, {true} of them true")
        if min(true, len(kept) - true) < 0.2 * len(kept):
            self.notes.append(
                f"The filter kept {len(kept)} of {len(claims)} claims, {true} true: the base "
                "model gives one answer to nearly every claim, so the filtered data teach "
                "that answer; the unfiltered ablation is the run that teaches the truth."
            )
        return kept_file, drawn_file

    def sft(self, name: str, model: Path, data: Path, steps: int) -> Path:
        from alignlab.trainers import SFTConfig, train_sft

        settings = {
            "model": str(model),
            "train_file": str(data),
            "output_dir": str(self.root / name),
            "max_steps": steps,
            "batch_size": self.config.batch_size,
            "max_length": 192,
        }
        return self.trained(train_sft, SFTConfig, settings)

    def cai_prompts(self) -> Path:
        from alignlab.evals.suites.refusal import training_prompts

        path = self.root / "cai" / "prompts.jsonl"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            topics = range(CAI_FIRST_TOPIC, CAI_FIRST_TOPIC + self.config.cai_topics)
            write_records(path, training_prompts(topics))
        return path

    def sl_cai(self, policy: Path) -> Path:
        """The model's own critiques and revisions of its answers, then LoRA SFT on them."""
        from alignlab.feedback import ReviseConfig, run_revise, summary

        cai = self.root / "cai"
        revisions = cai / "revisions.jsonl"
        if not (cai / "sl-cai" / "model").exists():
            counts = run_revise(
                from_dict(
                    ReviseConfig,
                    {
                        **self.common(),
                        "prompts": str(self.cai_prompts()),
                        "output": str(revisions),
                        "max_new_tokens": self.config.max_new_tokens,
                        "policy": self.spec(policy),
                        "critic": self.spec(policy),
                        "resume": revisions.exists(),
                    },
                )
            )
            self.data["sl_cai"] = counts
            err.print(f"  SL-CAI: {summary(counts)}")
        if not revisions.exists() or revisions.stat().st_size == 0:
            self.notes.append(
                "SL-CAI: the model revised none of its answers, so the SL-CAI row is the "
                "model it started from."
            )
            return policy
        return self.sft("cai/sl-cai", policy, revisions, self.config.cai_steps)

    def rl_cai_labels(self, policy: Path) -> Path:
        """Pairs of the policy's own answers, labelled by the policy as feedback model."""
        from alignlab.feedback import LabelConfig, run_label

        labels = self.root / "cai" / "rl-cai.jsonl"
        done = labels.with_suffix(".done")
        if not done.exists():
            self.data["rl_cai"] = run_label(
                from_dict(
                    LabelConfig,
                    {
                        **self.common(),
                        "prompts": str(self.cai_prompts()),
                        "policy": self.spec(policy),
                        "feedback": self.spec(policy),
                        "output": str(labels),
                        "principles_per_pair": self.config.feedback_principles,
                        "max_new_tokens": self.config.max_new_tokens,
                        "resume": labels.exists(),
                    },
                )
            )
            done.touch()
        return labels

    def dpo(self, policy: Path, labels: Path) -> Path:
        from alignlab.trainers import DPOConfig, train_dpo

        settings = {
            "model": str(policy),
            "train_file": str(labels),
            "output_dir": str(self.root / "dpo"),
            "max_steps": self.config.cai_steps,
            "batch_size": 4,
            "beta": self.config.dpo_beta,
            "max_length": 192,
        }
        return self.trained(train_dpo, DPOConfig, settings)

    def reward(self, base: Path, labels: Path) -> Path:
        from alignlab.trainers import RewardConfig, train_reward

        settings = {
            "model": str(base),
            "train_file": str(labels),
            "output_dir": str(self.root / "reward"),
            "max_steps": self.config.cai_steps,
            "batch_size": self.config.batch_size,
            "max_length": 192,
        }
        return self.trained(train_reward, RewardConfig, settings)

    def evaluate(self, folder: str, name: str, what: str, backend_for: Callable) -> dict:
        c = self.config
        folder = self.root / "eval" / folder
        summary = measure(backend_for, folder, c.eval_limit, c.max_new_tokens, c.seed, c.progress)
        return {"stage": name, "model": what, "run": str(folder), "metrics": row_metrics(summary)}

    # --- the ladder --------------------------------------------------------------

    def run(self) -> Path:
        """Run every stage (reusing finished ones), then write the report's section."""
        from alignlab.models.backends.hf import HFBackend
        from alignlab.models.reward_fns import resolve_reward
        from alignlab.trainers.bon_backend import BestOfNBackend

        c = self.config
        if c.fresh:
            shutil.rmtree(self.root, ignore_errors=True)
        self.root.mkdir(parents=True, exist_ok=True)
        if c.threads:
            import torch

            torch.set_num_threads(c.threads)
        start = time.perf_counter()
        base = self.stage("base model", self.base)
        filtered, unfiltered = self.stage("anti-sycophancy claims", self.claims, base)
        sft = self.stage(
            "anti-sycophancy SFT", self.sft, "antisyc-filtered", base, filtered, c.sft_steps
        )
        ablation = self.stage(
            "ablation: SFT without the filter",
            self.sft,
            "antisyc-unfiltered",
            base,
            unfiltered,
            c.sft_steps,
        )
        sl_cai = self.stage("SL-CAI", self.sl_cai, sft)
        labels = self.stage("RL-CAI labels", self.rl_cai_labels, sl_cai)
        dpo = self.stage("DPO on RL-CAI labels", self.dpo, sl_cai, labels)
        rm = self.stage("LoRA reward model", self.reward, base, labels)

        def local(path: Path) -> Callable:
            return lambda: HFBackend.load(path, device="cpu")

        def best_of_n():
            return BestOfNBackend(
                HFBackend.load(dpo, device="cpu"), resolve_reward(str(rm)), c.bon_n, seed=c.seed
            )

        stages = [  # (eval folder, row name, what the row is, how to load it)
            ("base", "base", str(base), local(base)),
            ("antisyc-filtered", "anti-sycophancy SFT", str(sft), local(sft)),
            ("antisyc-unfiltered", "ablation: SFT unfiltered", str(ablation), local(ablation)),
            ("sl-cai", "SL-CAI", str(sl_cai), local(sl_cai)),
            ("dpo", "RL-CAI DPO", str(dpo), local(dpo)),
            (
                "bon",
                f"best-of-{c.bon_n} (LoRA RM)",
                f"best-of-{c.bon_n} of {dpo} by {rm}",
                best_of_n,
            ),
        ]
        rows = [
            self.stage(f"measure {name}", self.evaluate, folder, name, what, fn)
            for folder, name, what, fn in stages
        ]
        self.timings["total"] = round(time.perf_counter() - start, 2)
        section = {
            "model": "Gemma 3 270M base" if c.model == "gemma" else str(c.model),
            "config": to_dict(c),
            "columns": {name: m.label for name, m in MEASURES.items()},
            "rows": rows,
            "data": self.data,
            "notes": self.notes,
            "timings": self.timings,
            "alignlab_version": __version__,
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }
        return merge_section(self.out, "real_ladder", section, title=f"alignlab demo on {c.model}")


def run_real(config: RealConfig) -> Path:
    """Run the real-model ladder as ``config`` says; returns the path of ``report.html``."""
    return RealLadder(config).run()
