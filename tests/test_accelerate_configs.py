"""The accelerate configs in configs/accelerate/ load as ``accelerate launch`` reads them.

Each file goes through accelerate's own launcher: its parser and validation, then the
environment it hands the training processes, from which accelerate's plugins build
themselves. The DDP and FSDP files also train with 2 CPU processes in
test_trainers_distributed.py; an Accelerator that shards (FSDP, DeepSpeed) needs GPUs, so
those parts are skipped here with that reason.
"""

import importlib.util
from pathlib import Path

import pytest
import torch
from accelerate.commands.config.config_args import load_config_from_file
from accelerate.commands.launch import _validate_launch_command, launch_command_parser
from accelerate.utils import DeepSpeedPlugin, FullyShardedDataParallelPlugin
from accelerate.utils.launch import prepare_deepspeed_cmd_env, prepare_multi_gpu_env

CONFIGS = Path(__file__).parent.parent / "configs" / "accelerate"
FILES = ["ddp.yaml", "fsdp.yaml", "deepspeed_zero2.yaml", "deepspeed_zero3.yaml"]
GPUS = torch.cuda.device_count()


def launch_env(name: str) -> dict[str, str]:
    """The environment ``accelerate launch --config_file NAME`` gives its processes."""
    args = launch_command_parser().parse_args(["--config_file", str(CONFIGS / name), "train.py"])
    args, defaults, _ = _validate_launch_command(args)
    if args.use_deepspeed:
        args.deepspeed_fields_from_accelerate_config = ",".join(defaults.deepspeed_config)
        return prepare_deepspeed_cmd_env(args)[1]
    return prepare_multi_gpu_env(args)


def test_every_config_is_here_and_commented():
    assert sorted(p.name for p in CONFIGS.glob("*.yaml")) == sorted(FILES)
    for name in FILES:
        text = (CONFIGS / name).read_text()
        assert text.startswith("#") and "accelerate launch --config_file" in text, name


def test_ddp_is_plain_data_parallel():
    config = load_config_from_file(str(CONFIGS / "ddp.yaml"))
    assert config.distributed_type == "MULTI_GPU"
    env = launch_env("ddp.yaml")
    assert "ACCELERATE_USE_FSDP" not in env and "ACCELERATE_USE_DEEPSPEED" not in env


def test_fsdp_is_fsdp2_full_shard_wrapping_decoder_layers(monkeypatch):
    env = launch_env("fsdp.yaml")
    assert env["ACCELERATE_USE_FSDP"] == "true"
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    plugin = FullyShardedDataParallelPlugin()
    assert plugin.fsdp_version == 2
    assert plugin.reshard_after_forward is True  # full shard
    assert plugin.auto_wrap_policy.__name__ == "transformer_auto_wrap_policy"
    assert plugin.state_dict_type.name == "FULL_STATE_DICT"
    assert plugin.cpu_ram_efficient_loading  # rank 0 reads the weights, the rest get shards


@pytest.mark.parametrize(
    ("name", "stage"), [("deepspeed_zero2.yaml", 2), ("deepspeed_zero3.yaml", 3)]
)
def test_deepspeed_configs_set_their_zero_stage(name, stage, monkeypatch):
    env = launch_env(name)
    assert env["ACCELERATE_USE_DEEPSPEED"] == "true"
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    plugin = DeepSpeedPlugin()
    assert plugin.zero_stage == stage
    # alignlab accumulates no micro-batches under DeepSpeed (its loop normalizes the step)
    assert plugin.deepspeed_config["gradient_accumulation_steps"] == 1
    assert plugin.deepspeed_config["zero_optimization"]["stage"] == stage


@pytest.mark.skipif(
    importlib.util.find_spec("deepspeed") is None or GPUS == 0,
    reason="a DeepSpeed Accelerator needs the deepspeed package and a GPU",
)
@pytest.mark.parametrize("name", ["deepspeed_zero2.yaml", "deepspeed_zero3.yaml"])
def test_deepspeed_builds_an_accelerator(name, monkeypatch):
    from accelerate import Accelerator

    for key, value in launch_env(name).items():
        monkeypatch.setenv(key, value)
    accelerator = Accelerator()
    assert accelerator.distributed_type.value == "DEEPSPEED"
