"""An OpenAI-compatible chat server on loopback, for tests and benchmarks, with fault injection.

``python tests/openai_server.py --model DIR`` serves ``POST /v1/chat/completions``
on 127.0.0.1 through :class:`~alignlab.models.backends.hf.HFBackend` (first-token
``logprobs`` included when asked for) and prints ``listening on URL`` once ready.
Concurrent requests are batched together, up to ``--max-batch``. Without
``--model`` it answers every prompt with :func:`canned_answer` (no model, no torch).

Faults are injected by request number (1-based, counting every POST):
``--faults 2:timeout,4:429,6:500,8:malformed,10:truncated`` makes request 2 answer
only after ``--fault-delay`` seconds, request 4 answer 429 with ``Retry-After``
(``--retry-after``), request 6 answer 500, request 8 answer 200 with a body that
is not JSON, and request 10 send half its body and close the connection. Or
``--fault-rate 0.1 --fault-seed 0`` injects a random fault of ``--fault-kinds``
into 10% of requests. Every kind is in :data:`FAULTS`:

- ``timeout`` (also ``hang``): answer only after ``--fault-delay`` seconds.
- ``429``, ``500``: that status, with the server's error message.
- ``malformed`` (also ``garbage``): HTTP 200 whose body is not JSON.
- ``truncated`` (also ``reset``): half the body, then the connection is shut.
- ``dribble``: the body one byte every ``--dribble`` seconds.
- ``no-choices``: HTTP 200 with ``"choices": []``.
- ``null-content``: ``message.content`` is ``null`` (``finish_reason="stop"``).
- ``content-filter``: ``content`` is ``""`` with ``finish_reason="content_filter"``.
- ``message-string``: ``message`` is a string; ``content-int``: ``content`` is 42.

``--log FILE`` appends each request's number, fault and messages as a JSON line.
:func:`serve` starts the server as a process and yields its base URL;
:class:`LoopbackServer` runs it in a thread of the test's own process, where a
test can choose each request's fault with a function.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import queue
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

FAULTS = (
    "timeout",
    "hang",
    "429",
    "500",
    "malformed",
    "garbage",
    "truncated",
    "reset",
    "dribble",
    "no-choices",
    "null-content",
    "content-filter",
    "message-string",
    "content-int",
)
FaultFor = Callable[[int, dict], "str | None"]
"""Given a request's number and body, the fault to inject into it, or ``None``."""


def parse_faults(spec: str) -> dict[int, str]:
    """``"2:timeout,4:429"`` as ``{2: "timeout", 4: "429"}``."""
    faults = {}
    for item in filter(None, (part.strip() for part in spec.split(","))):
        number, _, kind = item.partition(":")
        if kind not in FAULTS or not number.isdigit():
            raise ValueError(f"--faults: {item!r} is not N:KIND with KIND one of {FAULTS}")
        faults[int(number)] = kind
    return faults


def random_faults(rate: float, kinds: tuple[str, ...], seed: int) -> FaultFor:
    """A fault of ``kinds`` for a share ``rate`` of requests, drawn by request number."""

    def fault_for(number: int, body: dict) -> str | None:
        draw = random.Random(f"{seed}:{number}")
        return draw.choice(kinds) if draw.random() < rate else None

    return fault_for


def canned_answer(body: dict) -> tuple[list[str], list[str], dict]:
    """Texts, finish reasons and usage for a request, without a model: a short fixed reply."""
    last = body["messages"][-1]["content"]
    texts = [f"Here is a short answer to: {last[:40]}" for _ in range(body.get("n", 1))]
    return texts, ["stop"] * len(texts), {"prompt_tokens": len(last.split())}


class Server(ThreadingHTTPServer):
    """A threading HTTP server whose listen queue takes a burst of concurrent connections."""

    daemon_threads = True
    request_queue_size = 128  # the default 5 drops SYNs at concurrency 16: 1 s stalls


class Batcher:
    """Generates queued requests in batches of up to ``max_batch``, waiting ``wait`` s for more."""

    def __init__(self, backend, max_batch: int, wait: float):
        self.backend, self.max_batch, self.wait = backend, max_batch, wait
        self.queue: queue.Queue = queue.Queue()
        threading.Thread(target=self._loop, daemon=True).start()

    def submit(self, request):
        future: Future = Future()
        self.queue.put((request, future))
        return future.result()

    def _loop(self) -> None:
        while True:
            jobs = [self.queue.get()]
            deadline = time.monotonic() + self.wait
            while len(jobs) < self.max_batch:
                try:
                    jobs.append(self.queue.get(timeout=max(0.0, deadline - time.monotonic())))
                except queue.Empty:
                    break
            try:
                completions = self.backend.generate([request for request, _ in jobs])
            except Exception as error:  # handed to every waiting request
                for _, future in jobs:
                    future.set_exception(error)
                continue
            for (_, future), completion in zip(jobs, completions, strict=True):
                future.set_result(completion)


