"""SONOS charge-trap flash cell operated in subthreshold for analog compute.

What this models: SONOS (silicon-oxide-nitride-oxide-silicon) *charge-trap* cells, whose charge
sits in a nitride layer. Source: V. Agrawal et al., "Subthreshold operation of SONOS analog
memory to enable accurate low-power neural network inference", IEDM 2022, 21.7 (128k measured
40 nm SONOS cells), as parameterised in Sandia CrossSim (``SONOS`` device): cell currents
0-1600 nA at the read bias; here at ``V_read = 0.1 V``, i.e. ``g_max = 16 uS``.

What it does not model: embedded NOR flash. Mythic's analog matrix processors store weights in
embedded 40 nm NOR flash (8-bit weights), for which no cell statistics are published; the
``mythic-m1076`` preset uses this SONOS model as a stand-in for them. That is an assumption:
both are 40 nm charge-storage transistors read in subthreshold, but the programming spread,
retention and read noise of Mythic's cells may differ from these SONOS measurements.

With ``g`` the target conductance (S):

* programming + device-to-device error (Fig. 10a): ``sigma(g, t) = A(t) (1 - exp(-g / B(t)))``,
  ``A(0) = 19.89 nA / V_read = 0.1989 uS``, ``B(0) = 176.3 nA / V_read = 1.763 uS``. The measured A
  and B at days 1-5 grow as ``ln(1 + t / 1 day)``: fitted here ``A(t) = A(0) + 0.082 uS ln(1 + t/d)``
  and ``B(t) = B(0) + 0.165 uS ln(1 + t/d)`` (within 2 % of all ten measured values);
* charge-loss retention of the mean (Fig. 10b): ``g_mean(t) = g_prog (1 - k ln(1 + t_eff / tau))``
  with ``k = 0.0100`` and ``tau = 4.1e3 s``, fitted to the measured mean drift at 400-1200 nA on
  days 1-5 (-3.1 % at 1 day, -4.7 % at 5 days); logarithmic beyond 5 days is an extrapolation;
* temperature: ``t_eff = t exp(Ea/k_B (1/T_ref - 1/T))`` with ``Ea = 1.1 eV``, ``T_ref = 300 K``
  (assumptions: the bake temperature of the data is not stated);
* read noise, fresh at every read (Fig. 11b): ``sigma_read = 0.1258 uS (1 - exp(-g / 2.154 uS))``;
* levels: 256 (8-bit, as Mythic states for its cells) by default.

The random part of each device's deviation is one ``N(0, 1)`` number drawn at programming and
scaled by ``sigma(g, t)``, so the spread grows over time along a fixed trajectory per device.
"""

from __future__ import annotations

import math
from typing import ClassVar, Literal

import torch
from pydantic import Field

from .base import Device, State, check_time

DAY = 86400.0


class Flash(Device):
    """40 nm SONOS charge-trap analog cell (Agrawal et al., IEDM 2022, as in CrossSim); the Mythic
    preset's stand-in for embedded NOR flash (an assumption, see the module docstring)."""

    name: Literal["flash"] = "flash"
    #: white read noise (independent at every read): all fresh, ``read_window`` is ignored
    noise_spectrum: ClassVar[Literal["1/f", "white"]] = "white"
    g_max: float = Field(16e-6, gt=0, description="largest target conductance (S)")
    levels: int | None = Field(256, ge=2, description="programmable levels; None = continuous")
    a0: float = Field(0.1989e-6, ge=0, description="A(0) of sigma(g) (S)")
    b0: float = Field(1.763e-6, gt=0, description="B(0) of sigma(g) (S)")
    a_growth: float = Field(0.082e-6, ge=0, description="dA / dln(1 + t/day) (S)")
    b_growth: float = Field(0.165e-6, ge=0, description="dB / dln(1 + t/day) (S)")
    charge_loss: float = Field(0.0100, ge=0, description="k of the mean charge loss")
    charge_loss_tau: float = Field(4.1e3, gt=0, description="tau of the mean charge loss (s)")
    read_a: float = Field(0.1258e-6, ge=0, description="A of the read-noise sigma (S)")
    read_b: float = Field(2.154e-6, gt=0, description="B of the read-noise sigma (S)")
    activation_ev: float = Field(1.1, gt=0, description="charge-loss activation energy Ea (eV)")
    reference_k: float = Field(300.0, gt=0, description="temperature of the measurements (K)")

    def drift_acceleration(self, temperature_k: float | None = None) -> float:
        """The retention law's Arrhenius factor ``exp(Ea/k_B (1/T_ref - 1/T))`` (module docstring)."""
        return self.arrhenius_factor(self.activation_ev, self.reference_k, temperature_k)

    def _t_eff(self, t: float) -> float:
        return check_time(t) * self.drift_acceleration()

    def variability_std(self, g_target: torch.Tensor, t: float) -> torch.Tensor:
        """sigma(g, t) (S): programming and device-to-device spread at ``t`` after programming."""
        grow = math.log1p(self._t_eff(t) / DAY)
        a, b = self.a0 + self.a_growth * grow, self.b0 + self.b_growth * grow
        return a * (1.0 - torch.exp(-g_target / b))

    def mean_retention(self, t: float) -> float:
        """Fraction of the programmed conductance left after charge loss at ``t``."""
        return max(1.0 - self.charge_loss * math.log1p(self._t_eff(t) / self.charge_loss_tau), 0.0)

    def _program(self, g_target: torch.Tensor, generator: torch.Generator) -> State:
        xi = torch.randn(g_target.shape, generator=generator, dtype=g_target.dtype)
        g_prog = (g_target + self.variability_std(g_target, 0.0) * xi).clamp(min=0.0)
        return {"g_target": g_target.clone(), "g_prog": g_prog, "xi": xi}

    def conductance(self, state: State, t: float) -> torch.Tensor:
        g_t = state["g_target"]
        if self._t_eff(t) == 0.0:
            return state["g_prog"]
        mean = g_t * self.mean_retention(t)
        return (mean + self.variability_std(g_t, t) * state["xi"]).clamp(min=0.0)

    def read_noise_std(self, state: State, g_t: torch.Tensor, t: float) -> torch.Tensor | None:
        if self.read_a == 0.0:
            return None
        return self.read_a * (1.0 - torch.exp(-g_t.clamp(min=0.0) / self.read_b))
