"""``alignlab demo --model``: the alignment ladder on a real model (Gemma 3 270M by default).

:class:`RealConfig` sizes the run; :func:`run_real` measures the base model on the suites,
fine-tunes it against sycophancy on claims whose targets depend only on their truth (Wei
et al. 2023) with the filtering ablated, runs Constitutional AI on its own revisions and
its own AI-feedback labels (SL-CAI, then DPO), trains a LoRA reward model for best-of-n,
measures every stage the same way (:mod:`.measure`), and writes the ``real_ladder``
section of ``results.json`` and the report.
"""

from alignlab.experiments.real.config import RealConfig


def run_real(config: RealConfig):
    """Run the real-model ladder as ``config`` says; returns the path of ``report.html``."""
    from alignlab.experiments.real.ladder import run_real as run

    return run(config)


__all__ = ["RealConfig", "run_real"]
