"""Shared test set-up: one torch thread (tiny models gain nothing from more, and two
test processes on two cores would fight), and a private organism cache."""

import os

import pytest

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
