"""The interface every device technology implements.

A device model answers three questions about one non-volatile conductance, all batched over
tensors of devices and all in SI units (siemens, seconds):

1. ``program(g_target, generator)``: what conductance does a write aimed at ``g_target`` leave,
   and which per-device random properties (e.g. a drift exponent) are fixed at that moment?
   Returns a dict of tensors, the *programmed state*; it is plain tensors so that a programmed
   chip can be saved with safetensors.
2. ``conductance(state, t)``: the noise-free conductance ``t`` seconds after programming (drift,
   relaxation, retention loss).
3. ``read_noise_std(state, g_t, t)``: the standard deviation of the conductance seen by one read
   at time ``t`` (all of its noise bands together), or ``None`` when reads are exact.
   :meth:`Device.read_noise_split` splits it into a part frozen over a read window and a part
   fresh at every read, as the device's noise spectrum (:attr:`Device.noise_spectrum`) says.

Common to every device (this base class): the target window ``g_min..g_max`` (a device cannot be
programmed below ``g_min``, its on/off ratio is ``g_max / g_min``), an optional finite number of
programmable ``levels`` (targets snap to the nearest of ``levels`` equally spaced conductances),
the chip temperature ``temperature_k`` for models that depend on it (Arrhenius acceleration
of retention: ``t_eff = t * exp(Ea / k_B * (1 / T_ref - 1 / T))``), and the cell's I-V
non-linearity ``iv_v0`` used by the circuit solver (``aimc.array.solve_nodal``).

To add a technology: subclass :class:`Device` in a new module of this package, give it a
``name: Literal["…"]`` field (the tag used in chip YAML files), implement ``_program``,
``conductance`` and ``read_noise_std``, cite the source of the model in the module docstring, and
add the class to ``aimc.devices.DEVICES`` and to ``DeviceSpec`` in ``aimc.chips.spec``.
"""

from __future__ import annotations

import math
from typing import ClassVar, Literal

import torch
from pydantic import BaseModel, ConfigDict, Field, model_validator

State = dict[str, torch.Tensor]

BOLTZMANN_EV = 8.617333262e-5  # k_B in eV/K (CODATA 2018)


