"""Goodhart sweeps: one optimizer across a range of optimization pressure, point by point.

:class:`SweepConfig` names the optimizer (best-of-n over n, PPO over KL coefficients and
steps, DPO over beta), the policy, the proxy and the gold; :func:`run_sweep` runs or
resumes it and writes ``points.jsonl``, ``curves.json`` and plots, whose analysis is
:mod:`alignlab.goodhart`.
"""

from alignlab.experiments.sweep.config import BestOfNSweep, DPOSweep, PPOSweep, SweepConfig
from alignlab.experiments.sweep.runner import report, run_sweep

__all__ = ["BestOfNSweep", "DPOSweep", "PPOSweep", "SweepConfig", "report", "run_sweep"]
