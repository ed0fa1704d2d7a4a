"""Phase-change memory (PCM): the statistical model of IBM's PCM inference chips.

Source: S. R. Nandakumar et al., "Phase-change memory models for deep learning training and
inference", ICECS 2019 (doi:10.1109/ICECS46596.2019.8964852); the same model drives IBM aihwkit's
``PCMLikeNoiseModel``. With ``g_r = g_T / g_max`` (``g_T`` the target conductance):

* programming noise (eq. for sigma_prog):
  ``g_prog = g_T + sigma_prog * N(0, 1)``,
  ``sigma_prog = c0 + c1 * g_r + c2 * g_r**2`` with
  ``(c0, c1, c2) = (0.26348, 1.9650, -1.1731) uS`` at ``g_max = 25 uS`` (scaled by
  ``g_max / 25 uS`` otherwise); programmed conductances are clipped at 0 (never negative);
* drift: ``g(t) = g_prog * ((t + t0) / t0) ** (-nu)``, ``t0 = 20 s``; one exponent per device
  drawn at programming, ``nu = |N(mu_nu, sigma_nu)|`` with
  ``mu_nu = clip(-0.0155 ln g_r + 0.0244, 0.049, 0.1)`` and
  ``sigma_nu = clip(-0.0125 ln g_r - 0.0059, 0.008, 0.045)``;
* 1/f read noise:
  ``sigma_read = g(t) * Q_s * sqrt(ln((t + t_read) / (2 t_read)))``,
  ``Q_s = min(0.0088 / g_r**0.65, 0.2)``, ``t_read = 250 ns``. The logarithm is the integral of a
  1/f spectrum from ``1/(t + t_read)`` to ``1/(2 t_read)``; it is taken as 0 before ``t_read``.
  With a read window ``read_window = T_w`` the band below ``1/T_w`` (variance
  ``∝ ln((t + t_read) / T_w)``) is frozen over the window and the band above it
  (``∝ ln(T_w / (2 t_read))``) fresh at every read (``Device.read_noise_split``); the default
  ``None`` keeps all of it fresh at every read.

Temperature (off at the default ``temperature_k = reference_k = 300 K``, where every number is
the same as without these terms):

* **drift speeds up Arrhenius-like**: time since programming at temperature ``T`` counts as
  ``t_eff = t * exp(Ea_drift / k_B * (1/T_ref - 1/T))`` in the drift law, the time-temperature
  equivalence of structural relaxation (D. Ielmini, S. Lavizzari, D. Sharma, A. L. Lacaita,
  "Temperature acceleration of structural relaxation in amorphous Ge2Sb2Te5", Appl. Phys. Lett.
  92, 193511 (2008): Arrhenius kinetics relating the time to reach a relaxed state to the
  temperature; M. Le Gallo et al., "The complete time/temperature dependence of I-V drift in PCM
  devices", IRPS 2016). ``Ea_drift = 1.0 eV`` is an assumption of the order of the relaxation
  barriers of those works, not a fit of IBM's chip; the drift exponent itself stays as drawn.
  Under a temperature that changes over time the equivalent time is the integral
  ``int exp(Ea/k_B (1/T_ref - 1/T(s))) ds`` (``aimc.devices.temperature``);
* **read conductance is thermally activated**: amorphous PCM conducts by thermally activated
  transport, ``G(T) = G(T_ref) * exp(-Ea_G / k_B * (1/T - 1/T_ref))`` (D. Ielmini, Y. Zhang,
  "Analytical model for subthreshold conduction and threshold switching in chalcogenide-based
  memory devices", J. Appl. Phys. 102, 054517 (2007)), with an activation energy that depends on
  the programmed state: large for low-conductance (mostly amorphous) states, small for
  high-conductance (mostly crystalline) ones, the "strong and inhomogeneous temperature
  dependence" that I. Giannopoulos et al., "Temperature compensation schemes for in-memory
  computing using phase-change memory", AICAS 2020, compensate at array level. Here
  ``Ea_G = Ea_0 + (Ea_1 - Ea_0) g_r`` (``g_r = g_T / g_max``) with ``(Ea_0, Ea_1) = (0.2, 0.03)
  eV``: an assumption in the range of those works (amorphous GST ~0.2-0.3 eV, crystalline near
  0), not a fit of IBM's devices. Read noise scales with the conductance read.

Assumptions: devices are independent; ``t`` is the time since the end of programming, in both
the drift and the read-noise law, as the equations above are written (IBM aihwkit evaluates the
read-noise law at ``t + t0`` instead, which gives 10 % more read noise at 1 s and the same within
0.1 % from one hour on). ``Q_s`` uses the target conductance. Units: S, s.
"""

from __future__ import annotations

import math
from typing import ClassVar, Literal

import torch
from pydantic import Field

from .base import BOLTZMANN_EV, Device, State, arrhenius, check_time

G_MAX_REFERENCE = 25e-6  # S; the g_max at which Nandakumar et al. give (c0, c1, c2)
_G_R_FLOOR = 1e-6  # g_r below this is treated as this (keeps ln and powers finite)


