"""Weight encodings: how one signed weight becomes the conductances of several devices.

Every encoding maps a column-scaled weight matrix ``W [in, out]`` to ``D`` *device planes*
``G_d [in, out']`` (all targets in ``[0, g_max]``, siemens) and says how the chip recombines them:

* planes in the same **ADC group** are summed in analog with coefficients ``alpha_d`` (current
  subtraction of a differential pair, or a significance gain ``F`` set by read duration), then
  digitised together;
* ADC groups are combined digitally with coefficients ``beta_g`` (shift-and-add of bit slices);
* with a **reference column** (offset encoding) the last output column holds a fixed mid-scale
  conductance whose current is subtracted from every other column in analog (a current mirror),
  before the ADC.

With ideal devices and converters the decoded matrix is ``W`` exactly (bit slicing: ``W``
rounded to its bit grid), which the tests check for every encoding.

Encodings here:

* :class:`Differential` — ``w ∝ G+ - G-``, the default of most chips (IBM, NeuRRAM).
* :class:`MultiPair` — ``w ∝ F^(P-1) (G+ - G-) + ... + (g+ - g-)``, IBM's multi-device unit
  cells (Le Gallo et al., Nat. Electron. 2023; Ambrogio et al., Nature 2023; aihwkit's
  ``DualPairConductanceConverter``). Every pair is programmed to the same normalised value, so
  the pairs average each other's programming errors.
* :class:`Offset` — one device per weight, ``w ∝ G - G_ref`` with ``G_ref = g_max / 2`` in a
  shared reference column: half the devices of a differential pair, for single-ended arrays.
* :class:`BitSliced` — ``|w|`` quantised to ``slices * bits_per_slice`` bits, each slice on its
  own differential pair and ADC read, recombined by digital shift-and-add (ISAAC, Shafiee et
  al., ISCA 2016; PRIME, Chi et al., ISCA 2016).

To add one: a pydantic model with a ``kind`` tag and ``encode(w, g_max) -> Encoded``; add it to
:data:`EncodingSpec`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

import torch
from pydantic import BaseModel, ConfigDict, Field, PositiveInt, model_validator


@dataclass(frozen=True)
class Encoded:
    """Device planes of one weight matrix and how the chip recombines them."""

    g_target: torch.Tensor  # [planes, in, out'] target conductances (S)
    alpha: tuple[float, ...]  # analog coefficient of each plane
    group: tuple[int, ...]  # ADC group of each plane
    beta: tuple[float, ...]  # digital coefficient of each ADC group
    reference_column: bool  # out' = out + 1, last column subtracted (in analog) from the others
    weight_per_siemens: torch.Tensor  # [out]: decoded (combined) conductance -> weight units

    @property
    def groups(self) -> int:
        return len(self.beta)

    def decode(self, planes: torch.Tensor | None = None) -> torch.Tensor:
        """The weight matrix ``[in, out]`` that ``planes`` (default: the targets) represent, with
        ideal periphery; pass programmed or drifted conductances to see their weight error."""
        planes = self.g_target if planes is None else planes
        combined = torch.zeros(planes.shape[1:], dtype=planes.dtype)
        for g, a, grp in zip(planes, self.alpha, self.group, strict=True):
            combined += self.beta[grp] * a * g
        if self.reference_column:
            combined = combined[:, :-1] - combined[:, -1:]
        return combined * self.weight_per_siemens


def _column_peak(w: torch.Tensor) -> torch.Tensor:
    peak = w.abs().amax(dim=0)
    # an all-zero column takes the matrix's largest scale (1 for an all-zero matrix), so that its
    # devices' errors are scaled like the rest of the matrix, not to weights of order 1
    top = peak.max() if peak.numel() else peak.new_ones(())
    return torch.where(peak > 0, peak, torch.where(top > 0, top, torch.ones_like(top)))


class _EncodingBase(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    def columns(self, out_features: int) -> int:
        """Array columns (weight cells) an ``out_features``-wide matrix occupies."""
        return out_features


class Differential(_EncodingBase):
    """``w_ij ∝ G+_ij - G-_ij``; the larger of ``|w|`` per column reaches ``g_max``."""

    kind: Literal["differential"] = "differential"

    def encode(self, w: torch.Tensor, g_max: float) -> Encoded:
        peak = _column_peak(w)
        u = w / peak * g_max
        return Encoded(torch.stack([u.clamp(min=0), (-u).clamp(min=0)]), (1.0, -1.0), (0, 0),
                       (1.0,), False, peak / g_max)


class MultiPair(_EncodingBase):
    """``pairs`` differential pairs per weight, pair ``p`` (most significant first) read with
    gain ``significance**(pairs - 1 - p)``; all summed in analog before one ADC."""

    kind: Literal["multi_pair"] = "multi_pair"
    pairs: int = Field(2, ge=2, le=8, description="device pairs per weight")
    significance: float = Field(3.0, ge=1.0, description="gain F between consecutive pairs")

    def encode(self, w: torch.Tensor, g_max: float) -> Encoded:
        peak = _column_peak(w)
        u = w / peak * g_max
        plus, minus = u.clamp(min=0), (-u).clamp(min=0)
        gains = [self.significance ** (self.pairs - 1 - p) for p in range(self.pairs)]
        planes = torch.stack([m for _ in gains for m in (plus, minus)])
        alpha = tuple(s * f for f in gains for s in (1.0, -1.0))
        return Encoded(planes, alpha, (0,) * len(alpha), (1.0,), False, peak / (g_max * sum(gains)))


class Offset(_EncodingBase):
    """One device per weight, ``G = g_max (w + a) / 2a`` with ``a = max |w|`` of the column, and
    a reference column at ``g_max / 2`` whose current is subtracted in analog before the ADC.
    With finite device levels the reference must be a level: use an odd number of levels."""

    kind: Literal["offset"] = "offset"

    def columns(self, out_features: int) -> int:
        return out_features + 1  # the shared reference column

    def encode(self, w: torch.Tensor, g_max: float) -> Encoded:
        peak = _column_peak(w)
        g = (w / peak + 1.0) * (0.5 * g_max)
        reference = torch.full((w.shape[0], 1), 0.5 * g_max, dtype=w.dtype)
        planes = torch.cat([g, reference], dim=1).unsqueeze(0)
        return Encoded(planes, (1.0,), (0,), (1.0,), True, 2.0 * peak / g_max)


class BitSliced(_EncodingBase):
    """``|w|`` quantised to ``slices * bits_per_slice`` bits; slice ``s`` (least significant
    first) holds ``bits_per_slice`` of them on a differential pair with ``2**bits_per_slice``
    conductance levels, read by its own ADC; outputs are added with weights ``2**(b s)``."""

    kind: Literal["bit_sliced"] = "bit_sliced"
    slices: PositiveInt = Field(2, le=8, description="number of slices")
    bits_per_slice: PositiveInt = Field(4, le=8, description="bits stored by one device")

    @model_validator(mode="after")
    def _total_bits(self) -> BitSliced:
        if self.slices * self.bits_per_slice > 32:
            raise ValueError("slices * bits_per_slice must be <= 32 bits")
        return self

    def encode(self, w: torch.Tensor, g_max: float) -> Encoded:
        peak = _column_peak(w)
        top = 2 ** (self.slices * self.bits_per_slice) - 1
        digit_max = 2 ** self.bits_per_slice - 1
        q = torch.round(w.abs().double() / peak.double() * top).clamp_(max=top).to(torch.int64)
        sign = torch.sign(w)
        planes, alpha, group = [], [], []
        for s in range(self.slices):
            digit = ((q >> (self.bits_per_slice * s)) & digit_max).to(w.dtype) * sign
            u = digit / digit_max * g_max
            planes += [u.clamp(min=0), (-u).clamp(min=0)]
            alpha += [1.0, -1.0]
            group += [s, s]
        beta = tuple(float(2 ** (self.bits_per_slice * s)) for s in range(self.slices))
        scale = peak * digit_max / (g_max * top)
        return Encoded(torch.stack(planes), tuple(alpha), tuple(group), beta, False, scale)


EncodingSpec = Annotated[Differential | MultiPair | Offset | BitSliced, Field(discriminator="kind")]
