"""``transformers serve`` on loopback, for tests and benchmarks that need a real server.

:func:`transformers_serve` starts it on the first free port of 8790-8799 (127.0.0.1 only,
on the CPU), waits for ``/health``, yields its base URL (``http://127.0.0.1:PORT/v1``),
and stops it and the model processes it started (its own process group) on exit.
Without a model it loads any model directory a request names on demand; ``model``
pins it to one. :func:`serving_available` says whether fastapi and uvicorn, which it
needs, are installed.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import httpx

PORTS = range(8790, 8800)


def serving_available() -> bool:
    return all(importlib.util.find_spec(name) for name in ("fastapi", "uvicorn"))


def free_port(ports: Sequence[int] = PORTS) -> int:
    for port in ports:
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {ports[0]}-{ports[-1]} for transformers serve")


@contextlib.contextmanager
def transformers_serve(
    model: str | Path | None = None,
    *args: str,
    model_timeout: int = 10,
    startup_timeout: float = 120.0,
    threads: int | None = None,
) -> Iterator[str]:
    """Run ``transformers serve [model] [args]`` on loopback; yield its base URL. ``threads``
    sets its torch threads (``OMP_NUM_THREADS``): on a CPU that other work shares, one
    thread answers several times faster than as many as there are cores."""
    port = free_port()
    command = [str(Path(sys.executable).with_name("transformers")), "serve"]
    command += [*([str(model)] if model is not None else []), "--host", "127.0.0.1"]
    command += ["--port", str(port), "--device", "cpu", "--model-timeout", str(model_timeout)]
    command += list(args)
    env = {**os.environ, **({"OMP_NUM_THREADS": str(threads)} if threads else {})}
    with tempfile.NamedTemporaryFile("w+", prefix="transformers-serve-", suffix=".log") as log:
        process = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, env=env
        )
        try:
            yield _wait_until_up(process, f"http://127.0.0.1:{port}", log, startup_timeout)
        finally:
            _stop(process)


def _wait_until_up(process: subprocess.Popen, root: str, log, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            log.seek(0)
            raise RuntimeError(f"transformers serve exited: {log.read()[-2000:]}")
        try:
            if httpx.get(f"{root}/health", timeout=2).status_code == 200:
                return f"{root}/v1"
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"transformers serve not up after {timeout} s")
        time.sleep(0.5)


def _stop(process: subprocess.Popen) -> None:
    """Stop the server and the model processes it started (its process group)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
