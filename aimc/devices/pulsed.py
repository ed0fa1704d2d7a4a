"""Update response of a device to voltage pulses, for on-chip training.

Inference devices (the other modules of this package) are *programmed* to a target conductance.
A device that trains on chip is instead *nudged*: every coincidence of a row pulse and a column
pulse (``aimc.array.pulse_update``) moves it by one small step up or down, and how large that
step is, and how it depends on the present state, is the device's *update response*.

Units. Weights here are in **normalised device units**: ``w`` is the differential conductance of
the cell's device pair in units of a reference conductance (one unit ≈ ``g_max`` of one device,
the convention of aihwkit's pulsed devices), with bounds around ``[-1, 1]``. A pulsed layer maps
them to digital weights by one fixed digital factor (``aimc.training.PulsedLinear``).

Models (all from aihwkit's pulsed-device family, ``aihwkit.simulator.configs.devices``, which
implements Gokmen & Vlasov, "Acceleration of deep neural network training with resistive
cross-point devices", Front. Neurosci. 10:333, 2016, and Gokmen & Haensch, "Algorithm for
training neural networks on resistive device arrays", Front. Neurosci. 14:103, 2020):

* :class:`ConstantStep` — every pulse moves the weight by ``±Δw`` until a hard bound;
* :class:`SoftBounds` — the step shrinks linearly towards the bound in its direction,
  ``Δw+ = Δw_up (1 - w / w_max)`` and ``Δw- = Δw_down (1 - w / w_min)`` (``w_min < 0``), so a
  device driven up approaches ``w_max`` exponentially, ``w_n = w_max - (w_max - w_0)(1 - a)^n``
  with ``a = Δw_up / w_max``;
* :class:`ExpStep` — aihwkit's ``ExpStepDevice`` fit to measured (e.g. RRAM) curves:
  ``z = 2 a w / (w_max - w_min) + b``, ``Δw+ = Δw_up max(1 - A_up e^(γ_up z), 0)``,
  ``Δw- = Δw_down max(1 - A_down e^(-γ_down z), 0)`` (strongly asymmetric near the bounds).

Variation (aihwkit's ``PulsedDevice`` parameterisation, drawn once per device by :meth:`draw`):

* device-to-device: ``Δw_up = dw_min · g (1 + β)``, ``Δw_down = dw_min · g (1 - β)`` with the gain
  ``g`` lognormal of mean 1 and relative std ``dw_min_dtod``, the up/down bias
  ``β ~ N(up_down, up_down_dtod)``; bounds ``w_max · LN(1, w_max_dtod)`` and
  ``w_min · LN(1, w_min_dtod)`` (lognormal instead of aihwkit's normal so that no step or bound
  changes sign; same mean and std);
* cycle-to-cycle: each pulse's step is multiplied by ``(1 + dw_min_std · ξ)``, ``ξ ~ N(0, 1)``
  fresh per pulse.

Many pulses at once. :meth:`PulsedDevice.apply` moves devices by ``n_up`` up and ``n_down`` down
pulses in one call (the update sampler hands it counts, not pulse sequences). The pulses are taken
as uniformly interleaved: exact for constant steps (up to clipping at a bound, applied once at the
end), closed form for soft bounds (the composition of the two affine maps in the continuous
interleaving limit, exact when all pulses go one way), a midpoint rule for other responses.
Cycle-to-cycle noise adds ``dw_min_std · sqrt(n_up Δw+² + n_down Δw-²) · ξ`` with the steps at
the start point (the sum of the per-pulse noises; exact for constant steps).

To add a response: subclass :class:`PulsedDevice`, implement :meth:`PulsedDevice.steps`
(noise-free step magnitudes at ``w``), optionally a closed-form :meth:`PulsedDevice.apply`, and
cite the model's source here.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
from pydantic import BaseModel, ConfigDict, Field

State = dict[str, torch.Tensor]


def lognormal(shape: tuple[int, ...], rel_std: float, generator: torch.Generator) -> torch.Tensor:
    """Lognormal factors of mean 1 and relative standard deviation ``rel_std``."""
    if rel_std == 0.0:
        return torch.ones(shape)
    s2 = math.log1p(rel_std**2)
    return torch.randn(shape, generator=generator).mul_(math.sqrt(s2)).sub_(s2 / 2).exp_()


class PulsedDevice(BaseModel):
    """Base class of pulsed update responses (normalised weight units, see the module docstring).

    Example:
        >>> dev = ConstantStep(dw_min=0.001, dw_min_dtod=0, up_down_dtod=0, dw_min_std=0)
        >>> state = dev.draw((2, 3), torch.Generator().manual_seed(0))
        >>> w = torch.zeros(2, 3)
        >>> round(dev.apply(w, torch.full((2, 3), 5.0), torch.zeros(2, 3), state)[0, 0].item(), 6)
        0.005
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    dw_min: float = Field(0.001, gt=0, description="mean step size at w = 0 (weight units)")
    dw_min_dtod: float = Field(0.3, ge=0, description="device-to-device rel. std of the step")
    dw_min_std: float = Field(0.3, ge=0, description="cycle-to-cycle rel. std of each step")
    up_down: float = Field(0.0, gt=-1, lt=1, description="systematic up/down step bias β")
    up_down_dtod: float = Field(0.01, ge=0, description="device-to-device std of β")
    w_max: float = Field(1.0, gt=0, description="mean upper bound (weight units)")
    w_min: float = Field(-1.0, lt=0, description="mean lower bound (weight units)")
    w_max_dtod: float = Field(0.3, ge=0, description="device-to-device rel. std of w_max")
    w_min_dtod: float = Field(0.3, ge=0, description="device-to-device rel. std of w_min")

    @property
    def states(self) -> float:
        """Nominal number of steps between the bounds, ``(w_max - w_min) / dw_min``."""
        return (self.w_max - self.w_min) / self.dw_min

    def draw(self, shape: tuple[int, ...], generator: torch.Generator) -> State:
        """Device-to-device parameters of ``shape`` devices: step sizes ``up``/``down`` (>= 0)
        and bounds ``w_max``/``w_min``."""
        shape = tuple(shape)
        gain = lognormal(shape, self.dw_min_dtod, generator).mul_(self.dw_min)
        beta = torch.randn(shape, generator=generator).mul_(self.up_down_dtod).add_(self.up_down)
        return {
            "up": (gain * (1 + beta)).clamp_(min=0.0),
            "down": (gain * (1 - beta)).clamp_(min=0.0),
            "w_max": lognormal(shape, self.w_max_dtod, generator).mul_(self.w_max),
            "w_min": lognormal(shape, self.w_min_dtod, generator).mul_(self.w_min),
        }

    def steps(self, w: torch.Tensor, state: State) -> tuple[torch.Tensor, torch.Tensor]:
        """Noise-free magnitudes (>= 0) of one up and one down step at weight ``w``."""
        raise NotImplementedError

    def clip(self, w: torch.Tensor, state: State) -> torch.Tensor:
        """Weights held inside each device's bounds."""
        return torch.minimum(torch.maximum(w, state["w_min"]), state["w_max"])

    def pulse(self, w: torch.Tensor, up: torch.Tensor, state: State,
              normal: torch.Tensor | None = None) -> torch.Tensor:
        """Exactly one pulse per device (``up`` True: potentiation, False: depression), with
        cycle-to-cycle noise from the standard normals ``normal``. The reference for tests."""
        s_up, s_down = self.steps(w, state)
        step = torch.where(up, s_up, -s_down)
        if normal is not None and self.dw_min_std > 0:
            step = step * (1 + self.dw_min_std * normal)
        return self.clip(w + step, state)

    def _noise(self, s_up, s_down, n_up, n_down, normal):
        if normal is None or self.dw_min_std == 0:
            return 0.0
        return (n_up * s_up.square() + n_down * s_down.square()).sqrt_().mul_(normal * self.dw_min_std)

    def apply(self, w: torch.Tensor, n_up: torch.Tensor, n_down: torch.Tensor, state: State,
              normal: torch.Tensor | None = None) -> torch.Tensor:
        """Weights after ``n_up`` up and ``n_down`` down pulses (uniformly interleaved; midpoint
        rule), with cycle-to-cycle noise from ``normal`` (standard normals, or None)."""
        up0, down0 = self.steps(w, state)
        mid = self.clip(w + 0.5 * (n_up * up0 - n_down * down0), state)
        s_up, s_down = self.steps(mid, state)
        delta = n_up * s_up - n_down * s_down
        return self.clip(w + delta + self._noise(s_up, s_down, n_up, n_down, normal), state)

    def apply_(self, w: torch.Tensor, n_up: torch.Tensor, n_down: torch.Tensor, state: State,
               normal: torch.Tensor | None = None) -> torch.Tensor:
        """In-place :meth:`apply` on ``w``; ``n_up``, ``n_down`` and ``normal`` may be overwritten
        (they serve as scratch buffers on the hot path)."""
        return w.copy_(self.apply(w, n_up, n_down, state, normal))

    def symmetry_point(self, state: State, iterations: int = 40) -> torch.Tensor:
        """The weight where an up and a down step are equal (alternating pulses converge there),
        by bisection inside the bounds; a device without one returns the bound it drifts to."""
        lo, hi = state["w_min"].clone(), state["w_max"].clone()
        for _ in range(iterations):  # bisection steps over all devices at once
            mid = 0.5 * (lo + hi)
            s_up, s_down = self.steps(mid, state)
            above = s_up > s_down  # net drift upwards: the point lies above mid
            lo = torch.where(above, mid, lo)
            hi = torch.where(above, hi, mid)
        return 0.5 * (lo + hi)


