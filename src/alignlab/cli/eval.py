"""``alignlab eval``: run the alignment suites on a model or an endpoint, list them, view runs."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from alignlab.cli.console import err, fail

app = typer.Typer(
    help="Measure alignment: sycophancy, refusal, honesty, bias, jailbreaks, verbosity, agreement.",
    no_args_is_help=True,
)

MODEL_HELP = (
    "The model to evaluate: a local directory or hub id, or with --base-url the name the "
    "endpoint serves."
)


def _backend(
    model,
    base_url,
    api_key_env,
    *,
    concurrency,
    timeout,
    max_retries,
    cache,
    device,
    dtype,
    batch_size,
):
    """An endpoint backend when ``base_url`` is given, else a local HF model."""
    if base_url is not None:
        from alignlab.models.backends import OpenAIChatBackend

        if model is None:
            raise ValueError("--model: name the model the endpoint at --base-url serves")
        return OpenAIChatBackend(
            base_url,
            model,
            api_key_env=api_key_env,
            concurrency=concurrency,
            timeout=timeout,
            max_retries=max_retries,
            cache=cache,
        )
    if api_key_env is not None:
        raise ValueError("--api-key-env: only an endpoint (--base-url) takes an API key")
    from alignlab.models.backends.hf import HFBackend

    return HFBackend.load(model, device=device, dtype=dtype, batch_size=batch_size)


@app.command("list")
def list_suites() -> None:
    """List the suites with their sample counts and what they measure."""
    from alignlab.evals.registry import SUITES, SuiteOptions

    table = Table(title="alignlab eval suites")
    for column in ("suite", "samples", "measures"):
        table.add_column(column)
    for name, suite in SUITES.items():
        if suite.needs_organism:
            table.add_row(name, "organism", "needs --organism DIR")
        else:
            task = suite.build(SuiteOptions())
            table.add_row(name, str(len(task.samples)), task.description)
    Console().print(table)


@app.command()
def run(
    suite: str = typer.Option(..., help="Suites to run, comma-separated (or 'all', 'world')."),
    model: str | None = typer.Option(None, help=MODEL_HELP),
    base_url: str | None = typer.Option(
        None, help="An OpenAI-compatible endpoint, e.g. http://localhost:8000/v1."
    ),
    api_key_env: str | None = typer.Option(
        None, help="Environment variable holding the endpoint's API key."
    ),
    out: Path = typer.Option(Path("runs/eval"), help="Run directory: records, summary, cache."),
    resume: bool = typer.Option(
        False, help="Continue the run in --out, skipping finished samples."
    ),
    limit: int | None = typer.Option(
        None, min=1, help="Evaluate only each suite's first N samples."
    ),
    seed: int = typer.Option(0, help="Seeds the model calls and the bootstrap."),
    concurrency: int = typer.Option(8, min=1, help="Endpoint requests in flight at once."),
    max_tokens: int = typer.Option(256, min=1, help="Most tokens per answer."),
    temperature: float = typer.Option(0.0, min=0.0, help="Sampling temperature; 0 is greedy."),
    timeout: float = typer.Option(60.0, help="Seconds per endpoint request before it is retried."),
    max_retries: int = typer.Option(6, min=0, help="Retries per endpoint request."),
    chunk_size: int = typer.Option(
        16, min=1, help="Samples solved together; records are written per chunk."
    ),
    cache: bool = typer.Option(
        True, help="Keep endpoint responses in OUT/cache.sqlite for reruns."
    ),
    organism: Path | None = typer.Option(
        None, help="An organism directory, for the world-* suites."
    ),
    reward_model: Path | None = typer.Option(
        None, help="A reward model that scores the agreement suites."
    ),
    judge_model: str | None = typer.Option(
        None, help="A judge model for refusal detection (as --model)."
    ),
    judge_base_url: str | None = typer.Option(None, help="The judge's endpoint, if it is served."),
    judge_api_key_env: str | None = typer.Option(
        None, help="Environment variable with the judge endpoint's key."
    ),
    device: str | None = typer.Option(
        None, help="Device of local models (default: the best available)."
    ),
    dtype: str = typer.Option("auto", help="Dtype of local models."),
    batch_size: int = typer.Option(16, min=1, help="Prompts a local model generates together."),
    progress: bool = typer.Option(True, help="Show a progress bar on stderr."),
) -> None:
    """Evaluate a model on suites; write records.jsonl and summary.json to --out."""
    from alignlab.evals.options import SuiteOptions
    from alignlab.evals.registry import SUITES, build_tasks, parse_suites
    from alignlab.evals.runner import RunConfig, RunError, run_eval
    from alignlab.models.backends import EndpointError, ResponseCache

    try:
        names = parse_suites(suite)
    except ValueError as e:
        raise fail(str(e), 2) from None
    needing = [n for n in names if SUITES[n].needs_organism]
    if needing and organism is None:
        raise fail(f"--organism: the suites {needing} run on an organism directory", 2)
    only_reward_model = reward_model is not None and set(names) <= {"agreement", "world-agreement"}
    if model is None and base_url is None and not only_reward_model:
        raise fail("--model: name a model directory or hub id, or an endpoint with --base-url", 2)
    settings = dict(
        concurrency=concurrency,
        timeout=timeout,
        max_retries=max_retries,
        device=device,
        dtype=dtype,
        batch_size=batch_size,
    )
    try:
        out.mkdir(parents=True, exist_ok=True)
        served = base_url is not None or judge_base_url is not None
        response_cache = ResponseCache(out / "cache.sqlite") if cache and served else None
        backend = None
        if model is not None or base_url is not None:
            backend = _backend(model, base_url, api_key_env, cache=response_cache, **settings)
        judge = None
        if judge_model is not None or judge_base_url is not None:
            judge = _backend(
                judge_model, judge_base_url, judge_api_key_env, cache=response_cache, **settings
            )
        scorer = None
        if reward_model is not None:
            from alignlab.models.reward import RewardModel

            scorer = RewardModel.load(reward_model, device=device, dtype=dtype).score
        options = SuiteOptions(
            max_tokens=max_tokens,
            temperature=temperature,
            judge=judge,
            organism=organism,
            reward_model=scorer,
        )
        tasks = build_tasks(names, options)
        config = RunConfig(
            seed=seed, limit=limit, resume=resume, chunk_size=chunk_size, progress=progress
        )
        summary = run_eval(tasks, backend, out, config)
    except (RunError, EndpointError, ValueError, FileNotFoundError, NotADirectoryError) as e:
        raise fail(str(e), 2) from None
    _print_summary(summary)
    failed = sum(s["n_errors"] for s in summary["suites"].values())
    if failed:
        err.print(
            f"[yellow]warning:[/] {failed} samples failed; rerun with --resume to try them again"
        )
    typer.echo(str(out))


@app.command()
def view(
    run_dir: Path = typer.Argument(..., help="A run directory (holds summary.json)."),
    out: Path | None = typer.Option(
        None, help="The HTML file to write (default RUN_DIR/view.html)."
    ),
    max_records: int | None = typer.Option(None, min=0, help="Show at most N records per suite."),
) -> None:
    """Render a run's summary and records as one self-contained HTML page."""
    from alignlab.evals.records import EvalRecordError
    from alignlab.evals.view import write_view

    try:
        path = write_view(run_dir, out or run_dir / "view.html", max_records=max_records)
    except (FileNotFoundError, EvalRecordError) as e:
        raise fail(str(e), 2) from None
    typer.echo(str(path))


def _print_summary(summary: dict) -> None:
    table = Table(title=f"alignlab eval: {summary.get('backend')}")
    for column in ("suite", "metric", "value [95% CI]", "n"):
        table.add_column(column)
    for name, s in summary["suites"].items():
        for metric, m in s["metrics"].items():
            if m["value"] is None:
                shown = "n/a"
            elif m["lo"] is None:
                shown = f"{m['value']:.3f}"
            else:
                shown = f"{m['value']:.3f} [{m['lo']:.3f}, {m['hi']:.3f}]"
            table.add_row(name, metric, shown, str(m["n"]))
    Console(stderr=True).print(table)
