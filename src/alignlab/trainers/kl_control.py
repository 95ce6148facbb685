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
responses.

The policy's KL answers a change of ``beta`` late: a learning rate that moves the policy
gently moves it back gently too. On the organism (64 responses a step, lr 3e-5) the KL
kept rising for some 40 steps after ``beta`` began to climb, and it does not drift up
smoothly but jumps, within a few steps, when the policy finds a response the reward likes.
A gain that corrects ``beta`` within tens of steps therefore swings it past the value that
holds the target and back: with Ziegler et al.'s K_beta = 0.1 (``horizon`` = 10 steps'
responses) ``beta`` fell from 0.1 to 0.04 while the policy had not moved yet, the KL then
overshot to 1-2 nats against a target of 0.5, and the second half of a 200-step run
averaged 0.84. Hence the slow default (``horizon`` = 2000 responses: K_beta = 0.032 at 64
a step, so ``beta`` moves by at most a factor of about 1.9 in 100 steps), which leaves the
controller to trim ``beta`` rather than to find it: start ``beta`` within a factor of about
two of the value that holds the target. On the organism, with target 0.5, a start of 0.5
(ending near 0.3) held the second half at 0.53-0.62 nats over four seeds; a start of 0.1
let it run to 1.07, and one of 1.0 kept it at 0.24. Early in a run the KL sits below any
target because the policy has not moved yet, so ``beta`` decays at first whatever it
started at: start it above the holding value rather than below.

The KL is that of the step's responses, ``KL_t`` being the mean of ``log pi(y|x) -
log pi_ref(y|x)`` over them, and it is noisy: at 64 responses its spread from step to step
is about half of a 0.5-nat target, so about a third of steps fall outside ±50% of the
target however well ``beta`` is set. The controller averages that noise itself, each step
moving ``beta`` by at most 0.64% at the default horizon.
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
    kl_coef: float, target: float | None = None, horizon: int = 2000
) -> FixedKLController:
    """The adaptive controller when a ``target`` is given, else the fixed one."""
    if target is None:
        return FixedKLController(kl_coef)
    return AdaptiveKLController(kl_coef, target, horizon)
