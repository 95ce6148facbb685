"""The Goodhart lab: over-optimization of a proxy reward, measured as curves.

A *sweep* runs one optimizer across a range of optimization pressure (best-of-n over n,
PPO over KL coefficients and steps, DPO over beta) and records, per point, proxy and gold
reward, KL to the reference, response length and failure-mode rates, each with its n and
a bootstrap interval (:mod:`.points`, :mod:`.scoring`). From the points come the curves:
Gao et al. (2022)'s forms fitted to gold against ``sqrt(KL)`` (:mod:`.fits`), each run's
gold as a fraction of the oracle's (the same optimizer on the gold reward), and an early
warning from signals visible without gold (:mod:`.warning`), all in ``curves.json``
(:mod:`.curves`) with plots (:mod:`.plots`). :mod:`.control` shows why the hump needs
proxy error correlated with what the optimizer can push, and :mod:`.experiments` produces
the three forms of Goodhart's law (regressional, extremal, adversarial) on the organism.

The analysis modules (fits, control, points, curves, warning, plots) need numpy, scipy
and matplotlib only. The sweep runners (:mod:`.best_of_n`, :mod:`.ppo`, :mod:`.dpo`,
:mod:`.sweep`, :mod:`.experiments`) drive :mod:`alignlab.trainers` and import it when
they run, so importing this package never loads torch.
"""

from alignlab.measure.goodhart.config import (
    BestOfNSweep,
    DPOSweep,
    PPOSweep,
    SweepConfig,
    WarningConfig,
)
from alignlab.measure.goodhart.control import best_of_n_means, gaussian_world, length_world
from alignlab.measure.goodhart.curves import (
    CURVES_FILE,
    SCHEMA,
    Curve,
    analyze,
    efficiency,
    group,
    oracle_frontier,
    read_curves,
    write_curves,
)
from alignlab.measure.goodhart.fits import Fit, fit_best_of_n, fit_form, fit_rl, grid_position
from alignlab.measure.goodhart.points import Point, PointStore
from alignlab.measure.goodhart.warning import early_warning, first_alarm, signals


def run_sweep(config: SweepConfig):
    """Run (or resume) a sweep; see :func:`alignlab.measure.goodhart.sweep.run_sweep`."""
    from alignlab.measure.goodhart.sweep import run_sweep as run

    return run(config)


def report(directory, config: SweepConfig | None = None):
    """Redraw a sweep's curves.json and plots; see :func:`.sweep.report`."""
    from alignlab.measure.goodhart.sweep import report as run

    return run(directory, config)


__all__ = [
    "CURVES_FILE",
    "SCHEMA",
    "BestOfNSweep",
    "Curve",
    "DPOSweep",
    "Fit",
    "PPOSweep",
    "Point",
    "PointStore",
    "SweepConfig",
    "WarningConfig",
    "analyze",
    "best_of_n_means",
    "early_warning",
    "efficiency",
    "first_alarm",
    "fit_best_of_n",
    "fit_form",
    "fit_rl",
    "gaussian_world",
    "grid_position",
    "group",
    "length_world",
    "oracle_frontier",
    "read_curves",
    "report",
    "run_sweep",
    "signals",
    "write_curves",
]
