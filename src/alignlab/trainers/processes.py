"""Forming a run's processes: the accelerator, and a warning when a launch formed less.

alignlab has no launcher of its own: ``torchrun`` or ``accelerate launch`` starts the
processes, and accelerate forms them into a group (NCCL on GPUs, gloo on CPUs).
:func:`make_accelerator` builds the run's accelerator, and :func:`launcher_mismatch`
compares what formed with what the launcher asked for.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping

import torch
from accelerate import Accelerator
from accelerate.utils import set_seed

from alignlab.trainers.config import TrainConfig

_SHARDING = {"ACCELERATE_USE_FSDP": "FSDP", "ACCELERATE_USE_DEEPSPEED": "DEEPSPEED"}
"""The launcher's environment variable asking for each sharding engine, and its name."""


def launcher_mismatch(formed: int, kind: str, env: Mapping[str, str] = os.environ) -> str | None:
    """How the run accelerate formed (``formed`` processes of distributed type ``kind``)
    differs from what the launcher asked for, or ``None``.

    The processes asked for are ``WORLD_SIZE`` (torchrun, ``accelerate launch --multi_gpu``;
    MPI's names too); ``accelerate launch --cpu --num_processes N`` sets only
    ``MASTER_ADDR`` and starts one process. A config asking for FSDP or DeepSpeed sets
    ``ACCELERATE_USE_FSDP`` or ``ACCELERATE_USE_DEEPSPEED``; accelerate shards with them only
    on accelerators and otherwise runs plain data parallel.
    """
    for name, engine in _SHARDING.items():
        if env.get(name, "").lower() == "true" and kind != engine:
            return f"the launcher asked for {engine} but accelerate runs {kind} (no sharding)"
    for name in ("WORLD_SIZE", "PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "MV2_COMM_WORLD_SIZE"):
        if env.get(name, "").isdigit():
            asked = int(env[name])
            if asked == formed:
                return None
            return f"the launcher asked for {asked} processes ({name}) but {formed} formed"
    if "MASTER_ADDR" in env and formed == 1:
        return "the launcher set MASTER_ADDR for several processes but started one"
    return None


def make_accelerator(config: TrainConfig) -> Accelerator:
    """The accelerator for a run, with the run's seed set everywhere.

    On a machine without an accelerator the run is a CPU run (accelerate's multi-CPU mode
    under ``torchrun`` or ``accelerate launch``, over gloo); a launcher that asked for more
    processes than accelerate formed gets a warning, never a silent single process.
    """
    if config.threads:
        torch.set_num_threads(config.threads)
    accelerator = Accelerator(
        gradient_accumulation_steps=config.grad_accum,
        mixed_precision=config.mixed_precision,
        cpu=config.cpu or not torch.accelerator.is_available(),
    )
    kind = accelerator.distributed_type.value
    mismatch = launcher_mismatch(accelerator.num_processes, kind)
    if mismatch is not None:
        warnings.warn(
            f"{mismatch}. Several processes: torchrun --nproc_per_node N -m alignlab.cli ..., "
            "or accelerate launch --num_processes N --multi_gpu (torchrun, on GPUs or CPUs "
            "alike); FSDP and DeepSpeed need GPUs (README: several processes)",
            stacklevel=2,
        )
    set_seed(config.seed)
    return accelerator
