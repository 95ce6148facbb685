"""An OpenAI-compatible chat server over a local HF model, for tests and benchmarks.

``python tests/openai_server.py --model DIR`` serves ``POST /v1/chat/completions``
on loopback through :class:`~alignlab.models.backends.hf.HFBackend` (first-token
``logprobs`` included when asked for) and prints ``listening on URL`` once ready.
Concurrent requests are batched together, up to ``--max-batch``.

Faults are injected by request number (1-based, counting every POST):
``--faults 2:timeout,4:429,6:500,8:malformed,10:truncated`` makes request 2 answer
only after ``--fault-delay`` seconds, request 4 answer 429 with ``Retry-After: 1``,
request 6 answer 500, request 8 answer 200 with a body that is not JSON, and
request 10 send half its body and close the connection. ``--log FILE`` appends
each request's number, fault and messages as a JSON line.

:func:`serve` starts the server as a real process and yields its base URL.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import queue
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

FAULTS = ("timeout", "429", "500", "malformed", "truncated")


def parse_faults(spec: str) -> dict[int, str]:
    """``"2:timeout,4:429"`` as ``{2: "timeout", 4: "429"}``."""
    faults = {}
    for item in filter(None, (part.strip() for part in spec.split(","))):
        number, _, kind = item.partition(":")
        if kind not in FAULTS or not number.isdigit():
            raise ValueError(f"--faults: {item!r} is not N:KIND with KIND one of {FAULTS}")
        faults[int(number)] = kind
    return faults


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


def make_handler(backend, batcher: Batcher, faults: dict[int, str], options) -> type:
    from alignlab.models.backends import GenerationRequest

    counter = {"n": 0}
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args) -> None:  # quiet
            pass

        def _send(self, status: int, body: bytes, headers: dict | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(body)

        def _error(self, status: int, message: str, headers: dict | None = None) -> None:
            self._send(status, json.dumps({"error": {"message": message}}).encode(), headers)

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            with lock:
                counter["n"] += 1
                number = counter["n"]
            fault = faults.get(number)
            try:
                body = json.loads(raw)
            except json.JSONDecodeError:
                return self._error(400, "request body is not JSON")
            if options.log:
                with lock, open(options.log, "a") as log:
                    entry = {"n": number, "fault": fault, "messages": body.get("messages")}
                    log.write(json.dumps(entry) + "\n")
            if self.path != "/v1/chat/completions":
                return self._error(404, f"no route {self.path}")
            if fault == "429":
                return self._error(429, "injected rate limit", {"Retry-After": "1"})
            if fault == "500":
                return self._error(500, "injected server error")
            if fault == "malformed":
                return self._send(200, b'{"choices": [{"message": ')
            if fault == "timeout":
                time.sleep(options.fault_delay)
            time.sleep(options.delay)
            try:
                request = GenerationRequest(
                    body["messages"],
                    max_new_tokens=body.get("max_tokens", 256),
                    temperature=body.get("temperature", 1.0),
                    top_p=body.get("top_p", 1.0),
                    seed=body.get("seed"),
                    stop=tuple(body.get("stop") or ()),
                    n=body.get("n", 1),
                )
            except (KeyError, ValueError) as e:
                return self._error(400, str(e))
            completion = batcher.submit(request)
            choices = [
                {
                    "index": i,
                    "message": {"role": "assistant", "content": text},
                    "finish_reason": reason,
                }
                for i, (text, reason) in enumerate(
                    zip(completion.texts, completion.finish_reasons, strict=True)
                )
            ]
            if body.get("logprobs"):
                top = backend.top_logprobs(request.prompt, int(body.get("top_logprobs") or 1))
                first = {"token": top[0][0], "logprob": top[0][1]}
                alternatives = [{"token": t, "logprob": lp} for t, lp in top]
                choices[0]["logprobs"] = {"content": [{**first, "top_logprobs": alternatives}]}
            usage = dict(completion.usage)
            answer = json.dumps(
                {"model": body.get("model"), "choices": choices, "usage": usage}
            ).encode()
            try:
                if fault == "truncated":
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(answer)))
                    self.end_headers()
                    self.wfile.write(answer[: len(answer) // 2])
                    self.wfile.flush()
                    self.connection.shutdown(socket.SHUT_RDWR)
                    self.close_connection = True
                    return None
                self._send(200, answer)
            except (BrokenPipeError, ConnectionResetError):  # the client gave up (a timeout)
                self.close_connection = True
            return None

    return Handler


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="A local model directory.")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port.")
    parser.add_argument("--max-batch", type=int, default=1)
    parser.add_argument("--batch-wait", type=float, default=0.005, help="Seconds to fill a batch.")
    parser.add_argument("--faults", default="", help="N:KIND,... (see the module docstring).")
    parser.add_argument(
        "--fault-delay", type=float, default=3.0, help="Seconds a timeout fault waits."
    )
    parser.add_argument("--delay", type=float, default=0.0, help="Seconds every request waits.")
    parser.add_argument("--log", default=None, help="Append each request as a JSON line here.")
    options = parser.parse_args(argv)

    import torch

    from alignlab.models.backends.hf import HFBackend

    torch.set_num_threads(1)
    backend = HFBackend.load(options.model, device="cpu", batch_size=max(1, options.max_batch))
    batcher = Batcher(backend, options.max_batch, options.batch_wait)
    handler = make_handler(backend, batcher, parse_faults(options.faults), options)
    server = ThreadingHTTPServer(("127.0.0.1", options.port), handler)
    server.daemon_threads = True
    print(f"listening on http://127.0.0.1:{server.server_address[1]}/v1", flush=True)
    server.serve_forever()


@contextlib.contextmanager
def serve(model: str | Path, *args: str, startup_timeout: float = 120.0) -> Iterator[str]:
    """Run the server as a process (extra command-line ``args``) and yield its base URL."""
    with tempfile.TemporaryFile("w+") as stderr:
        command = [sys.executable, str(Path(__file__).resolve()), "--model", str(model), *args]
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
