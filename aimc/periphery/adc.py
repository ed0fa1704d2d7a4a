"""Analog-to-digital converter at the columns of a crossbar.

Model: a signed (sign-magnitude) converter with ``L = 2**(bits-1) - 1`` codes on each side of
zero over the full-scale current ``I_FS``, clipping beyond it. Before the decision the input sees
a gain error ``(1 + gain_error)``, an offset (LSB) and Gaussian input-referred noise (``noise``,
LSB: comparator and thermal noise lumped). The decision itself depends on ``kind``:

* ``ideal`` — uniform mid-tread rounding;
* ``sar`` — successive approximation on the magnitude with a binary-weighted capacitive DAC whose
  unit capacitors mismatch by ``cap_mismatch`` (relative sigma): bit ``b`` weighs
  ``2^b (1 + e_b)`` with ``e_b ~ N(0, cap_mismatch / sqrt(2^b))`` (Pelgrom area scaling), which
  gives the characteristic DNL spikes at major carry transitions (B. Murmann, "ADC Performance
  Survey"; standard SAR mismatch model, e.g. Kuttner, ISSCC 2002);
* ``ramp`` — single-slope conversion: the code is the count at which a ramp crosses the input;
  a ramp bow of peak ``ramp_inl`` LSB at mid-range, ``r(k) = k + 4 ramp_inl (k/L)(1 - k/L)``,
  gives a smooth, symmetric INL (first-order inverse used).

The mismatch of one chip instance is drawn at programming (:meth:`draw_instance`) and shared by
the ADCs of one tile. ``columns_per_adc`` (columns multiplexed onto one ADC) does not change the
numbers; it is recorded for the cost model (conversion time and energy).

Full scale is given relative to the array so that a preset stays valid for any device:
``I_FS = full_scale * g_max * v_read``, i.e. ``full_scale`` is the number of cells at ``g_max``,
driven at the full read voltage, whose summed current just reaches the top code. This mirrors
the fixed output bound of aihwkit's forward model (``out_bound``), expressed as a physical
current. ``bits=None`` gives infinite resolution; ``full_scale=None`` (only with ``bits=None``)
removes clipping.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Literal

import torch
from pydantic import BaseModel, ConfigDict, Field, PositiveFloat, PositiveInt, model_validator


class ADC(BaseModel):
    """Column read-out: noise, clipping and quantisation of the column currents.

    The tile hands the ADC currents already divided by :meth:`unit_current` (in codes), so the
    hot path of an ideal ADC is a round and a clamp.

    Example:
        >>> adc = ADC(bits=8, full_scale=12.0)
        >>> adc.unit_current(g_max=25e-6, v_read=0.2)   # one LSB in amperes
        4.724409448818898e-07
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["ideal", "sar", "ramp"] = Field("ideal", description="converter architecture")
    bits: PositiveInt | None = Field(8, le=16, description="resolution incl. sign, at most 16 "
                                      "(beyond any in-memory-computing converter); None = infinite")
    full_scale: PositiveFloat | None = Field(
        12.0, description="full-scale current in units of g_max * v_read (cells fully on)"
    )
    noise: float = Field(0.0, ge=0, description="input-referred noise std in LSB (codes)")
    gain_error: float = Field(0.0, gt=-1, description="relative gain error")
    offset: float = Field(0.0, description="input-referred offset in LSB")
    cap_mismatch: float = Field(0.0, ge=0, description="SAR unit-capacitor mismatch (relative sigma)")
    ramp_inl: float = Field(0.0, description="ramp bow: peak INL in LSB at mid-range")
    columns_per_adc: PositiveInt = Field(1, description="columns sharing one ADC (cost model)")

    @model_validator(mode="after")
    def _consistent(self) -> ADC:
        if self.bits is not None and self.full_scale is None:
            raise ValueError("an ADC with finite bits needs a full_scale (clipping range)")
        if self.kind != "ideal" and self.bits is None:
            raise ValueError(f"a {self.kind} ADC needs finite bits")
        if self.cap_mismatch and self.kind != "sar":
            raise ValueError("cap_mismatch applies to kind='sar' only")
        if self.ramp_inl and self.kind != "ramp":
            raise ValueError("ramp_inl applies to kind='ramp' only")
        return self

    @property
    def levels(self) -> int | None:
        """Largest code magnitude, or None for infinite resolution."""
        return None if self.bits is None else max(2 ** (self.bits - 1) - 1, 1)

    def unit_current(self, g_max: float, v_read: float) -> float:
        """Current (A) of one output code: the LSB, or one full cell current if unquantised."""
        cell = g_max * v_read
        if self.levels is None:
            return cell
        return self.full_scale * cell / self.levels

    @property
    def max_code(self) -> float | None:
        """Clipping bound in codes, or None when the ADC does not clip."""
        if self.full_scale is None:
            return None
        return float(self.levels) if self.levels is not None else float(self.full_scale)

    def draw_instance(self, generator: torch.Generator) -> torch.Tensor | None:
        """Static mismatch of one chip instance: SAR bit weights (LSB first), else None."""
        if self.kind != "sar" or self.bits is None:
            return None
        magnitude_bits = max(self.bits - 1, 1)
        nominal = 2.0 ** torch.arange(magnitude_bits, dtype=torch.float64)
        errors = torch.randn(magnitude_bits, generator=generator, dtype=torch.float64)
        return (nominal * (1 + errors * self.cap_mismatch / nominal.sqrt())).to(torch.float32)

    def digitize(
        self,
        codes: torch.Tensor,
        normal: Callable[[torch.Size], torch.Tensor] | None = None,
        instance: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Convert currents expressed in codes (I / unit_current) to output codes (in place when
        no gradient is needed). ``normal(shape)`` supplies standard normal numbers for the ADC
        noise; ``instance`` is this chip's mismatch from :meth:`draw_instance`."""
        if self.gain_error or self.offset:
            codes = codes * (1.0 + self.gain_error) + self.offset
        if self.noise > 0.0:
            if normal is None:
                raise ValueError("an ADC with noise needs a source of normal numbers")
            with torch.no_grad():
                noise = normal(codes.shape) * self.noise
            codes = codes.add_(noise) if not codes.requires_grad else codes + noise
        if self.kind == "sar":
            return self._sar(codes, instance)
        if self.kind == "ramp":
            return self._ramp(codes)
        if self.levels is not None:
            codes = codes.round_() if not codes.requires_grad else codes.round()
        if self.max_code is not None:
            codes = codes.clamp_(-self.max_code, self.max_code) if not codes.requires_grad else \
                codes.clamp(-self.max_code, self.max_code)
        return codes

    def _sar(self, codes: torch.Tensor, weights: torch.Tensor | None) -> torch.Tensor:
        if weights is None:
            weights = 2.0 ** torch.arange(max(self.bits - 1, 1), dtype=torch.float32)
        with torch.no_grad():
            magnitude = codes.abs() + 0.5  # thresholds half an LSB below each level
            level = torch.zeros_like(codes)
            out = torch.zeros_like(codes)
            for b in range(len(weights) - 1, -1, -1):  # MSB first: one comparison per bit
                trial = level + weights[b]
                keep = magnitude >= trial
                level = torch.where(keep, trial, level)
                out += keep * float(2**b)
            return out.clamp_(max=self.levels).mul_(torch.sign(codes))

    def _ramp(self, codes: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            top = float(self.levels)
            magnitude = codes.abs().clamp(max=top)
            bow = 4.0 * self.ramp_inl * (magnitude / top) * (1.0 - magnitude / top)
            count = (magnitude - bow).round_().clamp_(0.0, top)
            return count.mul_(torch.sign(codes))

    def transfer(self, inputs: torch.Tensor, instance: torch.Tensor | None = None) -> torch.Tensor:
        """Noise-free output codes for ``inputs`` (LSB), e.g. a fine ramp to measure INL/DNL."""
        return self.model_copy(update={"noise": 0.0}).digitize(inputs.clone(), instance=instance)


def inl_dnl(adc: ADC, instance: torch.Tensor | None = None, points_per_lsb: int = 64):
    """INL and DNL (LSB) of the positive half of the transfer curve, from a fine input ramp
    (code-transition method): ``dnl[k]`` is the width of code ``k`` minus 1, ``inl[k]`` the
    deviation of the transition into code ``k`` from its ideal place ``k - 0.5``."""
    top = adc.levels
    ramp = torch.arange(0, (top + 1) * points_per_lsb, dtype=torch.float64) / points_per_lsb
    out = adc.transfer(ramp.float(), instance).double()
    transitions = []
    for k in range(1, top + 1):
        hit = (out >= k).nonzero()
        transitions.append(ramp[hit[0, 0]].item() if len(hit) else math.inf)
    t = torch.tensor(transitions, dtype=torch.float64)
    return t - (torch.arange(1, top + 1, dtype=torch.float64) - 0.5), t.diff() - 1.0
