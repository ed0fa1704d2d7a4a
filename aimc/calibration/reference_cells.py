"""Reference cells: columns of every array programmed to known targets, read like the weights.

Model. Each physical array of a tile reserves ``columns`` columns (:class:`ReferenceCells`);
column ``l`` holds ``rows`` devices programmed to the level ``levels[l] * g_max`` (default evenly
spread over the window: ``(l + 0.5) / columns``). They are devices of the same model as the
weights, programmed by the same scheme, so they drift, fluctuate and feel the temperature as the
weights do (``Device.conductance``, ``Device.read_noise_std`` at the same time and temperature).
Reference columns as a drift and temperature monitor are what PCM compute chips use: A. Antolini
et al., "A readout scheme for PCM-based analog in-memory computing with drift compensation
through reference conductance tracking", IEEE OJ-SSCS 4, 69-82 (2024) (the reference cell's
current sets the read-out scale); the per-level curve follows the conductance-dependent drift
and temperature coefficients that I. Giannopoulos et al. (AICAS 2020) compensate per array.

A *column read* drives all ``rows`` rows of the reference columns at the read voltage and
digitises each column's current with the chip's ADC, with the input amplitude scaled so that
each column reads ``headroom`` of the ADC's full scale at programming (room for the
conductance to grow when hot); ``reads`` dithered reads are averaged
(:meth:`ReferenceBank.read_columns`). The reading right
after programming (at the reference temperature) is the baseline; the ratio reading(t) /
baseline is the **drift factor** of each level of each array, ``D[a, l]`` (drift and temperature
together), the per-array factor is the ratio of the column sums.

Compensation from them (:class:`ReferenceBank`):

* per array: ``1 / D_a`` on every output of the array (the reference-cell form of global drift
  compensation);
* per column: each weight column's factor predicted from its own known targets:
  ``F_j = sum |alpha_p| g D_a(g) / sum |alpha_p| g`` over the devices of output ``j`` (planes ``p``,
  row arrays ``a``), ``D_a(g)`` interpolated linearly between the levels (flat beyond them);
  output ``j`` is scaled by ``1 / F_j``. Low conductances drift faster and, for PCM, respond more to
  temperature, so columns of small weights get a larger correction than global compensation gives;
* closed loop (:class:`ClosedLoop`): the per-column correction updated every ``period_s`` from a
  fresh reading, ``s <- s + gain (1/F - s)``; it follows a change of temperature within
  ``log(tolerance) / log(1 - gain)`` updates, averages the read noise over about
  ``(2 - gain) / gain`` readings, and costs ``reads`` column reads of the reference columns per
  array and update (:meth:`ReferenceCells.reads_per_update`).

Cell reads (:meth:`ReferenceBank.cell_spread`): each reference cell read alone (one row, one
column at a time: ``rows * columns`` reads per array) gives the spread of the drift factors of
individual devices, the error that no output scaling removes; the threshold refresh policy
(``aimc.calibration.refresh``) watches it.

Costs: the reference columns take ``columns`` of each array's columns (``aimc.compile`` counts
them in the utilisation and the arrays, ``aimc.cost.reference_cells_cost`` gives their area and
read energy).
"""

from __future__ import annotations

import math
import struct
from typing import TYPE_CHECKING

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field, PositiveInt, model_validator

if TYPE_CHECKING:
    from ..devices import Device
    from ..tile import Tile


class ReferenceCells(BaseModel):
    """How many reference columns each array reserves, their levels and how they are read.

    Example:
        >>> ReferenceCells(columns=4).targets
        (0.125, 0.375, 0.625, 0.875)
    """

    model_config = ConfigDict(frozen=True, extra="forbid")
    columns: PositiveInt = Field(4, description="reference columns per array")
    levels: tuple[float, ...] | None = Field(
        None, description="target of each column as a fraction of g_max; default (l + 0.5) / columns")
    reads: PositiveInt = Field(8, description="column reads averaged per estimate")
    headroom: float = Field(0.25, gt=0, le=1, description="fraction of the ADC's full scale each "
                            "column reads at programming (room for hot reads: PCM's lowest level "
                            "reads 3.5x more at 85 °C)")

    @model_validator(mode="after")
    def _levels(self) -> ReferenceCells:
        if self.levels is not None:
            if len(self.levels) != self.columns:
                raise ValueError(f"reference cells: {len(self.levels)} levels for {self.columns} columns")
            if any(not 0 < v <= 1 for v in self.levels) or list(self.levels) != sorted(set(self.levels)):
                raise ValueError(f"reference levels must increase strictly within (0, 1], got {self.levels}")
        return self

    @property
    def targets(self) -> tuple[float, ...]:
        """Targets as fractions of ``g_max``, increasing."""
        if self.levels is not None:
            return tuple(self.levels)
        return tuple((k + 0.5) / self.columns for k in range(self.columns))

    def reads_per_update(self, arrays: int) -> int:
        """Column reads (ADC conversions of one reference column) of one estimate."""
        return self.reads * self.columns * arrays


