"""Cost of running a mapped network on a chip: latency and throughput (energy and area next)."""

from .timing import Schedule, mvm_time, peak_ops, schedule

__all__ = ["Schedule", "mvm_time", "peak_ops", "schedule"]
