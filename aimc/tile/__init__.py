"""A tile: one weight matrix mapped onto one or more physical crossbar arrays.

Signal path (one place for each arrow of DESIGN.md):

* **mapping** — the matrix ``W [out, in]`` is stored transposed, inputs on rows and outputs on
  columns, and each weight becomes several devices as its encoding (``aimc.encoding``) says; by
  default a differential pair ``G+ - G-`` whose largest weight per column reaches ``g_max``.
  Planes of one ADC group are combined in analog, groups digitally; a reference column (offset
  encoding) is subtracted in analog, before the ADC.
* **splitting** — a matrix with more rows than an array is spread evenly over
  ``ceil(in / rows)`` arrays (the last one padded with unused rows); each array's column currents
  are digitised by its own ADCs and the partial sums are added digitally, as on IBM's and other
  multi-core chips. Rows can be kept together in granules (``row_granule``): a convolution keeps
  each input channel's ``k x k`` kernel rows on one array, so an array holds whole channels.
  Extra columns only take more arrays side by side (columns are independent),
  which the tile records in :attr:`Tile.array_grid`.
* **program / drift / read** — :meth:`Tile.program` draws the programmed state of every device
  from the device model; :meth:`Tile.drift_to` moves it to a time after programming (and runs
  drift compensation if the tile has one); :meth:`Tile.forward` is one read per input vector:
  DAC → ``I = V @ G`` with fresh read noise → ADC → digital sum → digital rescale.

Pieces, one per stretch of the signal path. The tile owns the mapping and the programmed state
of its devices; :mod:`aimc.array.read_matrices` assembles, once per :meth:`drift_to`, the read
matrices at that time (drift, faults, this read window's frozen band of 1/f noise, IR drop, the
variances of read, thermal and shot noise, all unit conversions folded into ADC codes per DAC
level); :mod:`aimc.tile.readout` is the read itself (DAC → products → noise → ADC → digital sum),
functions that take the converters, the noise stream and the buffers explicitly. The tile keeps
methods of the same names (:meth:`Tile.read`, :meth:`Tile.read_out`, :meth:`Tile.read_codes`, …)
that pass them its own. Physical values (siemens) stay available through :meth:`conductances`.

Memory. A programmed tile holds what a read at the current time needs and nothing it can
recompute: its copy of the mapped weights (float32, 4 bytes per weight), from which the target
conductances of every plane are encoded again when needed (:attr:`Tile.g_target`), and the two
read matrices (conductances and read-noise variances in ADC codes, float32, stored output-major
so that both the ``F.linear`` and the grouped-convolution layouts are views of them). The
per-device programmed state of open-loop programming (programmed conductance, drift exponent,
...) is not kept: it is a deterministic function of the targets and the programming seed, and
:meth:`drift_to` draws it again (the same numbers, bit for bit) when it moves the chip to another
time. Closed-loop programming (``verify``) keeps its state, which would cost the whole loop to
redraw. :meth:`Tile.memory_estimate` states these sizes before programming.
"""

from __future__ import annotations

import dataclasses
import math
import struct
from collections.abc import Callable, Sequence
from typing import Protocol

import numpy as np
import torch
from torch import nn

from ..array import CircuitNoise, Faults, LinearOp, NormalSource, read_matrices
from ..array.ir_drop import IRDrop
from ..array.read_matrices import ReadMatrices
from ..array.read_matrices import output_major as _output_major
from ..array.read_matrices import output_major_bias as _output_major_bias
from ..devices import Device
from ..encoding import Differential, EncodingSpec
from ..periphery import ADC, DAC
from . import readout


class ProgramVerifier(Protocol):
    """What a tile needs of a closed-loop programming scheme (``aimc.calibration``)."""

    def program(self, device: Device, g_target: torch.Tensor, generator: torch.Generator): ...


class DriftCompensation(Protocol):
    """What a tile needs of a drift-compensation scheme (implemented in ``aimc.calibration``)."""

    def readout(self, tile: Tile) -> float:
        """A scalar read from the tile with fixed calibration inputs."""
        ...


