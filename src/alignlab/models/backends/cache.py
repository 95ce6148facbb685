"""A persistent response cache, so a crashed evaluation resumes without paying twice.

Responses are stored in SQLite (write-ahead logging, one connection behind a lock,
so threads and several processes can share one file) under a SHA-256 key of the
endpoint, the model, the full request body (which holds the seed) and a sample
index. The sample index keeps repeated sampled requests apart: the third identical
request at temperature 1 with no seed is sample 2, so a rerun reads back the same
three distinct samples instead of one sample three times.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any


def cache_key(base_url: str, model: str, body: dict[str, Any], sample: int = 0) -> str:
    """Stable hex key of one request: the same inputs give the same key in any process."""
    if sample < 0:
        raise ValueError(f"sample: must be >= 0, got {sample}")
    payload = {"base_url": base_url.rstrip("/"), "model": model, "body": body, "sample": sample}
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


class ResponseCache:
    """Responses (JSON objects) by request key, in an SQLite file at ``path``."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._connection = sqlite3.connect(
            self.path, timeout=30.0, isolation_level=None, check_same_thread=False
        )
        with self._lock:
            self._connection.execute("PRAGMA journal_mode=WAL")
            self._connection.execute("PRAGMA synchronous=NORMAL")
            self._connection.execute(
                "CREATE TABLE IF NOT EXISTS responses ("
                "key TEXT PRIMARY KEY, response TEXT NOT NULL, created REAL NOT NULL)"
            )

    def __repr__(self) -> str:
        return f"ResponseCache({str(self.path)!r})"

    def get(self, key: str) -> dict[str, Any] | None:
        """The stored response for ``key``, or ``None``."""
        with self._lock:
            row = self._connection.execute(
                "SELECT response FROM responses WHERE key = ?", (key,)
            ).fetchone()
        return None if row is None else json.loads(row[0])

    def put(self, key: str, response: dict[str, Any]) -> None:
        """Store ``response`` under ``key``, replacing any earlier one; committed on return."""
        text = json.dumps(response, ensure_ascii=False)
        with self._lock:
            self._connection.execute(
                "INSERT OR REPLACE INTO responses (key, response, created) VALUES (?, ?, ?)",
                (key, text, time.time()),
            )

    def __contains__(self, key: str) -> bool:
        return self.get(key) is not None

    def __len__(self) -> int:
        with self._lock:
            return self._connection.execute("SELECT COUNT(*) FROM responses").fetchone()[0]

    def close(self) -> None:
        """Close the file; the cache cannot be used afterwards."""
        with self._lock:
            self._connection.close()

    def __enter__(self) -> ResponseCache:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
