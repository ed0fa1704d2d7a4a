"""Crossbar arrays: currents from conductances and voltages, with read noise, faults and IR drop."""

from .circuit_noise import CircuitNoise
from .crossbar import LinearOp, column_currents
from .faults import Faults
from .ir_drop import ConvergenceError, CrossbarSolver, IRDrop, solve_nodal, to_spice
from .noise import NormalSource

__all__ = ["CircuitNoise", "ConvergenceError", "CrossbarSolver", "Faults", "IRDrop", "LinearOp",
           "NormalSource", "column_currents", "solve_nodal", "to_spice"]
