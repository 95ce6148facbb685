import sqlite3
from concurrent.futures import ThreadPoolExecutor

import pytest

from alignlab.models.backends import ResponseCache, cache_key

BODY = {"model": "m", "messages": [{"role": "user", "content": "hi"}], "temperature": 0.0}


def test_cache_key_is_stable_across_processes_and_versions():
    # A fixed digest: a change here would orphan every cache users already hold.
    assert cache_key("http://h/v1", "m", BODY) == (
        "b8db42e1cfe6fbf9dfba201215bf774e84c7b30eaa4a71e8da2e65811985bc59"
    )


def test_cache_key_ignores_field_order_and_a_trailing_slash():
    reordered = dict(reversed(list(BODY.items())))
    assert cache_key("http://h/v1/", "m", reordered) == cache_key("http://h/v1", "m", BODY)


@pytest.mark.parametrize(
    "changed",
    [
        ("http://other/v1", "m", BODY, 0),
        ("http://h/v1", "other", BODY, 0),
        ("http://h/v1", "m", {**BODY, "seed": 1}, 0),
        ("http://h/v1", "m", {**BODY, "temperature": 1.0}, 0),
        ("http://h/v1", "m", BODY, 1),
    ],
)
def test_cache_key_changes_with_every_part(changed):
    assert cache_key(*changed) != cache_key("http://h/v1", "m", BODY, 0)


def test_cache_key_refuses_a_negative_sample():
    with pytest.raises(ValueError, match=r"^sample: must be >= 0"):
        cache_key("http://h/v1", "m", BODY, -1)


def test_responses_persist_across_reopening(tmp_path):
    path = tmp_path / "sub" / "cache.sqlite"
    with ResponseCache(path) as cache:
        assert cache.get("k") is None and "k" not in cache and len(cache) == 0
        cache.put("k", {"choices": [{"message": {"content": "é"}}]})
        cache.put("k", {"choices": [{"message": {"content": "ü"}}]})
    with ResponseCache(path) as cache:
        assert cache.get("k") == {"choices": [{"message": {"content": "ü"}}]}
        assert "k" in cache and len(cache) == 1
        assert repr(cache) == f"ResponseCache({str(path)!r})"


def test_cache_uses_write_ahead_logging(tmp_path):
    ResponseCache(tmp_path / "c.sqlite").close()
    with sqlite3.connect(tmp_path / "c.sqlite") as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_cache_is_safe_across_threads(tmp_path):
    cache = ResponseCache(tmp_path / "c.sqlite")

    def write(thread: int) -> None:
        for i in range(50):
            cache.put(f"{thread}-{i}", {"i": i})
            assert cache.get(f"{thread}-{i}") == {"i": i}

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(write, range(8)))  # re-raises any thread's failure
    assert len(cache) == 400
    cache.close()
