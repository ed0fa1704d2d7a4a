"""The read matrices of a tile at a time ``t``: what every read until the next drift needs.

Where it sits in the signal path (DESIGN.md): after programming (the devices' state) and before
the read (``aimc.tile.readout``). :func:`assemble` folds the devices at time ``t`` into at most
four matrices in ADC codes per DAC level (:class:`ReadMatrices`), once per drift:

* conductances: the device model's noise-free conductance at ``t`` (drift), with stuck cells and
  dead lines (:class:`aimc.array.Faults`), as the effective conductances of the physical arrays
  when the wires drop voltage (:func:`with_ir_drop`, ``aimc.array.ir_drop``), plus this read
  window's draw of the slow band of 1/f read noise (``Device.read_window``: drawn once per
  device and window, so it costs nothing per read), each plane times its encoding coefficient
  ``alpha`` and summed over the planes of one ADC group (combined in analog);
* read-noise variances of the fresh band (none at all when the whole band is frozen or the
  device does not fluctuate);
* thermal (Johnson-Nyquist) variance per output and shot-noise variance per device and DAC
  level (:func:`add_circuit_noise`, ``aimc.array.circuit_noise``).

All constant unit conversions are folded in too (``to_codes``: siemens → ADC codes per DAC
level), so a read is the DAC rounding, one matrix product per array (two with read noise), one
normal number per partial sum, the ADC rounding and one rescale. The per-device conductances and
noise exist for one plane at a time, not for all, so assembling costs little memory beyond the
programmed state. Matrices are ``[groups, arrays, rows, columns]`` (thermal:
``[groups, arrays, columns]``) laid out output-major in memory (:func:`read_matrix`), so that
the ``F.linear`` layout (:func:`output_major`) and the grouped-convolution layout are views.
Everything is built on the CPU from seeded CPU generators; the tile moves it where it reads.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import torch

from ..devices import Device
from .circuit_noise import CircuitNoise
from .faults import Faults
from .ir_drop import CrossbarSolver, IRDrop


class ReadMatrices(NamedTuple):
    """What one read needs, in ADC codes per DAC level: conductances, read-noise variances,
    input-independent (thermal) variances per output, shot-noise variances per ``|level|``."""

    w: torch.Tensor
    var: torch.Tensor | None = None
    bias: torch.Tensor | None = None
    shot: torch.Tensor | None = None

    def array(self, a: int) -> ReadMatrices:
        """The matrices of array ``a`` (leading dimension)."""
        return ReadMatrices(*(None if m is None else m[a] for m in self))


def read_matrix(groups: int, arrays: int, rows: int, columns: int) -> torch.Tensor:
    """Zeros of shape ``[groups, arrays, rows, columns]`` laid out output-major in memory
    (``[arrays, groups, columns, rows]``), so that the read layouts are views, not copies."""
    return torch.zeros(arrays, groups, columns, rows, dtype=torch.float32).permute(1, 0, 3, 2)


def output_major(m: torch.Tensor) -> torch.Tensor:
    """``[groups, arrays, rows, columns]`` → ``[arrays, groups*columns, rows]`` (``F.linear``);
    a view of the read matrices, which are stored in this order (:func:`read_matrix`)."""
    groups, arrays, rows, columns = m.shape
    return m.permute(1, 0, 3, 2).reshape(arrays, groups * columns, rows)


def output_major_bias(b: torch.Tensor) -> torch.Tensor:
    """``[groups, arrays, columns]`` → ``[arrays, groups*columns]``."""
    groups, arrays, columns = b.shape
    return b.permute(1, 0, 2).reshape(arrays, groups * columns)


def conductances(device: Device, faults: Faults | None, state: dict[str, torch.Tensor], t: float,
                 fault_maps: dict[str, torch.Tensor]) -> torch.Tensor:
    """Noise-free conductances (S) of the programmed ``state`` at ``t``, as read with the faults
    of ``fault_maps`` (stuck cells at ``g_max``/``g_min``, dead lines 0)."""
    g = device.conductance(state, t)
    if faults is not None:
        g = faults.apply(g, fault_maps, device.g_max, device.g_min)
    return g


def noise_state(device: Device, faults: Faults | None, state: dict[str, torch.Tensor],
                fault_maps: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The programmed state as read noise sees it: stuck cells behave as cells programmed to
    the conductance they are stuck at."""
    if faults is None or "g_target" not in state:
        return state
    stuck = faults.apply(state["g_target"], fault_maps, device.g_max, device.g_min)
    return {**state, "g_target": stuck}