class ConstantStep(PulsedDevice):
    """Constant step up to hard bounds (aihwkit ``ConstantStepDevice``; Gokmen & Vlasov 2016).

    Example:
        >>> ConstantStep().states
        2000.0
    """

    name: Literal["constant_step"] = "constant_step"

    def steps(self, w, state):
        return state["up"].expand_as(w), state["down"].expand_as(w)

    def apply(self, w, n_up, n_down, state, normal=None):
        return self.apply_(w.clone(), n_up.clone(), n_down.clone(), state, normal)

    def apply_(self, w, n_up, n_down, state, normal=None):
        up, down = state["up"], state["down"]
        n_up.mul_(up)  # from here on: the change of each direction
        n_down.mul_(down)
        if normal is not None and self.dw_min_std > 0:  # sqrt(n_up up² + n_down down²) σ ξ
            spread = torch.mul(n_up, up).addcmul_(n_down, down).add_(1e-30).sqrt_()
            w.addcmul_(spread, normal, value=self.dw_min_std)
        w.add_(n_up).sub_(n_down)
        torch.maximum(w, state["w_min"], out=w)
        return torch.minimum(w, state["w_max"], out=w)


class SoftBounds(PulsedDevice):
    """Steps shrink linearly to zero at the bound they approach (aihwkit ``SoftBoundsDevice``,
    i.e. ``LinearStepDevice`` with ``γ = 1``; Gokmen & Haensch 2020 use this response).

    ``Δw+ = Δw_up (1 - w / w_max)``, ``Δw- = Δw_down (1 - w / w_min)``; the symmetry point is
    ``w* = (Δw_up - Δw_down) / (Δw_up / w_max - Δw_down / w_min)``.

    Example:
        >>> dev = SoftBounds(dw_min_dtod=0, up_down_dtod=0, w_max_dtod=0, w_min_dtod=0, dw_min_std=0)
        >>> s = dev.draw((1,), torch.Generator().manual_seed(0))
        >>> round(dev.apply(torch.zeros(1), torch.tensor([1e5]), torch.zeros(1), s).item(), 6)
        1.0
    """

    name: Literal["soft_bounds"] = "soft_bounds"

    def steps(self, w, state):
        s_up = state["up"] * (1 - w / state["w_max"])
        s_down = state["down"] * (1 - w / state["w_min"])
        return s_up.clamp_(min=0.0), s_down.clamp_(min=0.0)

    def draw(self, shape, generator):
        state = super().draw(shape, generator)
        return {**state, **self.derived(state)}

    @staticmethod
    def derived(state: State) -> State:
        """Per-device constants of the response, kept with the state for speed: the relative
        step ``a = Δw_up / w_max`` and ``b = -Δw_down / w_min`` and the rates ``-ln(1 - a)``,
        ``-ln(1 - b)`` of the closed form."""
        a = (state["up"] / state["w_max"]).clamp_(max=0.999999)
        b = (state["down"] / -state["w_min"]).clamp_(max=0.999999)
        return {"a": a, "b": b, "rate_up": -torch.log1p(-a), "rate_down": -torch.log1p(-b)}

    def apply(self, w, n_up, n_down, state, normal=None):
        return self.apply_(w.clone(), n_up.clone(), n_down.clone(), state, normal)

    def apply_(self, w, n_up, n_down, state, normal=None):
        # One up pulse maps w -> (1 - a) w + a w_max, one down pulse w -> (1 - b) w + b w_min.
        # Uniformly interleaved (the continuous limit), n_up and n_down pulses relax w
        # exponentially, at the rate lam = n_up ra + n_down rb with ra = -ln(1 - a), towards
        # (n_up ra w_max + n_down rb w_min) / lam:  Δw = (n_up ra (w_max - w) + n_down rb
        # (w_min - w)) (1 - exp(-lam)) / lam, exact when all pulses go one way.
        if "rate_up" not in state:
            state = {**state, **self.derived(state)}
        to_max = torch.sub(state["w_max"], w)
        to_min = torch.sub(state["w_min"], w)  # negative
        if normal is not None and self.dw_min_std > 0:  # steps at w: a (w_max - w), b (w - w_min)
            spread = torch.mul(to_max, state["a"]).square_().mul_(n_up)
            spread.addcmul_(torch.mul(to_min, state["b"]).square_(), n_down).add_(1e-30).sqrt_()
            w.addcmul_(spread, normal, value=self.dw_min_std)
        n_up.mul_(state["rate_up"])
        n_down.mul_(state["rate_down"])
        lam = torch.add(n_up, n_down)
        to_max.mul_(n_up).addcmul_(to_min, n_down)  # lam (target - w)
        if float(lam.max()) < 0.05:  # (1 - exp(-lam)) / lam by its series, error < lam³/24
            lam.mul_(-1.0 / 6.0).add_(0.5).mul_(torch.add(n_up, n_down)).neg_().add_(1.0)
        else:
            lam = torch.where(lam > 0, -torch.expm1(-lam) / lam.clamp(min=1e-30), 1.0)
        w.addcmul_(to_max, lam)
        torch.maximum(w, state["w_min"], out=w)
        return torch.minimum(w, state["w_max"], out=w)

    def symmetry_point(self, state, iterations: int = 40):
        up, down = state["up"], state["down"]
        return (up - down) / (up / state["w_max"] - down / state["w_min"])


