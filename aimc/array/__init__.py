"""Crossbar arrays: currents from conductances and voltages, with read noise."""

from .crossbar import LinearOp, column_currents
from .noise import NormalSource

__all__ = ["LinearOp", "NormalSource", "column_currents"]
