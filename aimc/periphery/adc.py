"""Analog-to-digital converter at the columns of a crossbar.

Model: a signed, uniform, mid-tread quantiser with ``2**(bits-1) - 1`` codes on each side of
zero over the full-scale current ``I_FS``, clipping beyond it, with optional Gaussian input-referred
noise before the decision (comparator/thermal noise lumped together).

Full scale is given relative to the array so that a preset stays valid for any device:
``I_FS = full_scale * g_max * v_read``, i.e. ``full_scale`` is the number of cells at ``g_max``,
driven at the full read voltage, whose summed current just reaches the top code. This mirrors
the fixed output bound of aihwkit's forward model (``out_bound``), expressed as a physical
current. ``bits=None`` gives infinite resolution; ``full_scale=None`` (only with ``bits=None``)
removes clipping.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from pydantic import BaseModel, ConfigDict, Field, PositiveFloat, PositiveInt, model_validator


class ADC(BaseModel):
    """Column read-out: noise, clipping and quantisation of the column currents.

    The tile hands the ADC currents already divided by :meth:`unit_current` (in codes), so the
    hot path is a round and a clamp.

    Example:
        >>> adc = ADC(bits=8, full_scale=12.0)
        >>> adc.unit_current(g_max=25e-6, v_read=0.2)   # one LSB in amperes
        4.724409448818898e-07
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    bits: PositiveInt | None = Field(8, description="resolution incl. sign; None = infinite")
    full_scale: PositiveFloat | None = Field(
        12.0, description="full-scale current in units of g_max * v_read (cells fully on)"
    )
    noise: float = Field(0.0, ge=0, description="input-referred noise std in LSB (codes)")

    @model_validator(mode="after")
    def _quantiser_needs_range(self) -> ADC:
        if self.bits is not None and self.full_scale is None:
            raise ValueError("an ADC with finite bits needs a full_scale (clipping range)")
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

    def digitize(
        self, codes: torch.Tensor, normal: Callable[[torch.Size], torch.Tensor] | None = None
    ) -> torch.Tensor:
        """Convert currents expressed in codes (I / unit_current) to output codes, in place.

        ``normal(shape)`` supplies standard normal numbers for the ADC noise (if any).
        """
        if self.noise > 0.0:
            if normal is None:
                raise ValueError("an ADC with noise needs a source of normal numbers")
            with torch.no_grad():
                noise = normal(codes.shape) * self.noise
            codes = codes.add_(noise) if not codes.requires_grad else codes + noise
        if self.levels is not None:
            codes.round_()
        if self.max_code is not None:
            codes.clamp_(-self.max_code, self.max_code)
        return codes
