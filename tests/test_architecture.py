"""The tree is the pipeline: the import contracts of pyproject.toml hold, and no source file
outgrows one idea."""

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

from importlinter import cli

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ROOT / "src" / "alignlab"


def test_no_import_goes_up_a_layer_and_no_siblings_import_each_other(capsys):
    code = cli.lint_imports(config_filename=str(ROOT / "pyproject.toml"), no_cache=True)
    shown = capsys.readouterr().out
    assert code == 0, shown
    assert "2 kept, 0 broken" in shown


def test_every_layer_of_the_contract_is_a_package_or_room_kept_for_one():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    (layers,) = [c["layers"] for c in config["contracts"] if c["type"] == "layers"]
    named = [name.strip() for layer in layers for name in layer.split("|")]
    for name in named:
        optional = name.startswith("(")
        path = SOURCES.parent / name.strip("()").replace(".", "/")
        exists = path.is_dir() or path.with_suffix(".py").is_file()
        assert exists or optional, f"{name}: a layer with no package"
    covered = {n.strip("()").split(".")[1] for n in named}
    packages = {p.name for p in SOURCES.iterdir() if (p / "__init__.py").exists()}
    modules = {p.stem for p in SOURCES.glob("*.py") if not p.stem.startswith("__")}
    assert packages | modules <= covered, f"not in any layer: {(packages | modules) - covered}"


def test_no_source_file_is_past_400_lines():
    long = {
        str(p.relative_to(SOURCES)): n
        for p in SOURCES.rglob("*.py")
        if (n := len(p.read_text().splitlines())) > 400
    }
    assert not long, f"split these along the pipeline: {long}"


def test_the_contracts_catch_an_arrow_up_hidden_in_a_function_and_a_circle(tmp_path):
    shutil.copytree(SOURCES.parent, tmp_path / "src")
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    with (tmp_path / "src" / "alignlab" / "stats" / "intervals.py").open("a") as f:
        f.write("\n\ndef _peek():\n    from alignlab.experiments.demo import DemoConfig\n")
    with (tmp_path / "src" / "alignlab" / "evals" / "records.py").open("a") as f:
        f.write("\nfrom alignlab.evals import runner as _runner\n")
    lint = Path(sys.executable).with_name("lint-imports")
    env = {**os.environ, "PYTHONPATH": str(tmp_path / "src")}
    result = subprocess.run(
        [str(lint), "--no-cache"], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert result.returncode == 1, result.stdout
    assert "alignlab.stats.intervals -> alignlab.experiments.demo" in result.stdout
    assert "- .records -> .runner" in result.stdout