def with_ir_drop(g: torch.Tensor, ir_drop: IRDrop, width: int) -> torch.Tensor:
    """Effective conductances ``I = V @ H`` of every physical array of ``width`` columns with
    its wire, driver and sense resistances (``aimc.array.ir_drop``), for conductances
    ``g [planes, arrays, rows, columns]``. The planes of a weight sit in adjacent columns (G+
    next to G-); the matrix occupies the array's corner next to its drivers and read-outs, so
    unused rows and columns are not in the current path. Read noise keeps the variance of ideal
    wires (a second-order effect of the IR drop is neglected)."""
    planes, arrays, rows, columns = g.shape
    dtype = torch.float64 if ir_drop.mode == "exact" else torch.float32
    out = torch.empty_like(g)
    for a in range(arrays):
        for c0 in range(0, columns, width):
            block = g[:, a, :, c0:c0 + width]  # [planes, rows, cw]
            cw = block.shape[-1]
            physical = block.permute(1, 2, 0).reshape(rows, cw * planes)
            h = CrossbarSolver(physical, ir_drop, dtype=dtype).transfer
            out[:, a, :, c0:c0 + width] = h.reshape(rows, cw, planes).permute(2, 0, 1).to(g.dtype)
    return out


def add_circuit_noise(g: torch.Tensor, a: float, grp: int, bias: torch.Tensor | None,
                      shot: torch.Tensor | None, *, circuit_noise: CircuitNoise | None,
                      temperature_k: float | None, unit: float, volts_per_level: float,
                      groups: int) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    """Add one plane ``g [arrays, rows, columns]`` (S; coefficient ``a``, ADC group ``grp`` of
    ``groups``) to the thermal variance per output ``[groups, arrays, columns]`` and the shot
    variance per device and DAC level ``[groups, arrays, rows, columns]``, in ADC codes squared
    (``unit``: amperes per ADC code; ``volts_per_level``: row volts per DAC level). Creates
    the matrices at the first plane that has the noise; returns ``(bias, shot)``."""
    if circuit_noise is None:
        return None, None
    thermal = circuit_noise.thermal_variance_per_siemens(temperature_k)
    per_amp = circuit_noise.shot_variance_per_ampere()
    arrays, rows, columns = g.shape
    if thermal:  # every device of the column, whatever its input
        if bias is None:
            bias = torch.zeros((groups, arrays, columns), dtype=torch.float32)
        bias[grp] += (a * a * thermal / unit**2) * g.sum(dim=1)
    if per_amp:
        if shot is None:
            shot = read_matrix(groups, arrays, rows, columns)
        shot[grp] += (a * a * per_amp * volts_per_level / unit**2) * g
    return bias, shot


def assemble(state: dict[str, torch.Tensor], fault_maps: dict[str, torch.Tensor], t: float, *,
             device: Device, shape: Sequence[int], alpha: Sequence[float], group: Sequence[int], groups: int,
             to_codes: float, faults: Faults | None = None, ir_drop: IRDrop | None = None, width: int = 0,
             frozen_generator: torch.Generator | None = None, circuit_noise: CircuitNoise | None = None,
             unit: float = 1.0, volts_per_level: float = 1.0) -> ReadMatrices:
    """The read matrices of the programmed ``state`` (device tensors ``shape = [planes, arrays,
    rows, columns]``) at time ``t``, one device plane at a time.

    Plane ``d`` enters ADC group ``group[d]`` with coefficient ``alpha[d]`` (the encoding);
    ``to_codes`` converts siemens to ADC codes per DAC level. ``fault_maps`` (empty without
    ``faults``): stuck cells and dead lines, which carry no noise. ``ir_drop`` (None: ideal
    wires): arrays of ``width`` columns solved with their wires. ``frozen_generator``: the draw
    of this read window's slow band of the read noise (used only when the device has one).
    ``circuit_noise``: thermal and shot noise (``unit``: amperes per ADC code,
    ``volts_per_level``: row volts per DAC level). Built on the CPU.
    """
    _, arrays, rows, columns = shape
    ir = (None if ir_drop is None
          else with_ir_drop(conductances(device, faults, state, t, fault_maps), ir_drop, width))
    temperature_k = None if circuit_noise is None else device.temperature_k
    w = read_matrix(groups, arrays, rows, columns)
    var = bias = shot = None
    for d, (a, grp) in enumerate(zip(alpha, group, strict=True)):
        plane = {k: v[d] for k, v in state.items()}
        maps = {k: v[d] for k, v in fault_maps.items()}
        g = conductances(device, faults, plane, t, maps)
        frozen, sigma = device.read_noise_split(noise_state(device, faults, plane, maps), g, t)
        if sigma is not None and faults is not None:
            sigma = torch.where(maps["dead"], 0.0, sigma)  # open lines carry no noise
        if ir is not None:
            g = ir[d]
        if frozen is not None:
            if faults is not None:
                frozen = torch.where(maps["dead"], 0.0, frozen)
            z = torch.randn(g.shape, generator=frozen_generator, dtype=g.dtype)
            g = g + frozen * z  # this window's draw of the slow band, in every read
        w[grp] += (a * to_codes) * g
        if sigma is not None:
            if var is None:
                var = read_matrix(groups, arrays, rows, columns)
            var[grp] += (a * to_codes) ** 2 * sigma ** 2
        bias, shot = add_circuit_noise(g, a, grp, bias, shot, circuit_noise=circuit_noise,
                                       temperature_k=temperature_k, unit=unit,
                                       volts_per_level=volts_per_level, groups=groups)
        del plane, g, sigma
    return ReadMatrices(w, var, bias, shot)
