"""Shared test set-up: one torch thread (tiny models gain nothing from more, and two
test processes on two cores would fight), a private organism cache, and a tiny causal LM
for each test module that asks for ``lm_dir``, and the SFT demonstrations of the
training-loop tests (``train_file``)."""

import os

import pytest

from alignlab.data.io import write_records
from tiny_models import write_tiny_causal_lm

DEMOS = [
    {"prompt": f"what is {a} + {b} ?", "completion": f"{a} + {b} = {a + b} ."}
    for a in range(4)
    for b in range(3)
]
"""Twelve arithmetic demonstrations, the SFT data of the training-loop tests."""

os.environ.setdefault("OMP_NUM_THREADS", "1")


def pytest_configure(config):
    try:
        import torch
    except ImportError:
        return
    torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _private_cache(tmp_path_factory, monkeypatch):
    """Builds in tests never read or write the user's organism cache."""
    monkeypatch.setenv("ALIGNLAB_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))


@pytest.fixture(scope="module")
def lm_dir(tmp_path_factory):
    """A tiny random Llama and its tokenizer, saved with ``save_pretrained``; one per module,
    so a test that writes into it cannot reach another module's."""
    return write_tiny_causal_lm(tmp_path_factory.mktemp("lm"))


@pytest.fixture(scope="module")
def train_file(tmp_path_factory):
    """:data:`DEMOS` as an SFT file, one per module."""
    path = tmp_path_factory.mktemp("data") / "sft.jsonl"
    write_records(path, DEMOS)
    return path
