"""PPO-RLHF: optimize a policy against a learned reward, leashed to its reference by KL
(Ziegler et al. 2019; Stiennon et al. 2020; Ouyang et al. 2022).

Each PPO step samples one response to each of ``rollout_size`` prompts, scores them with
the reward (:mod:`alignlab.trainers.rollout`: the score on the last token, a KL penalty
``kl_coef`` on every token), and runs ``ppo_epochs`` passes of minibatch updates of the
clipped policy and value losses (Schulman et al. 2017) over them. ``kl_coef`` is fixed,
or adapts towards ``kl_target`` (:mod:`alignlab.trainers.kl_control`).

The critic is a scalar value head on the policy's last hidden states
(:class:`~alignlab.trainers.rollout.ActorCritic`), zero at the start, not a separate
network started from the policy or the reward model: one forward pass yields both the
log-probs and the values, in the rollout and in every update, which saves about a third of
a step (on a small model the forward and backward passes are most of it). Value-loss
gradients reach the policy's trunk; ``vf_coef`` keeps them small, and on the organism
stopping them changed no metric measurably.

A run writes the directory of :mod:`alignlab.trainers.rundir`. Each ``metrics.jsonl`` line
holds one PPO step: on its rollout, ``proxy/mean`` (the reward), ``kl`` (sequence-level, to
the reference), ``kl_coef``, ``response/length``, with a ``gold`` spec ``gold/mean`` and with
a ``judge`` the ``gold/<category>`` and ``gold/padded`` rates; of its update,
``policy_loss``, ``value_loss``, ``entropy``, ``approx_kl``, ``clipfrac``; and ``time/*``
seconds. At evaluation steps (step 0 is the untrained policy), when ``eval_prompts`` are
given, the policy samples on those held-out prompts and :mod:`alignlab.trainers.tracking` adds its metrics under
``eval/``. Checkpoints hold the weights, value head, optimizer, RNG and the KL coefficient;
a step's prompts and sampling seed follow from ``(seed, step)`` alone, so a resumed run
repeats an uninterrupted one's numbers.

With ``rollout_base_url`` a server samples the rollouts' responses, after
:mod:`alignlab.trainers.weight_sync` has made it serve the step's policy (``time/sync``
is what that took); everything else runs here as without one.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import numpy as np
import torch
from accelerate.utils import broadcast_object_list, gather_object
from torch import Tensor

from alignlab.data.io import read_records
from alignlab.models.loading import load_tokenizer
from alignlab.models.reward_fns import RewardFn, resolve_judge, resolve_reward
from alignlab.objectives import entropy_bonus, policy_loss, token_logps, value_loss
from alignlab.progress import progress_bar
from alignlab.trainers.config import PPOConfig
from alignlab.trainers.guard import check_finite, finite_weights, stop_run
from alignlab.trainers.kl_control import kl_controller
from alignlab.trainers.loop import follow_config, make_scheduler
from alignlab.trainers.policy import load_policy, load_reference
from alignlab.trainers.processes import make_accelerator
from alignlab.trainers.rollout import (
    ActorCritic,
    Rollout,
    collect_rollout,
    judge_rates,
    prompt_indices,
    rollout_seed,
)
from alignlab.trainers.rundir import (
    CheckpointError,
    MetricsLog,
    checkpoint_step,
    latest_checkpoint,
    load_checkpoint,
    mark_good,
    prepare_run_dir,
    save_checkpoint,
)
from alignlab.trainers.tracking import PolicyEvaluator, spread
from alignlab.trainers.weight_sync import RolloutServer

PPO_STATE = "ppo_state.json"


def ppo_loss(model: ActorCritic, minibatch: dict[str, Tensor], config: PPOConfig):
    """``policy_loss + vf_coef value_loss - entropy_coef entropy`` of a rollout minibatch,
    and its metrics."""
    logits, values = model(minibatch)
    mb = {k: v.to(logits.device) for k, v in minibatch.items()}
    mask = mb["mask"]
    logps = torch.where(mask, token_logps(logits, mb["input_ids"]), mb["old_logps"])
    p_loss, p_metrics = policy_loss(
        logps, mb["old_logps"], mb["advantages"], mask, clip_range=config.clip_range
    )
    v_loss, v_metrics = value_loss(
        values[:, :-1],
        mb["old_values"],
        mb["returns"],
        mask,
        clip_range_value=config.clip_range_value,
    )
    with torch.set_grad_enabled(config.entropy_coef > 0 and torch.is_grad_enabled()):
        entropy = entropy_bonus(logits[:, :-1], mask)
    loss = p_loss + config.vf_coef * v_loss - config.entropy_coef * entropy
    metrics = {"policy_loss": p_loss, "value_loss": v_loss, "entropy": entropy}
    return loss, {k: v.detach() for k, v in {**metrics, **p_metrics, **v_metrics}.items()}


def _mean_over_processes(rows: list[dict[str, float]]) -> dict[str, float]:
    """Each key's mean over the processes' rows; a rate one process lacks counts as 0."""
    keys = sorted({k for row in rows for k in row})
    return {k: sum(row.get(k, 0.0) for row in rows) / len(rows) for k in keys}


class PPOTrainer:
    """The state of a PPO run and its three moves: roll out, update, log."""

    def __init__(
        self,
        config: PPOConfig,
        *,
        reward_fn: RewardFn | None = None,
        gold_fn: RewardFn | None = None,
    ):
        """``reward_fn`` and ``gold_fn``, when given, are used instead of resolving
        ``config.reward`` and ``config.gold``, which then only name them in the run's
        config (a Python caller's reward that no spec can name: the red team's target)."""
        self.config = config
        self.run_dir = Path(config.output_dir)
        prepare_run_dir(self.run_dir, config, resume=config.resume)
        self.prompts = [s.input for s in read_records(config.prompts, "sample")]
        if not self.prompts:
            raise ValueError(f"prompts: {config.prompts} holds no prompts")
        self.tokenizer = load_tokenizer(
            config.model,
            trust_remote_code=config.trust_remote_code,
            chat_template=config.chat_template,
        )
        self.accelerator = accelerator = make_accelerator(config)
        device = accelerator.device
        self.reward_fn = reward_fn
        if reward_fn is None:
            self.reward_fn = resolve_reward(
                config.reward, device=device, batch_size=config.forward_batch_size
            )
        self.gold_fn = gold_fn
        if gold_fn is None and config.gold is not None:
            self.gold_fn = resolve_reward(config.gold, device=device)
        self.judge = None if config.judge is None else resolve_judge(config.judge)
        self.reference = load_reference(config, device)
        self.evaluate = None if config.eval_prompts is None else self._evaluator()
        self.controller = kl_controller(config.kl_coef, config.kl_target, config.kl_horizon)
        model = ActorCritic(load_policy(config, device))
        params = [p for p in model.parameters() if p.requires_grad]
        optimizer = torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)
        self.model, self.optimizer = accelerator.prepare(model, optimizer)
        per_process = config.rollout_size * accelerator.num_processes
        self.total = config.max_steps or config.epochs * math.ceil(len(self.prompts) / per_process)
        schedule = make_scheduler(
            config, optimizer, self.total * config.updates_per_step, accelerator
        )
        self.scheduler = accelerator.prepare(schedule)
        accelerator.register_save_state_pre_hook(self._save_ppo_state)
        self.metrics = MetricsLog(self.run_dir / "metrics.jsonl")
        self.rollout_server = None
        if config.rollout_base_url is not None and config.weight_sync != "local":
            self.rollout_server = RolloutServer(
                config.rollout_base_url,
                config.weight_sync,
                self.run_dir / "served",
                server=config.rollout_server,
                api_key_env=config.rollout_api_key_env,
                concurrency=config.rollout_concurrency,
            )

    def _evaluator(self) -> PolicyEvaluator:
        """The held-out evaluation, sharing the run's reward, gold and judge."""
        config = self.config
        samples = read_records(config.eval_prompts, "sample")
        if not samples:
            raise ValueError(f"eval_prompts: {config.eval_prompts} holds no prompts")
        return PolicyEvaluator(
            prompts=[s.input for s in spread(samples, config.eval_max_prompts)],
            tokenizer=self.tokenizer,
            reference=self.reference,
            reward_fn=self.reward_fn,
            gold_fn=self.gold_fn,
            judge=self.judge,
            max_new_tokens=config.eval_max_new_tokens,
            temperature=config.eval_temperature,
            batch_size=config.eval_batch_size,
            seed=config.seed,
        )

    def _save_ppo_state(self, models, weights, output_dir: str) -> None:
        if self.accelerator.is_main_process:
            state = json.dumps(self.controller.state_dict())
            (Path(output_dir) / PPO_STATE).write_text(state, encoding="utf-8")

    def _resume(self) -> int:
        """Load the last checkpoint when resuming; return the step it was taken after."""
        checkpoint = latest_checkpoint(self.run_dir) if self.config.resume else None
        if checkpoint is None:
            return 0
        load_checkpoint(self.accelerator, checkpoint)
        follow_config(self.config, self.optimizer, self.scheduler)
        try:
            self.controller.load_state_dict(json.loads((checkpoint / PPO_STATE).read_text()))
        except (KeyError, ValueError, TypeError, OSError) as e:
            raise CheckpointError(f"{checkpoint / PPO_STATE}: unreadable ({e})") from None
        return checkpoint_step(checkpoint)

    @property
    def policy(self) -> torch.nn.Module:
        return self.accelerator.unwrap_model(self.model).policy

    def _rollout_backend(self, step: int):
        """The backend serving the policy for ``step``'s rollout; ``None``: sample locally.
        The main process syncs the weights, and every process asks for what it serves."""
        if self.rollout_server is None:
            return None
        model = [None]
        if self.accelerator.is_main_process:
            model = [self.rollout_server.sync(self.policy, self.tokenizer, step - 1)]
        return self.rollout_server.backend(broadcast_object_list(model)[0])

    def rollout(self, step: int) -> tuple[Rollout, dict[str, float]]:
        """Sample and score this process's rollout of ``step``; return it and its metrics."""
        config, accelerator = self.config, self.accelerator
        process, size = accelerator.process_index, config.rollout_size
        start = ((step - 1) * accelerator.num_processes + process) * size
        indices = prompt_indices(len(self.prompts), size, config.seed, start)
        timer = time.perf_counter()
        backend = self._rollout_backend(step)
        synced = time.perf_counter() - timer
        rollout, times = collect_rollout(
            accelerator.unwrap_model(self.model),
            self.reference,
            self.tokenizer,
            [self.prompts[i] for i in indices],
            self.reward_fn,
            max_new_tokens=config.max_new_tokens,
            batch_size=config.forward_batch_size,
            seed=rollout_seed(config.seed, step, process),
            length_penalty_coef=config.length_penalty,
            length_penalty_from=config.length_penalty_from,
            backend=backend,
        )
        if self.rollout_server is not None:
            times["time/sync"] = synced
        metrics = rollout.summary(self.controller.kl_coef)
        if self.gold_fn is not None:
            metrics["gold/mean"] = float(np.mean(self.gold_fn(rollout.prompts, rollout.texts)))
        if self.judge is not None:
            metrics.update(judge_rates(self.judge, rollout.prompts, rollout.texts))
        return rollout, {**metrics, **times}

    def update(self, rollout: Rollout, step: int) -> dict[str, float]:
        """``ppo_epochs`` passes of clipped minibatch updates over ``rollout``; mean metrics."""
        config, accelerator = self.config, self.accelerator
        token_tensors = rollout.targets(
            self.controller.kl_coef,
            estimator=config.kl_estimator,
            gamma=config.gamma,
            lam=config.lam,
            whiten_rewards=config.whiten_rewards,
            whiten_advantages=config.whiten_advantages,
        )
        rng = np.random.default_rng([config.seed, step])
        sums: dict[str, float] = {}
        count, grad_norms = 0, []
        for _ in range(config.ppo_epochs):
            order = rng.permutation(config.rollout_size)
            for start in range(0, config.rollout_size, config.batch_size):
                rows = order[start : start + config.batch_size]
                minibatch = rollout.minibatch(rows, **token_tensors)
                with accelerator.accumulate(self.model):
                    loss, metrics = ppo_loss(self.model, minibatch, config)
                    check_finite(accelerator, loss, "loss", step, self.run_dir)
                    if count == 0:  # a finite loss of the last step's weights: good
                        mark_good(accelerator, self.run_dir, step - 1)
                    accelerator.backward(loss)
                    if accelerator.sync_gradients:
                        max_norm = config.max_grad_norm or math.inf
                        norm = accelerator.clip_grad_norm_(self.model.parameters(), max_norm)
                        check_finite(accelerator, norm, "gradient norm", step, self.run_dir)
                        grad_norms.append(float(norm))
                    self.optimizer.step()
                    self.scheduler.step()
                    self.optimizer.zero_grad()
                for name, value in {**metrics, "loss": loss.detach()}.items():
                    sums[name] = sums.get(name, 0.0) + float(value)
                count += 1
        out = {name: total / count for name, total in sums.items()}
        out["returns/mean"] = float(token_tensors["returns"][rollout.mask].mean())
        out["grad_norm"] = float(np.mean(grad_norms))
        out["lr"] = self.optimizer.param_groups[0]["lr"]
        return out

    def _due(self, step: int) -> tuple[bool, bool, bool]:
        """Whether ``step`` evaluates, checkpoints, and is logged."""
        config = self.config
        evaluating = self.evaluate is not None and (
            step in (0, self.total) or bool(config.eval_every and step % config.eval_every == 0)
        )
        saving = bool(step and config.save_every and step % config.save_every == 0)
        logging = (
            evaluating
            or saving
            or step == self.total
            or (step > 0 and step % config.log_every == 0)
        )
        return evaluating, saving, logging

    def _log(self, row: dict[str, float]) -> None:
        """Evaluate if due, append ``row`` to metrics.jsonl if due, checkpoint if due."""
        accelerator, step = self.accelerator, row["step"]
        evaluating, saving, logging = self._due(step)
        if evaluating:
            if accelerator.is_main_process:
                timer = time.perf_counter()
                for name, value in self.evaluate(self.policy).items():
                    row[name if name.startswith("eval/") else f"eval/{name}"] = value
                row["time/eval"] = time.perf_counter() - timer
            accelerator.wait_for_everyone()
        if logging and accelerator.is_main_process:
            self.metrics.append(row)
        if saving:
            if not finite_weights(self.model):
                stop_run(
                    accelerator, self.run_dir, f"step {step}: the weights are no longer finite"
                )
            save_checkpoint(accelerator, self.run_dir, step, self.config.keep_checkpoints)

    def train(self) -> torch.nn.Module:
        """Run the PPO steps still to do; return the trained :class:`ActorCritic`."""
        config, accelerator = self.config, self.accelerator
        step = self._resume()
        if accelerator.is_main_process:
            self.metrics.truncate(step)
        per_epoch = len(self.prompts) / (config.rollout_size * accelerator.num_processes)
        if step == 0:
            self._log({"step": 0, "epoch": 0.0})
        enabled = config.progress and accelerator.is_main_process
        with progress_bar(self.total, "ppo", enabled=enabled, unit="step") as advance:
            advance(step)
            while step < self.total:
                step += 1
                started = time.perf_counter()
                rollout, rollout_metrics = self.rollout(step)
                rollout_metrics["time/rollout"] = time.perf_counter() - started
                timer = time.perf_counter()
                update_metrics = self.update(rollout, step)
                update_metrics["time/train"] = time.perf_counter() - timer
                local = {**rollout_metrics, **update_metrics}
                row = {"step": step, "epoch": round(step / per_epoch, 4)}
                row.update(_mean_over_processes(gather_object([local])))
                row["tokens_per_s"] = float(rollout.lengths.sum()) / (time.perf_counter() - started)
                self.controller.update(row["kl"], config.rollout_size * accelerator.num_processes)
                self._log(row)
                advance(1, proxy=f"{row['proxy/mean']:.3f}", kl=f"{row['kl']:.2f}")
        accelerator.wait_for_everyone()
        return accelerator.unwrap_model(self.model)


def train_ppo(
    config: PPOConfig, *, reward_fn: RewardFn | None = None, gold_fn: RewardFn | None = None
) -> Path:
    """Optimize ``config.model`` against ``config.reward`` (or ``reward_fn``, see
    :class:`PPOTrainer`) with PPO; return the model directory."""
    trainer = PPOTrainer(config, reward_fn=reward_fn, gold_fn=gold_fn)
    trained = trainer.train()
    if trainer.accelerator.is_main_process:
        trained.save(trainer.tokenizer, trainer.run_dir / "model", merge_lora=config.merge_lora)
    trainer.accelerator.wait_for_everyone()
    return trainer.run_dir / "model"