def split_rows(rows: int, array_rows: int, granule: int = 1) -> tuple[int, int, int, int]:
    """How ``rows`` matrix rows spread evenly over arrays of ``array_rows`` rows, keeping groups
    of ``granule`` rows (a conv kernel's rows of one channel) on one array; a granule larger
    than an array falls back to single rows. Returns ``(arrays, granule, granules per array,
    rows per array)``."""
    granule = granule if 1 <= granule <= array_rows else 1
    if rows % granule:
        raise ValueError(f"in_features={rows} is not a multiple of row_granule={granule}")
    granules = rows // granule
    arrays = math.ceil(granules / (array_rows // granule))
    per_array = math.ceil(granules / arrays)
    return arrays, granule, per_array, per_array * granule


def check_finite(x: torch.Tensor) -> None:
    """A DAC cannot encode NaN or infinity: refuse them with a clear message."""
    # one reduction (NaN and inf propagate through a sum) instead of an elementwise mask
    if not torch.isfinite(x.sum()) and not torch.isfinite(x).all():
        raise ValueError("analog layer input contains NaN or infinite values")


def check_seed(seed: object) -> None:
    """Seeds are non-negative integers (or a numpy SeedSequence)."""
    if isinstance(seed, np.random.SeedSequence):
        return
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise TypeError(f"seed must be a non-negative integer, got {seed!r}")


def check_drift_time(t_seconds: object) -> float:
    """A drift time is a finite number of seconds since programming, >= 0."""
    if isinstance(t_seconds, bool) or not isinstance(t_seconds, int | float | np.integer | np.floating):
        if not (isinstance(t_seconds, torch.Tensor) and t_seconds.numel() == 1):
            raise TypeError(f"drift time must be a number of seconds, got {t_seconds!r}")
    t = float(t_seconds)
    if not math.isfinite(t) or t < 0.0:
        raise ValueError(f"drift time must be a finite number of seconds >= 0 since programming, got {t}")
    return t


def split_seed(seed: int | np.random.SeedSequence, n: int) -> list[int]:
    """Derive ``n`` independent 63-bit seeds from one seed (numpy SeedSequence spawning)."""
    ss = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
    return [int(s) for s in ss.generate_state(n, dtype=np.uint64) >> np.uint64(1)]


@dataclasses.dataclass(frozen=True)
class MemoryEstimate:
    """Bytes a tile holds once programmed and drifted (``held``), and the most it holds while
    programming or drifting (``peak``: ``held`` plus the transient programmed state)."""

    held: int
    peak: int


class Tile(nn.Module):
    """A weight matrix on analog crossbar arrays.

    Args:
        weight: ``[out_features, in_features]`` digital weights (a Linear's ``weight``).
        device: device model of every cell.
        dac: row converter; adc: column converter.
        array_rows, array_cols: size of one physical array.
        compensation: drift compensation applied by :meth:`drift_to`, or None.
        row_granule: rows that must stay on one array (``k*k`` for a convolution); ignored
            when a granule is larger than an array.
        encoding: weight encoding (default differential pairs); faults: stuck cells and dead
            lines; ir_drop: wire parasitics and solver mode (default ideal wires).

    Example:
        >>> from aimc.devices import PCM
        >>> tile = Tile(torch.randn(10, 300), device=PCM(), dac=DAC(), adc=ADC())
        >>> tile.array_grid      # 300 rows need two 256-row arrays
        (2, 1)
        >>> tile.program(seed=0); tile.drift_to(3600.0)
        >>> tile(torch.randn(4, 300)).shape
        torch.Size([4, 10])
    """

    def __init__(
        self,
        weight: torch.Tensor,
        *,
        device: Device,
        dac: DAC,
        adc: ADC,
        array_rows: int = 256,
        array_cols: int = 256,
        compensation: DriftCompensation | None = None,
        row_granule: int = 1,
        encoding: EncodingSpec | None = None,
        faults: Faults | None = None,
        ir_drop: IRDrop | None = None,
        circuit_noise: CircuitNoise | None = None,
    ) -> None:
        super().__init__()
        if weight.ndim != 2 or weight.numel() == 0:
            raise ValueError(f"a tile maps a non-empty 2-D weight matrix, got shape {tuple(weight.shape)}")
        if not torch.isfinite(weight).all():
            raise ValueError("weight matrix contains NaN or infinite values")
        if array_rows < 1 or array_cols < 1:
            raise ValueError(f"array size must be >= 1x1, got {array_rows}x{array_cols}")
        self.device_model, self.dac, self.adc = device, dac, adc
        self.compensation = compensation
        self.faults = faults if faults is not None and faults.any else None
        self.circuit_noise = circuit_noise if circuit_noise is not None and circuit_noise.any else None
        self.adc_instance: torch.Tensor | None = None
        active = ir_drop is not None and ir_drop.mode != "none" and not ir_drop.ideal
        self.ir_drop = ir_drop if active else None
        if self.ir_drop is not None and device.iv_v0 is not None:
            raise NotImplementedError(
                "IR drop with non-linear (sinh) cells is solved per input vector by "
                "aimc.array.solve_nodal; the tile forward supports ohmic cells (iv_v0=None) only")
        self.fault_maps: dict[str, torch.Tensor] = {}
        self.out_features, self.in_features = weight.shape
        split = split_rows(self.in_features, array_rows, row_granule)
        self.row_arrays, self.row_granule, self.granules_per_array, self.rows_per_array = split
        self.encoding = encoding or Differential()
        # encodings work in [0, span]; every device sits on top of g_min (offsets cancel in
        # each differential combination and against the offset encoding's reference column)
        span = device.g_max - device.g_min
        target = weight.detach().to(torch.float32).clone()
        encoded = self.encoding.encode(target.T, span)
        self.alpha, self.group, self.beta = encoded.alpha, encoded.group, encoded.beta
        self.reference_column = encoded.reference_column
        self.columns = encoded.g_target.shape[-1]  # outputs, plus the reference column if any
        self.array_grid = (self.row_arrays, math.ceil(self.columns / array_cols))
        self.array_shape = (array_rows, array_cols)
        # the mapped weights; the conductance planes are encoded from them when needed
        self.register_buffer("target_weight", target)  # [out, in]
        self.register_buffer("weight_per_siemens", encoded.weight_per_siemens)  # [out]
        del encoded
        if self.reference_column and device.levels is not None and device.levels % 2 == 0:
            raise ValueError(
                f"offset encoding puts its reference column at mid-window, which is not one of "
                f"{device.levels} device levels: use an odd number of levels (e.g. {device.levels - 1})")
        self._state: dict[str, torch.Tensor] = {}  # kept for closed-loop programming only
        self._program_seed: int | None = None  # open loop: the state is drawn again from it
        self.hold_state = False  # keep the open-loop state once drawn (holding_state), else redraw
        self._held_state: dict[str, torch.Tensor] | None = None
        self._read: ReadMatrices | None = None
        self.verify_history = None
        self._read_seed = 0
        self.read_window_index = 0  # counts read windows since programming (frozen 1/f draws)
        self.time: float | None = None
        self.normals = NormalSource()
        self.fuse_matrix_reads = False  # compiled read-out for [batch, columns] reads too (_fused)
        self.fast_linear_reads = True  # forward's reads through readout.read_linear_fast (tests: False)
        self.noise_precision = torch.float32  # dtype of the noise-variance products (set_noise_precision)
        self._scratch = [np.empty(0, dtype=np.float32)] * 2  # read-out: normal numbers, transposed
        self._layouts: dict[str, ReadMatrices | readout.LinearPlan] = {}  # matrices rearranged for reads
        self._gdc_reference: float | None = None
        self.gdc_scale = 1.0
        self._output_scale: tuple[tuple, torch.Tensor, torch.Tensor] | None = None  # output_scale, kept

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs) -> None:
        # files written before the targets were stored as weights hold the conductance planes
        planes = state_dict.pop(prefix + "g_target", None)
        if planes is not None and prefix + "target_weight" not in state_dict:
            encoded = self.encoding.encode(self.target_weight.T, 1.0)
            g = (planes - self.device_model.g_min).flatten(1, 2)[:, :self.in_features]
            per_siemens = state_dict.get(prefix + "weight_per_siemens", self.weight_per_siemens)
            decoded = dataclasses.replace(encoded, weight_per_siemens=per_siemens).decode(g)
            state_dict[prefix + "target_weight"] = decoded.T.contiguous()
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)
        # new targets make the programmed devices stale: the chip must be programmed again
        self._release()
        self.fault_maps, self.time = {}, None

    def _apply(self, fn, recurse: bool = True):
        """``module.to(device)`` / ``.to(dtype)``. The tile computes in float32 whatever the
        module's dtype: its numbers are ADC codes and DAC levels of the chip, whose resolution
        the converters set, and the chip instance (programmed state, fault maps, frozen noise) is
        drawn on the CPU from seeded CPU generators, so the same seed gives the same chip on
        every device and in every dtype. A dtype therefore changes only what the layer hands back
        (outputs follow the input's dtype; the layer's digital weight and bias follow the module);
        a device moves the read matrices, the mapped weights and the ADC instance, and the
        per-read normal numbers are drawn on the CPU and copied there (the same numbers as on
        the CPU, at the cost of a copy per read)."""
        super()._apply(fn, recurse)
        on = self.target_weight.device
        for name in ("target_weight", "weight_per_siemens"):  # buffers: device only
            setattr(self, name, getattr(self, name).to(torch.float32))
        if self._read is not None:
            self._read = ReadMatrices(*(None if m is None else m.to(on) for m in self._read))
        self._layouts = {}  # rearranged again from the moved matrices at the next read
        if self.adc_instance is not None:
            self.adc_instance = self.adc_instance.to(on)
        return self

    def _release(self) -> None:
        """Forget the programmed chip instance (state and read matrices)."""
        self._state, self._program_seed, self._read, self._layouts = {}, None, None, {}
        self._held_state = None

    @property
    def g_target(self) -> torch.Tensor:
        """Target conductances (S) of every device, ``[planes, arrays, rows, columns]``, encoded
        from :attr:`target_weight` (recomputed at each call, not stored)."""
        span = self.device_model.g_max - self.device_model.g_min
        g = self.encoding.encode(self.target_weight.cpu().T, span).g_target
        g = nn.functional.pad(g, (0, 0, 0, self.padded_rows - self.in_features)).add_(self.device_model.g_min)
        return g.view(len(self.alpha), self.row_arrays, self.rows_per_array, self.columns)

    @property
    def state(self) -> dict[str, torch.Tensor]:
        """The programmed state of every device (the device model's tensors, each
        ``[planes, arrays, rows, columns]``); empty before programming. After open-loop
        programming it is drawn again from the programming seed at each access (same numbers):
        keep the returned dict rather than asking twice, or set :attr:`hold_state` to keep it
        between accesses (``aimc.nn.holding_state``: memory for speed)."""
        if self._state or self._program_seed is None:
            return self._state
        if self._held_state is not None:
            return self._held_state
        generator = torch.Generator().manual_seed(self._program_seed)
        state = self.device_model.program(self.g_target, generator)
        if self.hold_state:
            self._held_state = state
        return state

    def memory_estimate(self, verify: ProgramVerifier | None = None) -> MemoryEstimate:
        """Bytes this tile will hold once programmed and drifted, and at most while programming
        or drifting (before any device is drawn; ``aimc.program`` checks it against the free
        memory). The transient is the device model's full programmed state, drawn for all
        devices at once, plus about as much again of temporaries while the device model computes
        it, plus the IR-drop solver's dense ``[columns, rows, rows]`` float64 blocks."""
        planes, arrays, rows, columns = self.device_shape
        devices = planes * arrays * rows * columns
        matrix = len(self.beta) * arrays * rows * columns * 4  # one float32 read matrix
        probe = self.device_model.program(torch.full((2, 2), 0.5 * self.device_model.g_max),
                                          torch.Generator().manual_seed(0))
        state = self.state_bytes(probe)  # the full state
        noisy = self.device_model.read_noise_split(probe, probe["g_prog"], 86400.0)[1] is not None
        shot = self.circuit_noise is not None and self.circuit_noise.shot
        held = self.target_weight.numel() * 4 + matrix * (1 + noisy + shot)
        if self.faults is not None:
            held += 3 * devices  # boolean maps: stuck on, stuck off, dead
        if verify is not None:
            held += state  # closed-loop programming keeps its state
        transient = 2 * state + 3 * devices * 4  # state + temporaries, targets and one plane
        if verify is not None:
            transient += 2 * state  # the rewrite draws a fresh state next to the kept one
        if self.ir_drop is not None:
            cols = min(columns, self.array_shape[1]) * planes  # physical columns of one array
            transient += 2 * devices * 4 + 4 * cols * rows * rows * 8
        return MemoryEstimate(held=held, peak=held + transient)

    def state_bytes(self, probe: dict[str, torch.Tensor] | None = None) -> int:
        """Bytes of the full programmed state of every device (what :attr:`hold_state` keeps)."""
        if probe is None:
            probe = self.device_model.program(torch.full((2, 2), 0.5 * self.device_model.g_max),
                                              torch.Generator().manual_seed(0))
        return math.prod(self.device_shape) * sum(v.element_size() for v in probe.values())

    @property
    def device_shape(self) -> torch.Size:
        """``[planes, arrays, rows, columns]``: every device of the tile, padding rows included."""
        return torch.Size((len(self.alpha), self.row_arrays, self.rows_per_array, self.columns))

    @property
    def padded_rows(self) -> int:
        """Rows over all arrays, including unused padding rows of the last array."""
        return self.row_arrays * self.rows_per_array

    @property
    def programmed(self) -> bool:
        return self.time is not None

    # ------------------------------------------------------------------ program / drift
    def program(self, seed: int | np.random.SeedSequence = 0, verify: ProgramVerifier | None = None) -> None:
        """Program every device (fresh chip instance) from ``seed``; leaves the tile at t = 0.
        With ``verify`` (e.g. ``aimc.calibration.ProgramVerify()``) the devices are programmed
        closed-loop and the error history is kept in :attr:`verify_history`.

        Reads at time ``t`` draw their noise from a stream seeded by ``(seed, t)``, so the numbers
        seen at one time do not depend on which other times were read before.
        """
        check_seed(seed)
        program_seed, self._read_seed, fault_seed, adc_seed = split_seed(seed, 4)
        self._release()  # the old instance's memory is free before the new one is drawn
        if verify is None:
            self._program_seed = program_seed  # the state is drawn from it when needed
            self.verify_history = None
        else:
            generator = torch.Generator().manual_seed(program_seed)
            self._state, self.verify_history = verify.program(self.device_model, self.g_target, generator)
        self.adc_instance = self.adc.draw_instance(torch.Generator().manual_seed(adc_seed))
        if self.adc_instance is not None:  # drawn on the CPU, kept where the tile is
            self.adc_instance = self.adc_instance.to(self.target_weight.device)
        if self.faults is not None:
            fault_generator = torch.Generator().manual_seed(fault_seed)
            self.fault_maps = self.faults.draw(self.device_shape, fault_generator)
        self.gdc_scale = 1.0
        self.read_window_index = 0
        self._set_time(0.0)
        self._gdc_reference = None
        if self.compensation is not None:
            self._gdc_reference = self.compensation.readout(self)

    def drift_to(self, t_seconds: float, compensate: bool = True) -> None:
        """Move the programmed devices to ``t_seconds`` after programming.

        With ``compensate`` and a compensation scheme, the tile then reads its calibration
        inputs and rescales its outputs by (reading at programming) / (reading now).
        """
        t_seconds = check_drift_time(t_seconds)
        if not self.programmed:
            raise RuntimeError("tile is not programmed: call program(seed) first")
        self.gdc_scale = 1.0
        self._set_time(t_seconds)
        if compensate and self.compensation is not None:
            now = self.compensation.readout(self)
            self.gdc_scale = self._gdc_reference / max(now, torch.finfo(torch.float32).tiny)

    def new_read_window(self) -> None:
        """Start a new read window at the current time: the frozen band of 1/f read noise
        (``Device.read_noise_split``, below ``1/read_window``) is drawn again for every device
        and folded into the read matrices; the fresh noise stream and drift compensation go on
        unchanged. Each :meth:`drift_to` starts a new window by itself; call this when streaming
        reads for longer than the device's ``read_window``. Draws are seeded by the programming
        seed and :attr:`read_window_index`, so a run is reproducible. Does nothing for devices
        without a frozen band (white noise, ``read_window=None``)."""
        if not self.programmed:
            raise RuntimeError("tile is not programmed: call program(seed) first")
        if not self._has_frozen_band():
            self.read_window_index += 1
            return
        self._set_time(self.time, reseed=False)

    def _has_frozen_band(self) -> bool:
        dev = self.device_model
        return dev.noise_spectrum == "1/f" and dev.read_window is not None

    def conductances(self, t: float | None = None) -> torch.Tensor:
        """Noise-free conductances (S) as read at ``t`` (default: the current time), faults
        included, ``[planes, arrays, rows, columns]``."""
        if not self._state and self._program_seed is None:
            raise RuntimeError("tile is not programmed: call program(seed) first")
        return self._conductances(self.state, self.time if t is None else t, self.fault_maps)

    def _conductances(self, state: dict[str, torch.Tensor], t: float,
                      fault_maps: dict[str, torch.Tensor]) -> torch.Tensor:
        return read_matrices.conductances(self.device_model, self.faults, state, t, fault_maps)

    def _set_time(self, t: float, reseed: bool = True) -> None:
        """Fold the devices at time ``t`` into the read matrices
        (:func:`aimc.array.read_matrices.assemble`, one device plane at a time). Starts a new
        read window: the frozen band of the read noise is drawn (once per device) from
        ``(read seed, window index)`` and added to the conductances; the fresh band becomes the
        variance matrix. ``reseed`` restarts the fresh stream at ``(read seed, t)``."""
        self._read, self._layouts = None, {}  # free the old matrices before building new ones
        self.read_window_index += 1
        frozen_gen = None
        if self._has_frozen_band():
            frozen_seed = split_seed(np.random.SeedSequence(
                [self._read_seed, 0x1F, self.read_window_index]), 1)[0]
            frozen_gen = torch.Generator().manual_seed(frozen_seed)
        unit = self._unit_current()
        matrices = read_matrices.assemble(
            self.state, self.fault_maps, t, device=self.device_model, shape=self.device_shape,
            alpha=self.alpha, group=self.group, groups=len(self.beta),
            to_codes=self.dac.v_read / (self.dac.full_scale_levels * unit), faults=self.faults,
            ir_drop=self.ir_drop, width=self.array_shape[1], frozen_generator=frozen_gen,
            circuit_noise=self.circuit_noise, unit=unit,
            volts_per_level=self.dac.v_read / self.dac.full_scale_levels)
        on = self.target_weight.device  # built on the CPU (seeded CPU generators), then moved
        self._read = ReadMatrices(*(None if m is None else m.to(on) for m in matrices))
        del matrices
        self.time = float(t)
        if reseed:
            time_bits = int.from_bytes(struct.pack("<d", self.time), "little")
            self.normals.seed(split_seed(np.random.SeedSequence([self._read_seed, time_bits]), 1)[0])

    def _noise_state(self, state: dict[str, torch.Tensor] | None = None,
                     fault_maps: dict[str, torch.Tensor] | None = None) -> dict[str, torch.Tensor]:
        """The programmed state as read noise sees it: stuck cells behave as cells programmed to
        the conductance they are stuck at (:func:`aimc.array.read_matrices.noise_state`)."""
        state = self.state if state is None else state
        fault_maps = self.fault_maps if fault_maps is None else fault_maps
        return read_matrices.noise_state(self.device_model, self.faults, state, fault_maps)

    def _unit_current(self) -> float:
        return self.adc.unit_current(self.device_model.g_max, self.dac.v_read)

    @property
    def output_scale(self) -> torch.Tensor:
        """Per-column factor from summed ADC codes to weight units per DAC level (includes drift
        compensation): ``y = codes * output_scale * step`` with ``step`` from the DAC. The
        tensor is kept between reads while its inputs stay the same: read it, never write it."""
        per_level = self._unit_current() * self.dac.full_scale_levels / self.dac.v_read
        gdc, per_siemens = self.gdc_scale, self.weight_per_siemens
        if not isinstance(gdc, float) or per_siemens.is_inference():  # no version counter to check
            return per_siemens * (per_level * gdc)
        # kept while its inputs are the same (a read takes it once per layer)
        key = (per_level, gdc, per_siemens._version)
        kept = self._output_scale
        if kept is None or kept[0] != key or kept[1] is not per_siemens:
            kept = self._output_scale = (key, per_siemens, per_siemens * (per_level * gdc))
        return kept[2]

    def matrices(
        self,
        layout: Callable[[torch.Tensor], torch.Tensor] | None = None,
        key: str = "matmul",
        bias_layout: Callable[[torch.Tensor], torch.Tensor] | None = None,
        memory_format: torch.memory_format = torch.contiguous_format,
    ) -> ReadMatrices:
        """Analog-combined conductances and noise variances of each ADC group in ADC codes per
        DAC level, ``[groups, arrays, rows, columns]`` (thermal: ``[groups, arrays, columns]``),
        optionally rearranged by ``layout`` / ``bias_layout`` (cached per key until the next
        program or drift); 4-D matrices are stored in ``memory_format`` (``torch.channels_last``
        for a convolution that runs channels-last)."""
        if not self.programmed:
            raise RuntimeError(
                "analog tile is not programmed: call aimc.program(model, seed) before inference"
            )
        if key not in self._layouts:
            def arrange(m, fn, fmt=torch.contiguous_format):
                return None if m is None else (m if fn is None else fn(m)).contiguous(memory_format=fmt)
            r = self._read
            fmt = memory_format
            var = arrange(r.var, layout, fmt)
            var = var if var is None else var.to(self.noise_precision)
            self._layouts[key] = ReadMatrices(arrange(r.w, layout, fmt), var,
                                              arrange(r.bias, bias_layout), arrange(r.shot, layout, fmt))
        return self._layouts[key]

    # ------------------------------------------------------------------ read
    def read(self, levels: torch.Tensor, matrices: ReadMatrices, op: LinearOp = torch.matmul,
             channel_dim: int = -1, arrays: int = 1, out: torch.Tensor | None = None) -> torch.Tensor:
        """One read of every array: DAC levels → currents with read, thermal and shot noise →
        (reference column subtracted in analog) → ADC codes, per array; columns vary fastest
        along ``channel_dim``. With ``arrays > 1`` the channels hold ``arrays`` blocks of
        columns (one per array, e.g. a grouped convolution) whose codes are added digitally;
        ``out`` (the codes of earlier arrays) is added to."""
        currents, var = self.products(levels, matrices, op)
        return self.read_out([currents], [var], channel_dim, arrays, out)

    def read_split(self, levels: Sequence[torch.Tensor], matrices: Sequence[ReadMatrices],
                   op: LinearOp = torch.matmul, channel_dim: int = -1) -> torch.Tensor:
        """Array ``a`` reads ``levels[a]`` with ``matrices[a]`` (one ``op`` per array instead of
        one grouped op); the codes are added digitally. The same numbers as :meth:`read` of the
        grouped op with ``arrays=len(levels)``: the noise is drawn as for the grouped currents."""
        parts = [self.products(v, m, op) for v, m in zip(levels, matrices, strict=True)]
        return self.read_out([c for c, _ in parts], [v for _, v in parts], channel_dim, len(parts))

    def products(self, levels: torch.Tensor, matrices: ReadMatrices,
                 op: LinearOp = torch.matmul) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Column currents and their noise variance, noise not yet drawn
        (:func:`aimc.tile.readout.products`)."""
        return readout.products(levels, matrices, op)

    def read_out(self, currents: Sequence[torch.Tensor], var: Sequence[torch.Tensor | None],
                 channel_dim: int = -1, arrays: int = 1, out: torch.Tensor | None = None) -> torch.Tensor:
        """Noise drawn (fresh normal numbers, from :attr:`normals`), reference column subtracted,
        ADC, digital sum over ``arrays`` blocks of channels (onto ``out`` if given), with this
        tile's converters (:func:`aimc.tile.readout.read_out`): one compiled pass per tensor
        when :meth:`_fused` says so, else the tensor code, with the same numbers."""
        dim = channel_dim % currents[0].dim()
        if self._fused(currents[0], out):
            return self._read_out_fused(currents, var, dim, arrays, out)
        return readout.read_out_tensor(currents, var, dim, arrays, out, adc=self.adc, normals=self.normals,
                                       adc_instance=self.adc_instance, reference_column=self.reference_column,
                                       columns=self.columns)

    def _fused(self, currents: torch.Tensor, out: torch.Tensor | None) -> bool:
        """The compiled read-out where it can run and pays: images (convolutions: it adds the
        arrays' codes and reads channel-last currents without strided passes; 1.4-1.5x faster
        forwards, ``benchmarks/profile_read.py``). A matrix read ``[batch, columns]`` takes the
        tensor code, whose few contiguous in-place passes are as fast and cost less Python per
        call; :attr:`fuse_matrix_reads` sends those through the compiled pass too (the tests)."""
        return (readout.fusable(currents, out, self.adc, self.reference_column)
                and (currents.dim() > 2 or self.fuse_matrix_reads))

    def _read_out_fused(self, currents: Sequence[torch.Tensor], var: Sequence[torch.Tensor | None],
                        dim: int, arrays: int, out: torch.Tensor | None) -> torch.Tensor:
        return readout.read_out_fused(currents, var, dim, arrays, out, adc=self.adc, normals=self.normals,
                                      scratch=self._scratch)

    def combine(self, codes: torch.Tensor) -> torch.Tensor:
        """Digital shift-and-add of ADC codes ``[B, groups*out, ...]`` (summed over arrays) over
        the ADC groups → ``[B, out, ...]``."""
        return readout.combine(codes, self.beta)

    def read_codes(self, levels: torch.Tensor) -> torch.Tensor:
        """DAC levels ``[batch, in]`` → recombined ADC codes summed over arrays ``[batch, out]``
        (:func:`aimc.tile.readout.read_codes`, one ``F.linear`` per array on output-major
        conductances); partial sums are digitised per array and ADC group by :meth:`read_out`.
        """
        matrices = self.matrices(_output_major, key="linear", bias_layout=_output_major_bias)
        return readout.read_codes(levels, matrices, self.read_out, self.beta)

    def _linear_plan(self) -> readout.LinearPlan:
        """The linear read matrices (:meth:`matrices`, output-major) prepared for
        :func:`aimc.tile.readout.read_linear_fast`, kept with them until the next program or
        drift."""
        plan = self._layouts.get("linear plan")
        if plan is None:
            matrices = self.matrices(_output_major, key="linear", bias_layout=_output_major_bias)
            plan = self._layouts["linear plan"] = readout.LinearPlan(matrices)
        return plan

    def _dac_compiled(self, x: torch.Tensor, pad: bool = True) -> tuple[torch.Tensor, torch.Tensor | float]:
        """:meth:`DAC.to_levels` of the rows of ``x [B, n]`` as one compiled pass
        (:func:`aimc.tile.readout.dac_compiled`); with ``pad`` into a buffer that already holds
        the zero levels of the unused rows of the last array. Refuses NaN and infinity."""
        return readout.dac_compiled(x, self.dac, self.padded_rows if pad else None)

    def forward(self, x: torch.Tensor, bias: torch.Tensor | None = None) -> torch.Tensor:
        """Analog matrix-vector products for ``x [..., in_features]`` → ``[..., out_features]``,
        plus the digital ``bias [out_features]`` when given."""
        if x.shape[-1] != self.in_features:
            raise ValueError(f"expected inputs with {self.in_features} features, got {x.shape[-1]}")
        lead = x.shape[:-1]
        x2 = x if x.dim() == 2 and x.dtype == torch.float32 else \
            x.reshape(-1, self.in_features).to(torch.float32)
        compiled = x2.device.type == "cpu" and not x2.requires_grad
        if compiled:
            levels, step = self._dac_compiled(x2)
        else:
            check_finite(x2)
            levels, step = self.dac.to_levels(x2)
        if bias is not None and bias.shape != (self.out_features,):
            raise ValueError(f"bias must have shape ({self.out_features},), got {tuple(bias.shape)}")
        # the bias joins the compiled pass only where the sum is float32 anyway; else it is added
        # in the output's dtype, after the cast, as a layer adds it to a float32 tile's output
        fold = bias is not None and bias.dtype == torch.float32 and (
            x.dtype == torch.float32 or not x.is_floating_point())
        y, folded, scale = None, bias if fold else None, self.output_scale
        if compiled and self.fast_linear_reads:  # products into reused buffers, compiled passes
            plan = self._linear_plan()
            if (readout.fast_linear(plan.matrices, self.adc, self.reference_column, len(self.beta))
                    and scale.dtype == torch.float32 and scale.device.type == "cpu"
                    and not (torch.is_grad_enabled() and (scale.requires_grad
                                                          or (fold and bias.requires_grad)))):
                y = readout.read_linear_fast(levels, plan, self.adc, self.normals, scale, step, folded)
        if y is None:
            y = readout.to_weight_units(self.read_codes(levels), scale, step, folded)
        y = y if x.dim() == 2 else y.view(*lead, self.out_features)
        y = y.to(x.dtype) if x.is_floating_point() and x.dtype != y.dtype else y
        return y if bias is None or fold else y + bias

    def extra_repr(self) -> str:
        return (
            f"in={self.in_features}, out={self.out_features}, arrays={self.array_grid} of "
            f"{self.array_shape[0]}x{self.array_shape[1]}, device={self.device_model.name}"
        )
