"""Hardware descriptions: the validated ``ChipSpec`` and presets of published chips."""

from .presets import DEFAULT_CHIP, list_chips, load_chip
from .spec import ArraySpec, ChipSpec, CostSpec, Timing

__all__ = ["DEFAULT_CHIP", "ArraySpec", "ChipSpec", "CostSpec", "Timing", "list_chips", "load_chip"]
