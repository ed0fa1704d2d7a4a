"""Digital-to-analog converter at the rows of a crossbar.

Model: a signed, uniform, mid-tread quantiser with ``2**(bits-1) - 1`` levels on each side of
zero (sign-magnitude input encoding, as in pulse-width-modulated inputs of IBM's PCM chips, Le
Gallo et al., Nature Electronics 2023), followed by an ideal driver that maps full scale to
``v_read`` volts. Inputs outside the range are clipped. ``bits=None`` means infinite resolution.

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
        >>> dac.quantize(torch.tensor([0.5, 2.0, -0.1]))   # levels are k/3, clipped to [-1, 1]
        tensor([ 0.6667,  1.0000, -0.0000])
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    bits: PositiveInt | None = Field(8, description="resolution incl. sign; None = infinite")
    v_read: PositiveFloat = Field(0.2, description="row voltage at digital full scale (V)")
    scaling: Literal["abs_max", "fixed"] = Field(
        "abs_max", description="per-vector abs-max pre-scaling, or a fixed input range"
    )
    input_range: PositiveFloat = Field(1.0, description="digital full scale for scaling='fixed'")

    @property
    def levels(self) -> int | None:
        """Number of non-zero levels on each side of zero, or None for infinite resolution."""
        return None if self.bits is None else max(2 ** (self.bits - 1) - 1, 1)

    def normalize(
        self, x: torch.Tensor, dims: int | tuple[int, ...] = -1
    ) -> tuple[torch.Tensor, torch.Tensor | float]:
        """Map inputs to full-scale units; return them and the digital scale.

        ``dims`` are the dimensions that share one abs-max scale: the features of one input
        vector (default), or e.g. ``(1, 2, 3)`` for all patches of one image of a convolution.
        """
        if self.scaling == "fixed":
            return x / self.input_range, self.input_range
        scale = x.abs().amax(dim=dims, keepdim=True).clamp(min=torch.finfo(x.dtype).tiny)
        return x / scale, scale

    def quantize(self, x_normalized: torch.Tensor) -> torch.Tensor:
        """Clip to [-1, 1] and round to the DAC levels (still in full-scale units)."""
        x = x_normalized.clamp(-1.0, 1.0)
        if self.levels is None:
            return x
        return torch.round(x * self.levels).div_(self.levels)
