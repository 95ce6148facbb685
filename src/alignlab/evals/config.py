"""``alignlab eval run`` as a config: which suites (or your own samples file), which model
(local or served), how.

:class:`EvalConfig`'s fields are the command's settings, read from a TOML file and
``--set key=value`` by the one config loader (:mod:`alignlab.config`) like every other
stage; :func:`evaluate` runs it. The model under evaluation and the judge are each a local
HF directory (or hub id) or a model served at an OpenAI-compatible endpoint, whose API key
is read from the environment variable named, never from the config.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from alignlab.evals.judge import Judge, judge_method
from alignlab.evals.options import SuiteOptions
from alignlab.evals.registry import SUITES, build_tasks, parse_suites
from alignlab.evals.runner import RECORDS_FILE, RunConfig, run_eval
from alignlab.evals.samples_file import check_resumable, read_samples, samples_task
from alignlab.evals.verdicts import VERDICTS, verdict
from alignlab.models.backends import (
    ResponseCache,
    check_server,
    model_stop_strings,
    served_backend,
)
from alignlab.models.backends.base import Backend


@dataclass
class EvalConfig:
    """An evaluation run: suites, the model (and a judge), and how the model is called."""

    suite: str | None = None
    """Suites to run, comma-separated (or ``all``, ``world``); ``alignlab eval list``.
    Unset: ``all``, unless ``samples`` is given."""
    samples: str | None = None
    """Your own Sample file to evaluate instead of suites, scored by ``scorer``; its records
    are the suite ``samples:STEM`` (:mod:`alignlab.evals.samples_file`)."""
    scorer: str | None = None
    """The verdict that scores each reply to ``samples`` (``stance``, ``harm``, ``answer``,
    ``abandon``, ``abstention``, ``padding``); ``alignlab eval list`` shows the fields each
    needs."""
    model: str | None = None
    """The model: a local directory or hub id, or with ``base_url`` the name it is served as."""
    base_url: str | None = None
    """An OpenAI-compatible endpoint (``http://localhost:8000/v1``); unset: a local model."""
    api_key_env: str | None = None
    """The environment variable holding the endpoint's API key."""
    server: str = "openai"
    """What serves the endpoints (``openai``, ``transformers``, ``vllm``, ``llama.cpp``), for the
    request fields that make it sample as a local model does (``transformers serve`` answers
    greedily at any temperature without them; alignlab.models.backends.servers). A model
    named by a local directory's path gets that directory's dialogue stop strings."""
    output_dir: str = "runs/eval"
    """The run directory: ``records.jsonl``, ``summary.json``, the response cache."""
    max_new_tokens: int = 256
    """Most tokens per answer."""
    temperature: float = 0.0
    """Sampling temperature of the answers; 0 is greedy."""
    concurrency: int = 8
    """Endpoint requests in flight at once."""
    timeout: float = 60.0
    """Seconds one whole endpoint request may take, connecting to the last byte, before it
    is abandoned and retried."""
    max_retries: int = 6
    """Retries per endpoint request (backing off, honouring Retry-After)."""
    cache: bool = True
    """Keep endpoint responses in ``output_dir/cache.sqlite`` for reruns."""
    organism: str | None = None
    """An organism directory, for the ``world-*`` suites."""
    reward_model: str | None = None
    """A reward model that scores the agreement suites (else the model judges pairs)."""
    judge_model: str | None = None
    """A judge model that grades every verdict, as ``model``; unset: the rules."""
    judge_base_url: str | None = None
    """The judge's endpoint, if it is served."""
    judge_api_key_env: str | None = None
    """The environment variable with the judge endpoint's key."""
    judge_by: str = "reply"
    """How the judge's grade is read: ``reply`` (it writes ``GRADE: <grade>``) or ``choice``
    (the most probable of the grades' letters, for judges that follow no format)."""
    device: str | None = None
    """Device of local models; unset: the best available."""
    dtype: str = "auto"
    """Dtype of local models."""
    batch_size: int = 16
    """Prompts a local model generates together."""
    threads: int = 0
    """Torch CPU threads for local models; 0 keeps torch's default."""
    run: RunConfig = field(default_factory=RunConfig)
    """How the run goes: seed, limit, resume, chunk_size, progress."""

    def __post_init__(self) -> None:
        for name in ("max_new_tokens", "concurrency", "batch_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name}: must be at least 1, got {getattr(self, name)}")
        if self.threads < 0:
            raise ValueError(f"threads: must be >= 0, got {self.threads}")
        judge_method(self.judge_by)
        check_server(self.server)
        if self.temperature < 0 or self.timeout <= 0 or self.max_retries < 0:
            raise ValueError("temperature and max_retries: must be >= 0; timeout: > 0")
        if self.samples is not None and self.suite is not None:
            raise ValueError("samples: evaluates your own file instead of suites; drop suite")
        if self.samples is not None and self.scorer is None:
            raise ValueError(
                f"scorer: name the verdict that scores samples ({', '.join(VERDICTS)})"
            )
        if self.scorer is not None:
            if self.samples is None:
                raise ValueError("scorer: scores the replies to samples; name a samples file")
            verdict(self.scorer)


def backend_for(
    model: str | None,
    base_url: str | None,
    api_key_env: str | None,
    config: EvalConfig,
    cache: ResponseCache | None,
) -> Backend:
    """An endpoint backend when ``base_url`` is given, else a local HF model."""
    if base_url is not None:
        if model is None:
            raise ValueError("model: name the model the endpoint at base_url serves")
        return served_backend(
            base_url,
            model,
            server=config.server,
            stop=model_stop_strings(model),
            api_key_env=api_key_env,
            concurrency=config.concurrency,
            timeout=config.timeout,
            max_retries=config.max_retries,
            cache=cache,
        )
    if api_key_env is not None:
        raise ValueError("api_key_env: only an endpoint (base_url) takes an API key")
    from alignlab.models.backends.hf import HFBackend  # loads torch: only for a local model

    if config.threads:
        import torch

        torch.set_num_threads(config.threads)
    return HFBackend.load(
        model, device=config.device, dtype=config.dtype, batch_size=config.batch_size
    )


def evaluate(config: EvalConfig) -> dict[str, Any]:
    """Run ``config``'s suites (or its samples file) on its model; returns the summary
    written to ``output_dir``. A samples file is checked before any model is loaded."""
    names, samples = [], None
    if config.samples is not None:
        samples = read_samples(config.samples, config.scorer)
    else:
        names = parse_suites(config.suite or "all")
    needing = [n for n in names if SUITES[n].needs_organism]
    if needing and config.organism is None:
        raise ValueError(f"organism: the suites {needing} run on an organism directory")
    only_reward_model = (
        bool(names)
        and config.reward_model is not None
        and set(names)
        <= {
            "agreement",
            "world-agreement",
        }
    )
    if config.model is None and config.base_url is None and not only_reward_model:
        raise ValueError("model: name a model directory or hub id, or an endpoint with base_url")
    out = Path(config.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    served = config.base_url is not None or config.judge_base_url is not None
    cache = ResponseCache(out / "cache.sqlite") if config.cache and served else None
    backend = None
    if config.model is not None or config.base_url is not None:
        backend = backend_for(config.model, config.base_url, config.api_key_env, config, cache)
    judge = None
    if config.judge_model is not None or config.judge_base_url is not None:
        judge = Judge(
            backend_for(
                config.judge_model, config.judge_base_url, config.judge_api_key_env, config, cache
            ),
            config.judge_by,
            progress=config.run.progress,
        )
    scorer = None
    if config.reward_model is not None:
        from alignlab.models.reward import RewardModel  # loads torch: only when asked for

        rm = RewardModel.load(config.reward_model, device=config.device, dtype=config.dtype)
        scorer = rm.score
    options = SuiteOptions(
        max_new_tokens=config.max_new_tokens,
        temperature=config.temperature,
        judge=judge,
        organism=None if config.organism is None else Path(config.organism),
        reward_model=scorer,
    )
    if samples is None:
        return run_eval(build_tasks(names, options), backend, out, config.run)
    task = samples_task(config.samples, config.scorer, options, samples)
    if config.run.resume:
        check_resumable(out / RECORDS_FILE, task)
    return run_eval([task], backend, out, config.run)
