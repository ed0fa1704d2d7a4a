"""Cost of running a mapped network on a chip: latency, energy, area, and a digital baseline."""

from .calibration import (
    cell_read_energy,
    matrix_read_energy,
    programming_cost,
    reference_cells_cost,
    reference_column_read_energy,
)
from .digital import SystolicArray, digital_baseline
from .report import CostReport, LayerCost, Peak, estimate, peak
from .technology import Technology, technology
from .timing import Schedule, mvm_time, peak_ops, schedule

__all__ = [
    "CostReport", "LayerCost", "Peak", "Schedule", "SystolicArray", "Technology", "digital_baseline",
    "cell_read_energy", "estimate", "matrix_read_energy", "mvm_time", "programming_cost",
    "reference_cells_cost", "reference_column_read_energy", "peak", "peak_ops", "schedule", "technology",
]
