"""The three forms of Goodhart's law, and its early warning, as experiments on the
assistant organism, each with several seeds and a ``summary.json`` of its figures.

- :func:`run_regressional`: reward models fitted to noisier, more biased annotators;
- :func:`run_extremal`: a reward model fitted on short responses, optimized towards long;
- :func:`run_adversarial`: a keyword harm detector as the reward;
- :func:`run_early_warning`: ensemble disagreement and a held-out reward model as alarms.

Each imports the trainers it drives only when it runs.
"""

from alignlab.experiments.forms.adversarial import AdversarialConfig, run_adversarial
from alignlab.experiments.forms.base import ExperimentConfig
from alignlab.experiments.forms.early_warning import (
    EarlyWarningConfig,
    run_early_warning,
)
from alignlab.experiments.forms.extremal import ExtremalConfig, run_extremal
from alignlab.experiments.forms.regressional import (
    RegressionalConfig,
    run_regressional,
    scaled_annotators,
)

EXPERIMENTS = {
    "regressional": (RegressionalConfig, run_regressional),
    "extremal": (ExtremalConfig, run_extremal),
    "adversarial": (AdversarialConfig, run_adversarial),
    "early-warning": (EarlyWarningConfig, run_early_warning),
}
"""Each experiment's command name, config class and runner."""

__all__ = [
    "EXPERIMENTS",
    "AdversarialConfig",
    "EarlyWarningConfig",
    "ExperimentConfig",
    "ExtremalConfig",
    "RegressionalConfig",
    "run_adversarial",
    "run_early_warning",
    "run_extremal",
    "run_regressional",
    "scaled_annotators",
]
