"""Digital-to-analog converter at the rows of a crossbar.

Model: a signed, uniform, mid-tread quantiser with ``2**(bits-1) - 1`` levels on each side of
zero (sign-magnitude input encoding, as in pulse-width-modulated inputs of IBM's PCM chips, Le
Gallo et al., Nature Electronics 2023), followed by an ideal driver that maps full scale to
``v_read`` volts. Inputs outside the range are clipped. ``bits=None`` means infinite resolution.

Encoding: ``amplitude`` sets the row voltage to ``level / L * v_read`` for one read period;
``pulse_width`` applies ``v_read`` for ``|level|`` clock periods (sign by polarity), so the
column integrates the same charge: with linear cells both give the same result (superposition),
and the choice shows in latency and energy (the cost model) and, with non-linear cell I-V, in
accuracy (PWM keeps every cell at one bias point).

Range: with ``scaling="fixed"`` the digital full scale is ``input_range``; with
``scaling="abs_max"`` each input vector is first divided by its largest magnitude (a digital
pre-scale undone after the ADC; "noise management" in aihwkit terms), so every vector uses the
full DAC range.
"""

from __future__ import annotations

from typing import Literal

import torch
from pydantic import BaseModel, ConfigDict, Field, PositiveFloat, PositiveInt


class DAC(BaseModel):
    """Row driver: scaling, quantisation and clipping of the digital inputs.

    Example:
        >>> dac = DAC(bits=3, scaling="fixed", input_range=1.0)
        >>> dac.to_levels(torch.tensor([0.5, 2.0, -0.1]))   # 3 levels per sign, clipped
        (tensor([ 2.,  3., -0.]), 0.3333333333333333)
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    bits: PositiveInt | None = Field(8, le=16, description="resolution incl. sign, at most 16 "
                                      "(beyond any in-memory-computing converter); None = infinite")
    v_read: PositiveFloat = Field(0.2, description="row voltage at digital full scale (V)")
    scaling: Literal["abs_max", "fixed"] = Field(
        "abs_max", description="per-vector abs-max pre-scaling, or a fixed input range"
    )
    input_range: PositiveFloat = Field(1.0, description="digital full scale for scaling='fixed'")
    encoding: Literal["amplitude", "pulse_width"] = Field(
        "amplitude", description="input as a voltage amplitude or as a pulse duration at v_read")

    @property
    def levels(self) -> int | None:
        """Number of non-zero levels on each side of zero, or None for infinite resolution."""
        return None if self.bits is None else max(2 ** (self.bits - 1) - 1, 1)

    def to_levels(
        self, x: torch.Tensor, dims: int | tuple[int, ...] = -1
    ) -> tuple[torch.Tensor, torch.Tensor | float]:
        """Digital inputs → DAC levels (integers in ``[-L, L]``, or reals in ``[-1, 1]`` with
        infinite resolution) and the digital value of one level, ``x ≈ levels * step``.

        ``dims`` are the dimensions that share one abs-max scale: the features of one input
        vector (default), or e.g. ``(1, 2, 3)`` for all patches of one image of a convolution.
        The row voltage of a level is ``levels / L * v_read``.
        """
        top = float(self.levels or 1)
        if self.scaling == "fixed":
            levels = (x * (top / self.input_range)).clamp_(-top, top)
            step: torch.Tensor | float = self.input_range / top
        else:
            # abs().amax() is several times faster than the inf-norm kernel on CPU; the floor keeps
            # top / peak finite, so an all-zero vector gives zero levels (not 0 * inf = NaN)
            peak = x.abs().amax(dim=dims, keepdim=True).clamp(min=torch.finfo(x.dtype).tiny * top)
            levels = x * (top / peak)
            step = peak / top
        if self.levels is not None:
            levels.round_()
        return levels, step

    @property
    def full_scale_levels(self) -> float:
        """Levels at full scale (the divisor from levels to fractions of ``v_read``)."""
        return float(self.levels or 1)