class Device(BaseModel):
    """Base class of device models: validated, immutable parameters plus the physics methods."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    g_max: float = Field(25e-6, gt=0, description="largest target conductance (S)")
    g_min: float = Field(0.0, ge=0, description="smallest programmable conductance (S)")
    levels: int | None = Field(None, ge=2, description="programmable levels; None = continuous")
    temperature_k: float = Field(300.0, gt=0, description="chip temperature (K)")
    iv_v0: float | None = Field(
        None, gt=0, description="sinh I-V non-linearity I = G V0 sinh(V/V0) (V); None = ohmic")
    read_window: float | None = Field(
        None, gt=0,
        description="read window T_w (s) of 1/f read noise: the noise below 1/T_w is frozen over "
                    "a window, the rest fresh at every read; None = the whole time since "
                    "programming (all fresh); 2 t_read = all frozen. Ignored by white noise")

    #: spectrum of the read noise: ``"1/f"`` (split by frequency band over a read window) or
    #: ``"white"`` (independent at every read, all fresh; also devices without read noise)
    noise_spectrum: ClassVar[Literal["1/f", "white"]] = "white"

    @model_validator(mode="after")
    def _window(self) -> Device:
        if self.g_min >= self.g_max:
            raise ValueError(f"g_min ({self.g_min} S) must be below g_max ({self.g_max} S)")
        return self

    def snap(self, g_target: torch.Tensor) -> torch.Tensor:
        """Targets clipped to the window and rounded to the programmable levels (if finite)."""
        g = g_target.clamp(self.g_min, self.g_max)
        if self.levels is None:
            return g
        step = (self.g_max - self.g_min) / (self.levels - 1)
        return torch.round((g - self.g_min) / step) * step + self.g_min

    def program(self, g_target: torch.Tensor, generator: torch.Generator) -> State:
        """Program devices to ``g_target`` (S); return the programmed state (``g_prog`` at least).
        Targets are first snapped to the device's window and levels (:meth:`snap`)."""
        return self._program(self.snap(g_target), generator)

    def _program(self, g_target: torch.Tensor, generator: torch.Generator) -> State:
        raise NotImplementedError

    def reprogram(self, state: State, g_target: torch.Tensor, generator: torch.Generator) -> State:
        """Write the *same* devices again, aiming at ``g_target`` (S): what a program-and-verify
        rewrite does. Properties of the device (a device-to-device offset) stay as in ``state``;
        only those of the programming event are drawn again. Default: every draw is a property
        of the event, so this is :meth:`program`."""
        return self.program(g_target, generator)

    def arrhenius_factor(self, activation_ev: float, reference_k: float,
                         temperature_k: float | None = None) -> float:
        """How much faster a thermally activated process runs at ``temperature_k`` (default:
        :attr:`temperature_k`) than at ``reference_k``: ``exp(Ea / k_B * (1 / T_ref - 1 / T))``."""
        return arrhenius(activation_ev, reference_k, self.temperature_k if temperature_k is None
                         else temperature_k)

    def drift_acceleration(self, temperature_k: float | None = None) -> float:
        """How much faster the device's drift or retention loss runs at ``temperature_k``
        (default: :attr:`temperature_k`) than at the temperature of its measurements: time since
        programming at that temperature counts ``drift_acceleration`` times as much. 1 for
        devices without thermally activated drift (this base); PCM, RRAM and flash override it
        with their Arrhenius law (see their module docstrings)."""
        return 1.0

    def conductance_temperature_factor(self, g_target: torch.Tensor,
                                       temperature_k: float | None = None) -> torch.Tensor | float:
        """Factor on the read conductance of devices programmed to ``g_target`` (S) when read at
        ``temperature_k`` (default: :attr:`temperature_k`) rather than at the reference
        temperature. 1 (this base) for devices without a published temperature coefficient;
        PCM overrides it."""
        return 1.0

    def conductance(self, state: State, t: float) -> torch.Tensor:
        """Noise-free conductance (S) ``t`` seconds after programming."""
        raise NotImplementedError

    def read_noise_std(self, state: State, g_t: torch.Tensor, t: float) -> torch.Tensor | None:
        """Standard deviation (S) of one read at time ``t``, or ``None`` for noiseless reads."""
        return None

    def read_noise_split(self, state: State, g_t: torch.Tensor, t: float
                         ) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        """``(frozen, fresh)`` standard deviations (S) of the read noise at time ``t``: the
        frozen part is drawn once per device and read window, the fresh part at every read;
        their variances add to ``read_noise_std**2``. White noise (and ``read_window=None``)
        is all fresh: ``(None, read_noise_std(...))``, the very same tensor.

        1/f noise (``noise_spectrum == "1/f"``, a device with a read duration ``t_read``):
        the variance ``∝ ln((t + t_read) / (2 t_read))`` (Nandakumar et al., ICECS 2019, the
        sigma_read equation) is the 1/f power integrated from ``f = 1/(t + t_read)`` to
        ``1/(2 t_read)``. Reads within ``T_w`` of each other share the band below ``1/T_w``:
        frozen ``∝ ln((t + t_read) / T_w)``, fresh ``∝ ln(T_w / (2 t_read))`` with ``T_w``
        clipped to ``[2 t_read, t + t_read]``, which sum to the total exactly
        (:func:`one_over_f_split`)."""
        total = self.read_noise_std(state, g_t, t)
        if self.noise_spectrum == "white" or self.read_window is None or total is None:
            return None, total
        frozen, fresh = one_over_f_split(t, self.t_read, self.read_window)
        if frozen + fresh <= 0.0:
            return None, total
        f_frozen, f_fresh = math.sqrt(frozen / (frozen + fresh)), math.sqrt(fresh / (frozen + fresh))
        return (total * f_frozen if frozen > 0.0 else None,
                total * f_fresh if fresh > 0.0 else None)


def arrhenius(activation_ev: float, reference_k: float, temperature_k: float) -> float:
    """``exp(Ea / k_B * (1 / T_ref - 1 / T))``: the rate of a process with activation energy
    ``Ea`` (eV) at ``T`` relative to ``T_ref`` (K); exactly 1 at ``T == T_ref``."""
    if temperature_k == reference_k or activation_ev == 0.0:
        return 1.0
    if not temperature_k > 0:
        raise ValueError(f"temperature must be > 0 K, got {temperature_k}")
    return math.exp(activation_ev / BOLTZMANN_EV * (1.0 / reference_k - 1.0 / temperature_k))


def one_over_f_split(t: float, t_read: float, window: float) -> tuple[float, float]:
    """The 1/f read-noise power (in units of its spectral constant) of the band frozen over a
    read window ``window`` (``T_w``) and of the band fresh at every read, ``t`` seconds after
    programming: ``(ln((t + t_read) / T_w), ln(T_w / (2 t_read)))`` with ``T_w`` clipped to
    ``[2 t_read, t + t_read]``; both 0 before ``t_read``. They add up to the total
    ``ln((t + t_read) / (2 t_read))`` of Nandakumar et al. (ICECS 2019)."""
    hi = t + t_read
    lo = 2.0 * t_read
    if hi <= lo:
        return 0.0, 0.0
    w = min(max(window, lo), hi)
    return math.log(hi / w), math.log(w / lo)


def check_time(t: float) -> float:
    """Validate a time since programming (s)."""
    t = float(t)
    if not 0.0 <= t < math.inf:  # also rejects NaN
        raise ValueError(f"time since programming must be finite and >= 0 s, got {t}")
    return t
