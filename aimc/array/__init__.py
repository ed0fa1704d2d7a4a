"""Crossbar arrays: currents from conductances and voltages, with read noise and faults."""

from .crossbar import LinearOp, column_currents
from .faults import Faults
from .noise import NormalSource

__all__ = ["Faults", "LinearOp", "NormalSource", "column_currents"]
