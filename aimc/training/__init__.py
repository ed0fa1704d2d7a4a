"""Training for analog hardware: hardware-aware noise injection, a checkpointing trainer, and
on-chip training by voltage pulses (analog SGD, Tiki-Taka).

On-chip training (``pulsed``, compiled with numba) is imported on first use of one of its
names, so that importing the package does not load numba.
"""

from .._lazy import lazy_exports
from .digital import train_digital
from .hwa import HWAConfig, disable_hwa, enable_hwa, noisy_weight, sync_input_ranges
from .trainer import Trainer

_PULSED = ("AnalogSGD", "PulsedIO", "PulsedLinear", "TikiTaka", "to_pulsed")
__getattr__, __dir__ = lazy_exports(__name__, dict.fromkeys(_PULSED, ".pulsed"), globals())

__all__ = ["AnalogSGD", "HWAConfig", "PulsedIO", "PulsedLinear", "TikiTaka", "Trainer", "disable_hwa",
           "enable_hwa", "noisy_weight", "sync_input_ranges", "to_pulsed", "train_digital"]