class ClosedLoop(BaseModel):
    """A controller that updates each output's scale from the reference cells every
    ``period_s``: ``s <- s + gain (1/F - s)`` (module docstring).

    Example:
        >>> ClosedLoop(gain=0.5).updates_to_settle(0.01)
        7
    """

    model_config = ConfigDict(frozen=True, extra="forbid")
    period_s: float = Field(3600.0, gt=0, description="time between updates (s)")
    gain: float = Field(0.5, gt=0, le=1, description="fraction of the error corrected per update")

    def updates_to_settle(self, tolerance: float) -> int:
        """Updates until a step's remaining error is below ``tolerance`` of the step."""
        if self.gain == 1.0:
            return 1
        return math.ceil(math.log(tolerance) / math.log(1.0 - self.gain))

    def step(self, scale: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """One update towards ``target`` (the scale a fresh reading asks for)."""
        return scale + self.gain * (target - scale)


def _seed(*parts: int) -> int:
    return int(np.random.SeedSequence([p & 0xFFFFFFFFFFFFFFFF for p in parts]).generate_state(
        1, dtype=np.uint64)[0] >> np.uint64(1))


def _time_bits(t: float) -> int:
    return int.from_bytes(struct.pack("<d", float(t)), "little")


class ReferenceBank:
    """The reference cells of one tile: their programmed devices, baseline and estimates.

    Shape of the devices: ``[row arrays, column arrays, rows, columns]`` (every physical array of
    the tile, with ``rows`` the array's rows).

    Example:
        >>> bank = ReferenceBank(tile, ReferenceCells())            # doctest: +SKIP
        >>> bank.program(seed=1)                                    # doctest: +SKIP
        >>> bank.array_factor(tile.device_model, 86400.0)           # doctest: +SKIP
    """

    def __init__(self, tile: Tile, spec: ReferenceCells) -> None:
        self.spec = spec
        self.device: Device = tile.device_model
        self.adc = tile.adc
        # the weights get the columns the references leave (as aimc.compile maps them)
        self.rows = tile.array_shape[0]
        if spec.columns >= tile.array_shape[1]:  # the same refusal as aimc.compile's
            raise ValueError(f"reference_cells.columns ({spec.columns}) leaves no column of a "
                             f"{tile.array_shape[1]}-column array for weights")
        if tile.reference_column:
            raise ValueError("reference-cell compensation does not support encodings with a reference "
                             "column (offset encoding): each output is a difference to the reference "
                             "column, which drifts too, and the per-output factors would be wrong; use a "
                             "differential or bit-sliced encoding, or the chip's global compensation")
        self.array_cols = tile.array_shape[1] - spec.columns
        self.row_arrays = tile.row_arrays
        self.col_arrays = math.ceil(tile.columns / self.array_cols)
        self.out_features = tile.out_features
        dev = self.device
        targets = torch.tensor(spec.targets, dtype=torch.float32) * (dev.g_max - dev.g_min) + dev.g_min
        self.levels = dev.snap(targets)  # [L] S
        shape = (self.row_arrays, self.col_arrays, self.rows, len(self.levels))
        self.g_target = self.levels.expand(*shape).clone()
        self._mix = self._column_mixing(tile)
        self.state: dict[str, torch.Tensor] | None = None
        self.baseline: torch.Tensor | None = None  # [ra, ca, L] column readings at programming
        self.cell_baseline: torch.Tensor | None = None  # [ra, ca, rows, L] cell readings
        self._seed = 0

    # ------------------------------------------------------------------ programming
    def program(self, seed: int, verify=None) -> None:
        """Program the reference devices (fresh draw from ``seed``; program-and-verify with
        ``verify``), and take the baseline readings right after programming (t = 0) at the
        device model's reference temperature."""
        self._seed = int(seed)
        generator = torch.Generator().manual_seed(_seed(self._seed, 0x5EF))
        if verify is None:
            self.state = self.device.program(self.g_target, generator)
        else:
            self.state, _ = verify.program(self.device, self.g_target, generator)
        self.baseline = self.read_columns(self.device, 0.0)
        self.cell_baseline = self.read_cells(self.device, 0.0)

    @property
    def devices(self) -> int:
        return self.g_target.numel()

    # ------------------------------------------------------------------ reads
    def _lsb(self) -> torch.Tensor | None:
        """ADC step of each level's column read, in siemens of column conductance ``[L]``
        (None: infinite resolution): the column reads ``headroom`` of full scale at its target."""
        if self.adc.bits is None:
            return None
        top = 2 ** (self.adc.bits - 1) - 1
        return self.rows * self.levels / (self.spec.headroom * top)

    def _noisy(self, device: Device, t: float) -> tuple[torch.Tensor, torch.Tensor | None]:
        if self.state is None:
            raise RuntimeError("reference cells are not programmed: call program(seed) first")
        g = device.conductance(self.state, t)
        return g, device.read_noise_std(self.state, g, t)

    def read_columns(self, device: Device, t: float, reads: int | None = None) -> torch.Tensor:
        """Column readings (S of summed conductance) ``[ra, ca, L]`` of the devices at ``t`` as
        ``device`` (its temperature) sees them: ``reads`` reads, each digitised by the ADC with
        a known offset of ``(k + 1/2) / reads - 1/2`` LSB added before and removed after it
        (subtractive dither), averaged: the quantisation error averages down to at most
        ``1 / (2 reads)`` LSB instead of staying at up to half an LSB."""
        reads = self.spec.reads if reads is None else reads
        generator = torch.Generator().manual_seed(_seed(self._seed, 0xC01, _time_bits(t),
                                                        _time_bits(device.temperature_k)))
        g, sigma = self._noisy(device, t)
        total = g.sum(dim=2)  # [ra, ca, L]
        if sigma is None:
            samples = total.expand(reads, *total.shape)
        else:
            std = sigma.pow(2).sum(dim=2).sqrt()
            samples = total + std * torch.randn((reads, *total.shape), generator=generator)
        lsb = self._lsb()
        if lsb is not None:
            top = 2 ** (self.adc.bits - 1) - 1
            dither = ((torch.arange(reads, dtype=torch.float32) + 0.5) / reads - 0.5).view(-1, 1, 1, 1)
            samples = ((samples / lsb + dither).round().clamp(-top, top) - dither) * lsb
        return samples.mean(dim=0)

    def read_cells(self, device: Device, t: float) -> torch.Tensor:
        """One read of every reference cell alone ``[ra, ca, rows, L]`` (S), with read noise
        (cell reads are digitised finely: a verify-style read, not the column ADC)."""
        generator = torch.Generator().manual_seed(_seed(self._seed, 0xCE1, _time_bits(t),
                                                        _time_bits(device.temperature_k)))
        g, sigma = self._noisy(device, t)
        if sigma is None:
            return g.clone()
        return g + sigma * torch.randn(g.shape, generator=generator)

    # ------------------------------------------------------------------ estimates
    def level_factor(self, device: Device, t: float, reads: int | None = None) -> torch.Tensor:
        """Estimated drift factor of each level of each array ``[ra, ca, L]``."""
        return self.read_columns(device, t, reads) / self.baseline.clamp(min=1e-30)

    def array_factor(self, device: Device, t: float, reads: int | None = None) -> torch.Tensor:
        """Estimated drift factor of each array ``[ra, ca]`` (ratio of the column sums)."""
        now = self.read_columns(device, t, reads)
        return now.sum(-1) / self.baseline.sum(-1).clamp(min=1e-30)

    def true_level_factor(self, device: Device, t: float) -> torch.Tensor:
        """The noise-free drift factor of the reference devices ``[ra, ca, L]`` (what the
        estimates estimate: for tests)."""
        g0 = self.device.conductance(self.state, 0.0).sum(dim=2)
        return device.conductance(self.state, t).sum(dim=2) / g0

    def column_factor(self, level_factor: torch.Tensor) -> torch.Tensor:
        """Predicted factor of every output ``[out]`` from per-level factors ``[ra, ca, L]``."""
        return self._mix @ level_factor.reshape(-1).to(self._mix.dtype)

    def column_scale(self, device: Device, t: float, reads: int | None = None) -> torch.Tensor:
        """Per-output scale ``1 / F_j`` from a reading at ``t`` ``[out]``."""
        return 1.0 / self.column_factor(self.level_factor(device, t, reads)).clamp(min=1e-6)

    def array_scale(self, device: Device, t: float, reads: int | None = None) -> torch.Tensor:
        """Per-output scale from the per-array factors (each output: the mean of the factors
        of the arrays it spans, weighted by its devices' summed targets)."""
        d = self.array_factor(device, t, reads)  # [ra, ca]
        flat = d.unsqueeze(-1).expand(*d.shape, len(self.levels)).reshape(-1)
        mix = self._mix
        return 1.0 / (mix @ flat.to(mix.dtype)).clamp(min=1e-6)

    def cell_spread(self, device: Device, t: float) -> float:
        """Relative spread of the drift factors of single reference cells, averaged over the
        levels and arrays: ``mean_l std_i(r_i(t)/r_i(0)) / mean_i(r_i(t)/r_i(0))``."""
        ratio = self.read_cells(device, t) / self.cell_baseline.clamp(min=1e-30)
        spread = ratio.std(dim=2) / ratio.mean(dim=2).clamp(min=1e-30)
        return float(spread.mean())

    # ------------------------------------------------------------------ mixing matrix
    def _column_mixing(self, tile: Tile) -> torch.Tensor:
        """``M [out, ra*ca*L]``: ``F = M @ D`` predicts each output's drift factor from the
        per-level factors, by the output's own targets (interpolation weights between levels,
        weighted by each device's significance in the output, ``|alpha_p beta_group(p)| g``:
        bit slices put their significance in ``beta``)."""
        g = tile.g_target[..., :tile.out_features].to(torch.float64)  # [P, ra, rows, out]
        alpha = torch.tensor([abs(float(a) * float(tile.beta[grp])) for a, grp in
                              zip(tile.alpha, tile.group, strict=True)], dtype=torch.float64)
        weight = g * alpha.view(-1, 1, 1, 1)
        levels = self.levels.to(torch.float64)
        n_levels = len(levels)
        # interpolation position of every device among the levels (flat beyond the ends)
        pos = torch.from_numpy(np.interp(g.numpy(), levels.numpy(), np.arange(n_levels, dtype=np.float64)))
        lo = pos.floor().clamp(0, n_levels - 1).long()
        hi = (lo + 1).clamp(max=n_levels - 1)
        frac = pos - lo
        out = tile.out_features
        col_array = torch.arange(out) // self.array_cols  # [out]
        mix = torch.zeros(out, self.row_arrays, self.col_arrays, n_levels, dtype=torch.float64)
        cols = torch.arange(out).view(1, 1, 1, -1).expand_as(g)
        ras = torch.arange(self.row_arrays).view(1, -1, 1, 1).expand_as(g)
        cas = col_array.view(1, 1, 1, -1).expand_as(g)
        for idx, w in ((lo, weight * (1 - frac)), (hi, weight * frac)):
            flat = ((cols * self.row_arrays + ras) * self.col_arrays + cas) * n_levels + idx
            mix.view(-1).index_add_(0, flat.reshape(-1), w.reshape(-1))
        total = mix.sum(dim=(1, 2, 3), keepdim=True)
        # a column with no conductance at all (all-zero weights): the plain mean of its arrays
        empty = (total == 0).view(-1)
        if empty.any():
            even = torch.zeros(self.row_arrays, self.col_arrays, n_levels, dtype=torch.float64)
            for j in torch.flatnonzero(empty).tolist():
                even.zero_()
                even[:, int(col_array[j]), :] = 1.0
                mix[j] = even
            total = mix.sum(dim=(1, 2, 3), keepdim=True)
        return (mix / total).reshape(out, -1).to(torch.float32)
