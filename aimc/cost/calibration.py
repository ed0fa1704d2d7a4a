"""Cost of keeping a chip calibrated: reference cells, calibration reads and re-programming.

* **reference cells** (``chip.reference_cells``): ``columns`` columns of every array; their area
  is their share of the array's devices (one device per reference cell, ``cost.cell_f2`` each),
  and one read of one reference column costs what a read of a one-column matrix of ``rows`` rows
  costs (:func:`aimc.cost.energy.mvm_energy`: array, DAC and ADC, with the column's mean
  target as fill); a single-cell read, what a one-by-one matrix costs.
* **global drift compensation**: each calibration reads ``vectors`` input vectors through every
  analog matrix (:func:`matrix_read_energy` per vector).
* **programming**: ``pulses * write_energy_j`` plus the verify reads (single-cell reads), in
  ``(pulses * write_time_s + reads * read_time_s) / rows`` seconds, the rows of an array written
  in parallel (``aimc.calibration.ProgramVerify``'s pulse and read parameters, open loop: one
  pulse per device and no reads).

Downtime (the arrays cannot serve inferences while they are written or read for calibration),
one rule for all: **one array at a time**; within an array the rows work in parallel.

* writes and single-cell reads (programming, verify reads, the threshold policy's reference-cell
  checks): ``(pulses * write_time_s + reads * read_time_s) / rows`` (:func:`programming_cost`,
  :func:`cell_reads_time`);
* array reads (a global-compensation vector through one array, or one read of an array's
  reference columns, all its columns converted at once): one matrix-vector product each,
  ``aimc.cost.timing.mvm_time(chip)`` (:func:`array_reads_time`), the arrays one after another
  (an upper bound: a chip that reads its arrays in parallel is down for less).
"""

from __future__ import annotations

from ..calibration import ProgramVerify
from ..chips import ChipSpec
from ..compiler import Mapping
from .energy import mvm_energy, tech
from .timing import mvm_time


def reference_cells_cost(mapping: Mapping) -> dict[str, float]:
    """Reference columns of a compiled model, their area (m²) and share of the used arrays'
    devices, and the energy (J) of one read of one reference column."""
    chip = mapping.chip
    spec = chip.reference_cells
    columns = sum(layer.reference_columns * layer.replicas for layer in mapping.analog_layers)
    rows = chip.array.rows
    cell_area = chip.cost.cell_f2 * tech(chip).feature_m ** 2
    used = sum(layer.arrays for layer in mapping.analog_layers) * rows * chip.array.cols
    return {
        "columns": float(columns),
        "area_m2": float(columns * rows * cell_area),
        "cell_share": float(columns * rows / used) if used else 0.0,
        "column_read_j": reference_column_read_energy(chip) if spec is not None else 0.0,
    }


def reference_column_read_energy(chip: ChipSpec) -> float:
    """Energy (J) of one read of one reference column (all its rows driven)."""
    spec = chip.reference_cells
    fill = sum(spec.targets) / len(spec.targets) if spec is not None else 0.5
    return float(sum(mvm_energy(chip, chip.array.rows, 1, fill, devices=1).values()))


def cell_read_energy(chip: ChipSpec, fill: float = 0.5) -> float:
    """Energy (J) of reading one device alone (a verify read or a reference-cell read)."""
    return float(sum(mvm_energy(chip, 1, 1, fill, devices=1).values()))


def matrix_read_energy(chip: ChipSpec, rows: int, cols: int, fill: float, devices: int = 2,
                       adc_groups: int = 1, row_arrays: int = 1, col_arrays: int = 1) -> float:
    """Energy (J) of one input vector through one analog matrix (array, DAC and ADC)."""
    parts = mvm_energy(chip, rows, cols, fill, devices, adc_groups, col_arrays, row_arrays)
    return float(sum(parts.values()))


def programming_cost(chip: ChipSpec, pulses: int, reads: int, verify: ProgramVerify | None = None
                     ) -> tuple[float, float]:
    """(energy J, time s) of programming with ``pulses`` write pulses and ``reads`` verify reads."""
    pv = verify or ProgramVerify()
    energy = pulses * pv.write_energy_j + reads * cell_read_energy(chip)
    time = (pulses * pv.write_time_s + reads * pv.read_time_s) / chip.array.rows
    return float(energy), float(time)


def cell_reads_time(chip: ChipSpec, reads: int, verify: ProgramVerify | None = None) -> float:
    """Seconds of ``reads`` single-cell reads (reference-cell checks): ``read_time_s`` each,
    the rows of an array in parallel (the rule of :func:`programming_cost`)."""
    pv = verify or ProgramVerify()
    return float(reads * pv.read_time_s / chip.array.rows)


def array_reads_time(chip: ChipSpec, reads: int) -> float:
    """Seconds of ``reads`` array reads (one matrix-vector product each, ``mvm_time``), one
    array at a time (module docstring)."""
    return float(reads * mvm_time(chip))
