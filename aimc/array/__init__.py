"""Crossbar arrays: currents from conductances and voltages, with read noise, faults and IR drop,
and the parallel pulsed update of on-chip training."""

from .circuit_noise import CircuitNoise
from .crossbar import LinearOp, column_currents
from .faults import Faults
from .ir_drop import ConvergenceError, CrossbarSolver, IRDrop, solve_nodal, to_spice
from .noise import NormalSource
from .pulse_update import (
    CoincidenceSampler,
    PulseUpdate,
    pulse_probabilities,
    pulsed_update,
    pulsed_update_exact,
    transfer_update,
)

__all__ = ["CircuitNoise", "CoincidenceSampler", "ConvergenceError", "CrossbarSolver", "Faults", "IRDrop",
           "LinearOp", "NormalSource", "PulseUpdate", "column_currents", "pulse_probabilities",
           "pulsed_update", "pulsed_update_exact", "solve_nodal", "to_spice", "transfer_update"]
