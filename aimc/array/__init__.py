"""Crossbar arrays: currents from conductances and voltages, with read noise, faults and IR drop,
the read matrices of a tile at a time ``t`` (``read_matrices``), and the parallel pulsed update
of on-chip training.

The pulsed update (``pulse_update``, compiled with numba) is imported on first use of one of
its names, so that ``import aimc`` does not load numba.
"""

from .._lazy import lazy_exports
from .circuit_noise import CircuitNoise
from .crossbar import LinearOp, column_currents
from .faults import Faults
from .ir_drop import ConvergenceError, CrossbarSolver, IRDrop, solve_nodal, to_spice
from .noise import NormalSource

_PULSE_UPDATE = ("CoincidenceSampler", "PulseUpdate", "SharedTrainSampler", "new_sampler",
                 "pulse_probabilities", "pulsed_update", "pulsed_update_exact", "transfer_update")
__getattr__, __dir__ = lazy_exports(__name__, dict.fromkeys(_PULSE_UPDATE, ".pulse_update"), globals())

__all__ = ["CircuitNoise", "CoincidenceSampler", "ConvergenceError", "CrossbarSolver", "Faults", "IRDrop",
           "LinearOp", "NormalSource", "PulseUpdate", "SharedTrainSampler", "column_currents", "new_sampler",
           "pulse_probabilities", "pulsed_update", "pulsed_update_exact", "solve_nodal", "to_spice",
           "transfer_update"]
