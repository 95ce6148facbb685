"""``alignlab demo``: the alignment ladder on the assistant organism, measured and reported.

:class:`DemoConfig` sizes the run; :func:`run_demo` builds (or reuses) the organism, runs
SFT, reward models, best-of-n, PPO against the proxy and against gold, DPO, SL-CAI and
RL-CAI, measures every stage on held-out prompts (:mod:`.measure`, :mod:`.evaluate`),
computes the Goodhart curves and the three forms (:mod:`.goodhart`), and writes
``results.json`` and ``report.html`` (:mod:`alignlab.report`).
"""

from alignlab.experiments.demo.config import DemoConfig


def run_demo(config: DemoConfig):
    """Run the demo as ``config`` says; returns the path of ``report.html``."""
    from alignlab.experiments.demo.ladder import run_demo as run

    return run(config)


__all__ = ["DemoConfig", "run_demo"]
