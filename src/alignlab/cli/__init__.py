"""The ``alignlab`` command: one sub-command group per pipeline stage.

The CLI is thin: it parses arguments, validates them, and calls the library
function of the same name. Heavy imports (torch, transformers) happen inside
the commands, so ``alignlab --help`` is instant.
"""

import os

import typer

from alignlab import __version__
from alignlab.cli.boat import app as boat_app
from alignlab.cli.bon import app as bon_app
from alignlab.cli.cai import app as cai_app
from alignlab.cli.config import app as config_app
from alignlab.cli.data import app as data_app
from alignlab.cli.demo import demo, report
from alignlab.cli.eval import app as eval_app
from alignlab.cli.goodhart import app as goodhart_app
from alignlab.cli.interp import app as interp_app
from alignlab.cli.models import app as models_app
from alignlab.cli.organism import app as organism_app
from alignlab.cli.oversight import app as oversight_app
from alignlab.cli.redteam import app as redteam_app
from alignlab.cli.train import app as train_app

# alignlab draws its own progress bars; the hub's (loading and writing weights) are noise.
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")

app = typer.Typer(
    name="alignlab",
    help="Align language models to human intentions, and measure how aligned they are.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.command("demo")(demo)
app.add_typer(data_app, name="data")
app.add_typer(organism_app, name="organism")
app.add_typer(train_app, name="train")
app.add_typer(bon_app, name="bon")
app.add_typer(eval_app, name="eval")
app.add_typer(models_app, name="models")
app.add_typer(oversight_app, name="oversight")
app.add_typer(interp_app, name="interp")
app.add_typer(boat_app, name="boat")
app.add_typer(redteam_app, name="redteam")
app.add_typer(goodhart_app, name="goodhart")
app.add_typer(cai_app, name="cai")
app.add_typer(config_app, name="config")
app.command("report")(report)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"alignlab {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Align language models to human intentions, and measure how aligned they are."""
