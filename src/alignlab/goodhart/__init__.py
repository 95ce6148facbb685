"""The Goodhart lab's analysis: over-optimization of a proxy reward, measured as curves.

Nothing here runs an optimizer. A sweep (:mod:`alignlab.experiments.sweep`) runs one
across a range of optimization pressure (best-of-n over n, PPO over KL coefficients and
steps, DPO over beta); this package turns what it sampled into figures: per point, proxy
and gold reward, KL to the reference, response length and failure-mode rates, each with
its n and an interval (:mod:`.points`, :mod:`.scoring`). From the points come the curves:
Gao et al. (2022)'s forms fitted to gold against ``sqrt(KL)`` (:mod:`.fits`), each run's
gold as a fraction of the oracle's (the same optimizer on the gold reward), and an early
warning from signals visible without gold (:mod:`.warning`), all in ``curves.json``
(:mod:`.curves`) with plots (:mod:`.plots`). :mod:`.control` shows why the hump needs
proxy error correlated with what the optimizer can push; the three forms of Goodhart's
law are experiments, in :mod:`alignlab.experiments.forms`.

The modules need numpy, scipy and matplotlib only, apart from :mod:`.scoring`, which loads
reward models when it is asked to score.
"""

from alignlab.goodhart.control import best_of_n_means, gaussian_world, length_world
from alignlab.goodhart.curves import (
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
from alignlab.goodhart.fits import Fit, fit_best_of_n, fit_form, fit_rl, grid_position
from alignlab.goodhart.points import Point, PointStore
from alignlab.goodhart.warning import WarningConfig, early_warning, first_alarm, signals

__all__ = [
    "CURVES_FILE",
    "SCHEMA",
    "Curve",
    "Fit",
    "Point",
    "PointStore",
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
    "signals",
    "write_curves",
]
