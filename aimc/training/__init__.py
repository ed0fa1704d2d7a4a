"""Training for analog hardware: hardware-aware noise injection, a checkpointing trainer, and
on-chip training by voltage pulses (analog SGD, Tiki-Taka)."""

from .hwa import HWAConfig, disable_hwa, enable_hwa, noisy_weight, sync_input_ranges
from .pulsed import AnalogSGD, PulsedIO, PulsedLinear, TikiTaka, to_pulsed
from .trainer import Trainer

__all__ = ["AnalogSGD", "HWAConfig", "PulsedIO", "PulsedLinear", "TikiTaka", "Trainer", "disable_hwa",
           "enable_hwa", "noisy_weight", "sync_input_ranges", "to_pulsed"]
