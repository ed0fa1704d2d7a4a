"""Drift compensation: keep a drifting tile's output scale constant over time.

Global drift compensation (GDC), after Joshi et al., "Accurate deep neural network inference
using computational phase-change memory", Nature Communications 11, 2473 (2020), and Le Gallo et
al., Nature Electronics 2023: PCM conductances decay as ``t**(-nu)``, which mostly scales every
output of a tile by one common factor. Right after programming the tile reads a fixed set of
calibration inputs and stores ``r0 = mean |y|``; at a later time ``t`` it reads the same inputs
again, ``r(t) = mean |y|``, and multiplies all its outputs by ``r0 / r(t)``. The reading goes
through the real signal path (DAC, array with read noise, ADC), so it costs a few analog reads
and inherits their noise; more calibration vectors average the noise down.

To add a scheme: a pydantic model with a ``method`` tag and a ``readout(tile) -> float``; add
it to :data:`Compensation`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Literal

import torch
from pydantic import BaseModel, ConfigDict, Field, PositiveInt

if TYPE_CHECKING:
    from ..tile import Tile


class NoCompensation(BaseModel):
    """Outputs are used as read; drift shows up as a shrinking output scale."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    method: Literal["none"] = "none"


class GlobalDriftCompensation(BaseModel):
    """One scale factor per tile from a fixed calibration read (Joshi et al. 2020).

    Example:
        >>> GlobalDriftCompensation(vectors=64).method
        'gdc'
    """

    model_config = ConfigDict(frozen=True, extra="forbid")
    method: Literal["gdc"] = "gdc"
    vectors: PositiveInt = Field(32, description="calibration input vectors per reading")
    seed: int = Field(20200501, description="seed of the fixed calibration inputs")

    def calibration_inputs(self, in_features: int) -> torch.Tensor:
        """The fixed calibration vectors, uniform in [-1, 1] of full scale."""
        generator = torch.Generator().manual_seed(self.seed)
        return torch.rand(self.vectors, in_features, generator=generator, dtype=torch.float32) * 2 - 1

    def readout(self, tile: Tile) -> float:
        """Mean absolute ADC output of the tile for the calibration inputs (in full-scale units
        for a fixed-range DAC too, so that a later change of its range leaves them alone)."""
        with torch.no_grad():
            inputs = self.calibration_inputs(tile.in_features)
            if tile.dac.scaling == "fixed":
                inputs = inputs * tile.dac.input_range
            levels, _ = tile.dac.to_levels(inputs)
            codes = tile.read_codes(levels)
        return float(codes.abs().mean())


Compensation = Annotated[NoCompensation | GlobalDriftCompensation, Field(discriminator="method")]


def build_compensation(spec: NoCompensation | GlobalDriftCompensation) -> GlobalDriftCompensation | None:
    """The object a tile calls, or None when compensation is off."""
    return None if isinstance(spec, NoCompensation) else spec
