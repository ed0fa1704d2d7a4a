"""aimc: analog in-memory computing for neural networks.

The flow: ``convert`` a PyTorch model onto a chip → ``program`` a chip instance → ``drift`` it to
a time after programming → evaluate. See ``aimc.demo`` for the whole path on real data.
"""

from .chips import ChipSpec, list_chips, load_chip
from .compiler import compile
from .evaluation import accuracy, evaluate_over_time
from .nn import AnalogConv1d, AnalogConv2d, AnalogLinear, calibrate_input_ranges, convert, drift, program
from .tile import Tile

__version__ = "0.1.0"

__all__ = [
    "AnalogConv1d",
    "AnalogConv2d",
    "AnalogLinear",
    "ChipSpec",
    "Tile",
    "accuracy",
    "calibrate_input_ranges",
    "compile",
    "convert",
    "drift",
    "evaluate_over_time",
    "list_chips",
    "load_chip",
    "program",
]
