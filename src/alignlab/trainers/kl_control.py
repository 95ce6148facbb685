"""How strongly PPO-RLHF holds the policy to its reference: the KL coefficient ``beta``.

The reward PPO maximizes is ``score(x, y) - beta KL(pi || pi_ref)`` (Ziegler et al. 2019;
Stiennon et al. 2020; Ouyang et al. 2022). ``beta`` stays fixed
(:class:`FixedKLController`), or adapts so that the measured KL tracks a target
(:class:`AdaptiveKLController`, Ziegler et al. 2019)::

    e_t = clip(KL_t / KL_target - 1, -0.2, 0.2)
    beta_{t+1} = beta_t (1 + K_beta e_t),   K_beta = n_t / horizon

where ``n_t`` is the number of responses the step measured ``KL_t`` on. KL above target
raises ``beta`` (pulling the policy back), KL below lowers it; however far off target the
KL is, ``beta`` changes by a factor of at most ``exp(0.2)`` (about 1.22) per ``horizon``
responses. Early in a run the policy has not moved yet, so the KL sits below any target
and ``beta`` decays however it started: start it above the value that will hold the
target rather than below, or the KL overshoots before ``beta`` climbs back.
"""

from __future__ import annotations

import math

ERROR_CLIP = 0.2
"""The largest proportional error the adaptive controller acts on (Ziegler et al. 2019)."""


class FixedKLController:
    """``beta`` never changes."""

    def __init__(self, kl_coef: float):
        if kl_coef < 0 or not math.isfinite(kl_coef):
            raise ValueError(f"kl_coef: must be a finite number >= 0, got {kl_coef}")
        self.kl_coef = kl_coef

    def update(self, kl: float, n_samples: int) -> float:
        """Take the step's measured sequence-level KL; return the coefficient for the next."""
        return self.kl_coef

    def state_dict(self) -> dict[str, float]:
        return {"kl_coef": self.kl_coef}

    def load_state_dict(self, state: dict[str, float]) -> None:
        self.kl_coef = float(state["kl_coef"])


class AdaptiveKLController(FixedKLController):
    """``beta`` follows the proportional rule of the module docstring towards ``target``."""

    def __init__(self, kl_coef: float, target: float, horizon: int):
        super().__init__(kl_coef)
        if kl_coef == 0:
            raise ValueError("kl_coef: an adaptive coefficient scales itself, so it must be > 0")
        if target <= 0 or horizon < 1:
            raise ValueError(f"kl_target must be > 0 and kl_horizon >= 1, got {target}, {horizon}")
        self.target = target
        self.horizon = horizon

    def update(self, kl: float, n_samples: int) -> float:
        if not math.isfinite(kl):
            raise ValueError(f"measured KL is {kl}: the adaptive KL coefficient cannot follow it")
        error = min(max(kl / self.target - 1.0, -ERROR_CLIP), ERROR_CLIP)
        self.kl_coef *= 1.0 + error * n_samples / self.horizon
        return self.kl_coef


def kl_controller(
    kl_coef: float, target: float | None = None, horizon: int = 640
) -> FixedKLController:
    """The adaptive controller when a ``target`` is given, else the fixed one."""
    if target is None:
        return FixedKLController(kl_coef)
    return AdaptiveKLController(kl_coef, target, horizon)