class ExpStep(PulsedDevice):
    """Exponential step response (aihwkit ``ExpStepDevice``, defaults are aihwkit's fit).

    ``z = 2 a w / (w_max - w_min) + b``; ``Δw+ = Δw_up max(1 - A_up exp(γ_up z), 0)``,
    ``Δw- = Δw_down max(1 - A_down exp(-γ_down z), 0)``. ``a, b, A, γ`` are per tile (no
    device-to-device variation), as in aihwkit.

    Example:
        >>> dev = ExpStep(dw_min_dtod=0, up_down_dtod=0, w_max_dtod=0, w_min_dtod=0)
        >>> s = dev.draw((1,), torch.Generator().manual_seed(0))
        >>> [round(v.item() / dev.dw_min, 3) for v in dev.steps(torch.tensor([0.5]), s)]
        [0.792, 0.999]
    """

    name: Literal["exp_step"] = "exp_step"
    w_max: float = Field(0.6, gt=0, description="mean upper bound (aihwkit default)")
    w_min: float = Field(-0.6, lt=0, description="mean lower bound (aihwkit default)")
    A_up: float = Field(0.00081, description="A+ (aihwkit ExpStepDevice default)")
    A_down: float = Field(0.36833, description="A- (aihwkit default)")
    gamma_up: float = Field(12.44625, description="γ+ (aihwkit default)")
    gamma_down: float = Field(12.78785, description="γ- (aihwkit default)")
    a: float = Field(0.244, description="slope a of z (aihwkit default)")
    b: float = Field(0.2425, description="offset b of z (aihwkit default)")

    def steps(self, w, state):
        z = (2 * self.a) * w / (state["w_max"] - state["w_min"]) + self.b
        y_up = (1 - self.A_up * torch.exp(self.gamma_up * z)).clamp_(min=0.0)
        y_down = (1 - self.A_down * torch.exp(-self.gamma_down * z)).clamp_(min=0.0)
        return state["up"] * y_up, state["down"] * y_down


PULSED_DEVICES: dict[str, type[PulsedDevice]] = {
    "constant_step": ConstantStep, "soft_bounds": SoftBounds, "exp_step": ExpStep,
}