def model_answer(backend, batcher: Batcher) -> Callable[[dict], tuple[list, list, dict, Any]]:
    """Answers from a local model: texts, finish reasons, usage and first-token logprobs."""
    from alignlab.models.backends import GenerationRequest

    def answer(body: dict):
        request = GenerationRequest(
            body["messages"],
            max_new_tokens=body.get("max_tokens", 256),
            temperature=body.get("temperature", 1.0),
            top_p=body.get("top_p", 1.0),
            seed=body.get("seed"),
            stop=tuple(body.get("stop") or ()),
            n=body.get("n", 1),
        )
        completion = batcher.submit(request)
        logprobs = None
        if body.get("logprobs"):
            top = backend.top_logprobs(request.prompt, int(body.get("top_logprobs") or 1))
            first = {"token": top[0][0], "logprob": top[0][1]}
            alternatives = [{"token": t, "logprob": lp} for t, lp in top]
            logprobs = {"content": [{**first, "top_logprobs": alternatives}]}
        return list(completion.texts), list(completion.finish_reasons), completion.usage, logprobs

    return answer


def _choices(texts, reasons, fault: str | None) -> list:
    choices = []
    for i, (text, reason) in enumerate(zip(texts, reasons, strict=True)):
        message: Any = {"role": "assistant", "content": text}
        if fault == "null-content":
            message["content"] = None
        elif fault == "content-filter":
            message["content"], reason = "", "content_filter"
        elif fault == "content-int":
            message["content"] = 42
        elif fault == "message-string":
            message = text
        choices.append({"index": i, "message": message, "finish_reason": reason})
    return [] if fault == "no-choices" else choices


