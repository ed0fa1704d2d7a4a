"""aimc: analog in-memory computing for neural networks.

The flow: ``convert`` a PyTorch model onto a chip → ``program`` a chip instance → ``drift`` it to
a time after programming → evaluate. See ``aimc.demo`` for the whole path on real data.

The names below are imported on first use (``aimc.convert``, ``from aimc import convert``), so
that ``import aimc`` and the ``aimc`` command's help do not wait for torch; numba, scipy,
scikit-learn and matplotlib are imported only by the functions that use them.
"""

from typing import TYPE_CHECKING

from ._lazy import lazy_exports

__version__ = "0.1.0"

_EXPORTS = {
    "AnalogConv1d": ".nn", "AnalogConv2d": ".nn", "AnalogLinear": ".nn", "calibrate_input_ranges": ".nn",
    "convert": ".nn", "drift": ".nn", "program": ".nn",
    "ChipSpec": ".chips", "list_chips": ".chips", "load_chip": ".chips",
    "compile": ".compiler",
    "accuracy": ".evaluation", "evaluate_over_time": ".evaluation",
    "Tile": ".tile",
}
_SUBMODULES = ("array", "calibration", "chips", "cli", "compiler", "cost", "data", "demo", "devices",
               "encoding", "evaluation", "models", "nn", "periphery", "stream", "sweep", "tile", "training")
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals(), _SUBMODULES)

if TYPE_CHECKING:  # the same names for type checkers and IDEs
    from .chips import ChipSpec, list_chips, load_chip
    from .compiler import compile
    from .evaluation import accuracy, evaluate_over_time
    from .nn import AnalogConv1d, AnalogConv2d, AnalogLinear, calibrate_input_ranges, convert, drift, program
    from .tile import Tile

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
