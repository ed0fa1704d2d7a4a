"""Training for analog hardware: hardware-aware noise injection and a checkpointing trainer."""

from .hwa import HWAConfig, disable_hwa, enable_hwa, noisy_weight
from .trainer import Trainer

__all__ = ["HWAConfig", "Trainer", "disable_hwa", "enable_hwa", "noisy_weight"]