def make_handler(answer, fault_for: FaultFor, options, log: Callable[[dict], None]) -> type:
    """A request handler answering with ``answer(body)`` and injecting ``fault_for``'s faults."""
    counter = {"n": 0}
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args) -> None:  # quiet
            pass

        def _head(self, status: int, length: int, headers: dict | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(length))
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()

        def _send(self, status: int, body: bytes, headers: dict | None = None) -> None:
            self._head(status, len(body), headers)
            self.wfile.write(body)

        def _error(self, status: int, message: str, headers: dict | None = None) -> None:
            self._send(status, json.dumps({"error": {"message": message}}).encode(), headers)

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            with lock:
                counter["n"] += 1
                number = counter["n"]
            try:
                body = json.loads(raw)
            except json.JSONDecodeError:
                return self._error(400, "request body is not JSON")
            fault = fault_for(number, body)
            log({"n": number, "fault": fault, "messages": body.get("messages")})
            try:
                self._answer(body, fault)
            except (BrokenPipeError, ConnectionResetError):  # the client gave up (a timeout)
                self.close_connection = True
            return None

        def _answer(self, body: dict, fault: str | None) -> None:
            if self.path != "/v1/chat/completions":
                return self._error(404, f"no route {self.path}")
            if fault == "429":
                return self._error(429, "injected rate limit", {"Retry-After": options.retry_after})
            if fault == "500":
                return self._error(500, "injected server error")
            if fault in ("malformed", "garbage"):
                return self._send(200, b'{"choices": [{"message": ')
            if fault in ("timeout", "hang"):
                time.sleep(options.fault_delay)
            time.sleep(options.delay)
            try:
                texts, reasons, usage, *rest = answer(body)
            except (KeyError, ValueError) as e:
                return self._error(400, str(e))
            choices = _choices(texts, reasons, fault)
            if rest and rest[0] is not None and choices and isinstance(choices[0], dict):
                choices[0]["logprobs"] = rest[0]
            reply = {"model": body.get("model"), "choices": choices, "usage": dict(usage)}
            data = json.dumps(reply).encode()
            if fault in ("truncated", "reset"):
                self._head(200, len(data))
                self.wfile.write(data[: len(data) // 2])
                self.wfile.flush()
                self.connection.shutdown(socket.SHUT_RDWR)
                self.close_connection = True
            elif fault == "dribble":
                self._head(200, len(data))
                for i in range(len(data)):
                    self.wfile.write(data[i : i + 1])
                    self.wfile.flush()
                    time.sleep(options.dribble)
            else:
                self._send(200, data)
            return None

    return Handler


class LoopbackServer:
    """The server in a thread of this process on 127.0.0.1, answering :func:`canned_answer`.

    ``fault_for`` (settable at any time) picks each request's fault; ``log`` holds
    one entry per request: its number, fault and messages. Options as the
    command line's: ``fault_delay``, ``retry_after``, ``dribble``, ``delay``.
    """

    def __init__(self, fault_for: FaultFor | None = None, **options: Any):
        self.fault_for: FaultFor = fault_for or (lambda number, body: None)
        defaults = {"fault_delay": 3.0, "retry_after": "1", "dribble": 0.05, "delay": 0.0}
        self.options = argparse.Namespace(**{**defaults, **options})
        self.log: list[dict] = []
        self._lock = threading.Lock()
        handler = make_handler(
            canned_answer, lambda n, body: self.fault_for(n, body), self.options, self._append
        )
        self._server = Server(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/v1"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def _append(self, entry: dict) -> None:
        with self._lock:
            self.log.append(entry)

    def __enter__(self) -> LoopbackServer:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._server.server_close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="A local model directory (else canned).")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port.")
    parser.add_argument("--max-batch", type=int, default=1)
    parser.add_argument("--batch-wait", type=float, default=0.005, help="Seconds to fill a batch.")
    parser.add_argument("--faults", default="", help="N:KIND,... (see the module docstring).")
    parser.add_argument("--fault-rate", type=float, default=0.0, help="Share of random faults.")
    parser.add_argument("--fault-seed", type=int, default=0)
    parser.add_argument("--fault-kinds", default="500,429,malformed,truncated,null-content")
    parser.add_argument(
        "--fault-delay", type=float, default=3.0, help="Seconds a timeout fault waits."
    )
    parser.add_argument("--retry-after", default="1", help="Retry-After of a 429 fault.")
    parser.add_argument("--dribble", type=float, default=0.05, help="Seconds per dribbled byte.")
    parser.add_argument("--delay", type=float, default=0.0, help="Seconds every request waits.")
    parser.add_argument("--log", default=None, help="Append each request as a JSON line here.")
    options = parser.parse_args(argv)

    answer: Callable = canned_answer
    if options.model is not None:
        import torch

        from alignlab.models.backends.hf import HFBackend

        torch.set_num_threads(1)
        backend = HFBackend.load(options.model, device="cpu", batch_size=max(1, options.max_batch))
        answer = model_answer(backend, Batcher(backend, options.max_batch, options.batch_wait))
    by_number = parse_faults(options.faults)
    kinds = tuple(k.strip() for k in options.fault_kinds.split(",") if k.strip())
    if unknown := set(kinds) - set(FAULTS):
        parser.error(f"--fault-kinds: {sorted(unknown)} are not among {FAULTS}")
    drawn = random_faults(options.fault_rate, kinds, options.fault_seed)
    lock = threading.Lock()

    def log(entry: dict) -> None:
        if options.log:
            with lock, open(options.log, "a") as file:
                file.write(json.dumps(entry) + "\n")

    def fault_for(number: int, body: dict) -> str | None:
        return by_number.get(number) or drawn(number, body)

    server = Server(("127.0.0.1", options.port), make_handler(answer, fault_for, options, log))
    print(f"listening on http://127.0.0.1:{server.server_address[1]}/v1", flush=True)
    server.serve_forever()


@contextlib.contextmanager
def serve(model: str | Path | None, *args: str, startup_timeout: float = 120.0) -> Iterator[str]:
    """Run the server as a process (extra command-line ``args``) and yield its base URL.

    ``model`` ``None`` serves canned answers.
    """
    with tempfile.TemporaryFile("w+") as stderr:
        command = [sys.executable, str(Path(__file__).resolve())]
        command += [*(["--model", str(model)] if model is not None else []), *args]
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=stderr, text=True)
        try:
            lines: queue.Queue = queue.Queue()
            threading.Thread(
                target=lambda: lines.put(process.stdout.readline()), daemon=True
            ).start()
            try:
                line = lines.get(timeout=startup_timeout)
            except queue.Empty:
                line = ""
            if not line.startswith("listening on "):
                stderr.seek(0)
                raise RuntimeError(f"the test server did not start: {stderr.read()[-2000:]}")
            yield line.split()[-1]
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


if __name__ == "__main__":
    main()
