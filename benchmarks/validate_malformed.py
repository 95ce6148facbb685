"""What `alignlab data validate` says about ~60 malformed preference files.

Each case is a small comparison file: good records around one bad one (at line 4
where a line applies), or a file broken as a whole (wrong compression, encoding,
truncation). The script runs the real CLI on each and prints a table: the case,
the exit code, whether the output names ``file:line: field`` (or the file alone
where no line applies), and whether a traceback or a bare "Aborted." came out.

    python benchmarks/validate_malformed.py [--keep DIR]

A case "passes" when a bad file exits non-zero with a located message and no
traceback, and a good file (marked ``ok``) exits 0.
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

GOOD = {"prompt": "what is 2 + 2 ?", "chosen": "4 .", "rejected": "5 ."}
USER = {"role": "user", "content": "what is 2 + 2 ?"}
ASSISTANT_A = {"role": "assistant", "content": "4 ."}
ASSISTANT_B = {"role": "assistant", "content": "5 ."}


def lines(bad: str | bytes, n_before: int = 3, n_after: int = 1) -> bytes:
    """Good lines, the bad line (line ``n_before + 1``), good lines."""
    good = json.dumps(GOOD).encode()
    bad = bad if isinstance(bad, bytes) else bad.encode("utf-8", "surrogatepass")
    return b"\n".join([good] * n_before + [bad] + [good] * n_after) + b"\n"


def rec(**fields) -> str:
    return json.dumps({**GOOD, **fields})


def drop(*names, **extra) -> str:
    return json.dumps({**{k: v for k, v in GOOD.items() if k not in names}, **extra})


def nested(depth: int) -> str:
    return json.dumps(GOOD)[:-1] + ', "meta": ' + '{"a": ' * depth + "1" + "}" * depth + "}"


# (name, suffix, content, expect): expect is "line" (a located problem at line 4;
# "lineN": at line N; "line*": at some line),
# "file" (an error naming the file; no line applies) or "ok" (a valid file).
CASES: list[tuple[str, str, bytes, str]] = [
    # -- fields missing, empty or of the wrong type
    ("missing chosen", ".jsonl", lines(drop("chosen")), "line"),
    ("missing rejected", ".jsonl", lines(drop("rejected")), "line"),
    ("missing prompt", ".jsonl", lines(drop("prompt")), "line"),
    ("empty prompt", ".jsonl", lines(rec(prompt="")), "line"),
    ("empty chosen", ".jsonl", lines(rec(chosen="")), "line"),
    ("blank rejected", ".jsonl", lines(rec(rejected="   ")), "line"),
    ("chosen is int", ".jsonl", lines(rec(chosen=7)), "line"),
    ("rejected is null", ".jsonl", lines(rec(rejected=None)), "line"),
    ("prompt is object", ".jsonl", lines(rec(prompt={"text": "q"})), "line"),
    ("chosen == rejected", ".jsonl", lines(rec(rejected="4 .")), "line"),
    ("weight is string", ".jsonl", lines(rec(weight="0.9")), "line"),
    ("weight is bool", ".jsonl", lines(rec(weight=True)), "line"),
    ("weight 2", ".jsonl", lines(rec(weight=2)), "line"),
    ("weight -1", ".jsonl", lines(rec(weight=-1)), "line"),
    ("weight NaN", ".jsonl", lines(rec()[:-1] + ', "weight": NaN}'), "line"),
    ("annotator is list", ".jsonl", lines(rec(annotator=["a"])), "line"),
    ("meta is string", ".jsonl", lines(rec(meta="x")), "line"),
    ("meta is list", ".jsonl", lines(rec(meta=[1])), "line"),
    # -- chat messages
    ("unknown role", ".jsonl", lines(rec(prompt=[{"role": "bot", "content": "q"}])), "line"),
    ("message without role", ".jsonl", lines(rec(prompt=[{"content": "q"}])), "line"),
    ("message without content", ".jsonl", lines(rec(prompt=[{"role": "user"}])), "line"),
    (
        "content is int",
        ".jsonl",
        lines(rec(prompt=[{"role": "user", "content": 3}])),
        "line",
    ),
    ("message is string", ".jsonl", lines(rec(prompt=["q"])), "line"),
    ("empty message list", ".jsonl", lines(rec(prompt=[])), "line"),
    (
        "empty content",
        ".jsonl",
        lines(rec(prompt=[{"role": "user", "content": ""}])),
        "line",
    ),
    (
        "implicit prompt, nothing shared",
        ".jsonl",
        lines(drop("prompt", chosen=[ASSISTANT_A], rejected=[ASSISTANT_B])),
        "line",
    ),
    (
        "chosen/rejected user turns only",
        ".jsonl",
        lines(
            rec(
                prompt=[USER],
                chosen=[{"role": "user", "content": "4 ."}],
                rejected=[{"role": "user", "content": "5 ."}],
            )
        ),
        "line",
    ),
    (
        "implicit prompt, user-only turns",
        ".jsonl",
        lines(
            drop(
                "prompt",
                chosen=[USER, {"role": "user", "content": "4 ."}],
                rejected=[USER, {"role": "user", "content": "5 ."}],
            )
        ),
        "line",
    ),
    ("assistant-only prompt", ".jsonl", lines(rec(prompt=[ASSISTANT_A])), "line"),
    (
        "prompt ends with system",
        ".jsonl",
        lines(rec(prompt=[{"role": "system", "content": "be brief ."}])),
        "line",
    ),
    # -- JSON itself
    ("unclosed brace", ".jsonl", lines(rec()[:-1]), "line"),
    ("trailing comma", ".jsonl", lines(rec()[:-1] + ", }"), "line"),
    ("single quotes", ".jsonl", lines(rec().replace('"', "'")), "line"),
    ("trailing garbage", ".jsonl", lines(rec() + " x"), "line"),
    ("top-level array", ".jsonl", lines("[1, 2]"), "line"),
    ("top-level string", ".jsonl", lines('"prompt"'), "line"),
    ("top-level number", ".jsonl", lines("3"), "line"),
    ("top-level null", ".jsonl", lines("null"), "line"),
    ("raw control character", ".jsonl", lines(rec(chosen="4\t.").replace("\\t", "\t")), "line"),
    ("raw NUL byte", ".jsonl", lines(rec().replace("4 .", "4\x00.")), "line"),
    ("duplicate key", ".jsonl", lines(rec()[:-1] + ', "chosen": "6 ."}'), "line"),
    ("duplicate key in meta", ".jsonl", lines(rec()[:-1] + ', "meta": {"a": 1, "a": 2}}'), "line"),
    ("deeply nested JSON", ".jsonl", lines(nested(100_000)), "line"),
    # -- strings that no tokenizer should get
    ("NUL escape in chosen", ".jsonl", lines(rec(chosen="4 \u0000.")), "line"),
    (
        "NUL escape in message",
        ".jsonl",
        lines(rec(prompt=[{**USER, "content": "q\u0000"}])),
        "line",
    ),
    ("lone surrogate", ".jsonl", lines(rec(chosen="4 \ud800.")), "line"),
    ("lone surrogate in meta", ".jsonl", lines(rec(meta={"note": "\udfff"})), "line"),
    # -- fields misspelt or from another kind
    ("misspelt weight", ".jsonl", lines(rec(wieght=0.6)), "line"),
    ("misspelt annotator", ".jsonl", lines(rec(annotater="a")), "line"),
    ("capitalised Weight", ".jsonl", lines(rec(Weight=0.6)), "line"),
    (
        "misspelt prompt, chat pair",
        ".jsonl",
        lines(
            drop(
                "prompt",
                promt=[{"role": "user", "content": "what is 3 + 3 ?"}],
                chosen=[USER, ASSISTANT_A],
                rejected=[USER, ASSISTANT_B],
            )
        ),
        "line",
    ),
    ("demonstration record", ".jsonl", lines(drop("chosen", "rejected", response="4 .")), "line"),
    ("comparison with a response", ".jsonl", lines(rec(response="4 .")), "line"),
    (
        "comparisons after demonstrations",
        ".jsonl",
        b"\n".join(
            [json.dumps({"prompt": "q", "response": "a"}).encode()] * 3
            + [json.dumps(GOOD).encode()] * 2
        )
        + b"\n",
        "line",
    ),
    # -- labels
    ("all weights 0", ".jsonl", b"\n".join([rec(weight=0).encode()] * 5) + b"\n", "line"),
    ("one weight 0.2", ".jsonl", lines(rec(weight=0.2)), "line"),
    # -- the file as a whole
    ("empty file", ".jsonl", b"", "file"),
    ("blank lines only", ".jsonl", b"\n \n\n", "file"),
    ("invalid UTF-8", ".jsonl", lines(rec().encode().replace(b"4 .", b"4 \xff."), 3), "line"),
    ("UTF-16 file", ".jsonl", lines(rec()).decode().encode("utf-16"), "line1"),
    ("plain text named .jsonl.gz", ".jsonl.gz", lines(rec()), "file"),
    ("truncated .gz", ".jsonl.gz", gzip.compress(lines(rec()) * 200)[:-40], "line*"),
    ("invalid UTF-8 in .gz", ".jsonl.gz", gzip.compress(lines(b"\xff\xfe")), "line"),
    ("random bytes named .parquet", ".parquet", b"PAR1 not really", "file"),
    ("UTF-8 BOM (valid)", ".jsonl", b"\xef\xbb\xbf" + lines(rec()), "ok"),
    ("valid .jsonl.gz", ".jsonl.gz", gzip.compress(lines(rec())), "ok"),
    ("valid chat pair", ".jsonl", lines(rec(prompt=[USER], chosen=[ASSISTANT_A])), "ok"),
    ("valid extra field", ".jsonl", lines(rec(prompt_id="p-1", score_chosen=8.0)), "ok"),
]


def located(output: str, path: Path, expect: str) -> bool:
    if expect.startswith("line"):
        line = {"": "4", "*": r"\d+"}.get(expect[4:], expect[4:])
        return re.search(rf"{re.escape(str(path))}:{line}: [^:\s]+: \S", output) is not None
    return str(path) in output


def run_case(root: Path, i: int, name: str, suffix: str, content: bytes, expect: str) -> dict:
    path = root / f"case{i:02d}{suffix}"
    path.write_bytes(content)
    cli = Path(sys.executable).with_name("alignlab")
    proc = subprocess.run(
        [str(cli), "data", "validate", str(path)],
        capture_output=True,
        text=True,
        errors="replace",
        timeout=120,
    )
    out = proc.stdout + proc.stderr
    traceback = "Traceback (most recent call last)" in out or out.strip() == "Aborted!"
    bare_abort = "Aborted" in out and not located(out, path, "file")
    if expect == "ok":
        passed = proc.returncode == 0
        where = "-"
    else:
        where = "yes" if located(out, path, expect) else "no"
        passed = proc.returncode != 0 and where == "yes" and not traceback and not bare_abort
    return {
        "name": name,
        "expect": expect,
        "rc": proc.returncode,
        "located": where,
        "traceback": traceback or bare_abort,
        "passed": passed,
        "first": next((ln for ln in out.splitlines() if ln.strip()), "")[:90],
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--keep", type=Path, help="Write the files here and keep them.")
    parser.add_argument("--verbose", action="store_true", help="Show each first output line.")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = args.keep or Path(tmp)
        root.mkdir(parents=True, exist_ok=True)
        rows = [run_case(root, i, *case) for i, case in enumerate(CASES)]
    print(f"{'case':36} {'expect':6} {'exit':>4} {'located':7} {'trace':5} pass")
    for r in rows:
        print(
            f"{r['name']:36} {r['expect']:6} {r['rc']:>4} {r['located']:7} "
            f"{'YES' if r['traceback'] else 'no':5} {'ok' if r['passed'] else 'FAIL'}"
        )
        if args.verbose:
            print(f"    {r['first']}")
    bad = [r for r in rows if r["expect"] != "ok"]
    print(
        f"\n{len(rows)} files ({len(bad)} malformed): "
        f"{sum(r['located'] == 'yes' and r['rc'] != 0 for r in bad)} located errors, "
        f"{sum(r['rc'] == 0 for r in bad)} accepted silently, "
        f"{sum(r['traceback'] for r in rows)} tracebacks/bare aborts, "
        f"{sum(not r['passed'] for r in rows)} failing"
    )


if __name__ == "__main__":
    main()
