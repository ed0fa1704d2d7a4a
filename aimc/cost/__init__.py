"""Cost of running a mapped network on a chip: latency, energy, area, and a digital baseline."""

from .digital import SystolicArray, digital_baseline
from .report import CostReport, LayerCost, Peak, estimate, peak
from .technology import Technology, technology
from .timing import Schedule, mvm_time, peak_ops, schedule

__all__ = [
    "CostReport", "LayerCost", "Peak", "Schedule", "SystolicArray", "Technology", "digital_baseline",
    "estimate", "mvm_time", "peak", "peak_ops", "schedule", "technology",
]