class PCM(Device):
    """PCM device after Nandakumar et al. (ICECS 2019); see the module docstring for equations.

    Example:
        >>> pcm = PCM()                      # g_max = 25 uS, IBM's published coefficients
        >>> g = torch.full((4,), 10e-6)
        >>> state = pcm.program(g, torch.Generator().manual_seed(0))
        >>> g_day = pcm.conductance(state, 86400.0)
    """

    name: Literal["pcm"] = "pcm"
    noise_spectrum: ClassVar[Literal["1/f", "white"]] = "1/f"
    g_max: float = Field(25e-6, gt=0, description="largest target conductance (S)")
    prog_coeffs: tuple[float, float, float] = Field(
        (0.26348e-6, 1.9650e-6, -1.1731e-6),
        description="(c0, c1, c2) of sigma_prog in S at g_max = 25 uS (Nandakumar 2019)",
    )
    t0: float = Field(20.0, gt=0, description="drift reference time t0 (s)")
    t_read: float = Field(250e-9, gt=0, description="duration of one read t_read (s)")
    prog_noise_scale: float = Field(1.0, ge=0, description="multiplies sigma_prog")
    drift_scale: float = Field(1.0, ge=0, description="multiplies every drift exponent nu")
    read_noise_scale: float = Field(1.0, ge=0, description="multiplies sigma_read")
    reference_k: float = Field(300.0, gt=0, description="temperature T_ref of the model's measurements (K)")
    drift_activation_ev: float = Field(1.0, ge=0, description="Ea of the drift's time-temperature "
                                       "equivalence (eV; assumption, module docstring)")
    conductance_activation_ev: tuple[float, float] = Field(
        (0.2, 0.03), description="Ea_G of the read conductance at g_r = 0 and g_r = 1 (eV), linear "
                                 "in between (assumption, module docstring)")

    def drift_acceleration(self, temperature_k: float | None = None) -> float:
        """``exp(Ea_drift / k_B (1/T_ref - 1/T))``: how much faster drift runs at ``T``."""
        t_k = self.temperature_k if temperature_k is None else temperature_k
        return arrhenius(self.drift_activation_ev, self.reference_k, t_k)

    def conductance_activation(self, g_target: torch.Tensor) -> torch.Tensor:
        """Ea_G (eV) of the read conductance of devices programmed to ``g_target`` (S)."""
        ea0, ea1 = self.conductance_activation_ev
        g_r = (g_target / self.g_max).clamp(0.0, 1.0)
        return ea0 + (ea1 - ea0) * g_r

    def conductance_temperature_factor(self, g_target: torch.Tensor,
                                       temperature_k: float | None = None) -> torch.Tensor | float:
        """``exp(-Ea_G(g_r) / k_B (1/T - 1/T_ref))``; exactly 1 at ``T == T_ref``."""
        t_k = self.temperature_k if temperature_k is None else temperature_k
        if t_k == self.reference_k:
            return 1.0
        if not t_k > 0:
            raise ValueError(f"temperature must be > 0 K, got {t_k}")
        inv = 1.0 / t_k - 1.0 / self.reference_k
        return torch.exp(-self.conductance_activation(g_target) * (inv / BOLTZMANN_EV))

    def _g_r(self, g_target: torch.Tensor) -> torch.Tensor:
        return (g_target / self.g_max).clamp(min=_G_R_FLOOR)

    def programming_std(self, g_target: torch.Tensor) -> torch.Tensor:
        """sigma_prog (S) for target conductances ``g_target`` (S)."""
        c0, c1, c2 = self.prog_coeffs
        g_r = g_target / self.g_max
        sigma = c0 + c1 * g_r + c2 * g_r * g_r
        return sigma * (self.g_max / G_MAX_REFERENCE) * self.prog_noise_scale

    def drift_exponent_stats(self, g_target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(mu_nu, sigma_nu) of the drift exponent before folding, per target conductance."""
        log_g_r = torch.log(self._g_r(g_target))
        mu = (-0.0155 * log_g_r + 0.0244).clamp(0.049, 0.1)
        sigma = (-0.0125 * log_g_r - 0.0059).clamp(0.008, 0.045)
        return mu, sigma

    def read_noise_q(self, g_target: torch.Tensor) -> torch.Tensor:
        """Q_s = min(0.0088 / g_r**0.65, 0.2) per target conductance."""
        return (0.0088 / self._g_r(g_target).pow(0.65)).clamp(max=0.2)

    def read_noise_time_factor(self, t: float) -> float:
        """sqrt(ln((t + t_read) / (2 t_read))), zero before t_read."""
        return math.sqrt(max(math.log((t + self.t_read) / (2.0 * self.t_read)), 0.0))

    def _program(self, g_target: torch.Tensor, generator: torch.Generator) -> State:
        noise = torch.randn(g_target.shape, generator=generator, dtype=g_target.dtype)
        g_prog = (g_target + self.programming_std(g_target) * noise).clamp(min=0.0)
        mu, sigma = self.drift_exponent_stats(g_target)
        nu_noise = torch.randn(g_target.shape, generator=generator, dtype=g_target.dtype)
        nu = (mu + sigma * nu_noise).abs() * self.drift_scale
        return {"g_target": g_target.clone(), "g_prog": g_prog, "nu": nu}

    def conductance(self, state: State, t: float) -> torch.Tensor:
        t = check_time(t)
        hot = self.temperature_k != self.reference_k
        if t == 0.0:
            g = state["g_prog"]
        else:
            t_eff = t * self.drift_acceleration() if hot else t
            log_ratio = math.log((t_eff + self.t0) / self.t0)
            g = state["g_prog"] * torch.exp(-state["nu"] * log_ratio)
        if hot:
            g = g * self.conductance_temperature_factor(state["g_target"])
        return g

    def read_noise_std(self, state: State, g_t: torch.Tensor, t: float) -> torch.Tensor | None:
        factor = self.read_noise_time_factor(check_time(t)) * self.read_noise_scale
        if factor == 0.0:
            return None
        return g_t * self.read_noise_q(state["g_target"]) * factor
