"""Each config field is declared once: a trainer's other defaults come from with_defaults."""

import dataclasses
import inspect

import pytest

from alignlab.trainers import DPOConfig, PolicyTrainConfig, PPOConfig, TrainConfig
from alignlab.trainers.config import with_defaults

GIVEN = {"model": "m", "train_file": "t.jsonl"}
PPO_GIVEN = {"model": "m", "prompts": "p.jsonl", "eval_prompts": "h.jsonl"}


def test_ppo_and_dpo_take_their_own_defaults_without_declaring_the_fields_again():
    ppo, dpo = PPOConfig(**PPO_GIVEN), DPOConfig(**GIVEN)
    assert (ppo.lr, ppo.max_steps, ppo.batch_size, ppo.lr_schedule) == (3e-5, 100, 16, "constant")
    assert (ppo.eval_every, ppo.save_every, ppo.reward) == (20, 20, "runs/reward/model")
    assert dpo.lr == 3e-5 and TrainConfig(model="m").lr == 1e-4
    # The fields keep their place and their one declaration in the class that introduced them.
    names = [f.name for f in dataclasses.fields(PPOConfig)]
    assert names[: len(dataclasses.fields(PolicyTrainConfig))] == [
        f.name for f in dataclasses.fields(PolicyTrainConfig)
    ]
    assert "    lr: float" not in inspect.getsource(PPOConfig)


def test_with_defaults_refuses_a_field_no_base_declares():
    with pytest.raises(TypeError, match="no inherited field 'nope'"):

        @dataclasses.dataclass
        @with_defaults(nope=1)
        class Bad(TrainConfig):
            pass
