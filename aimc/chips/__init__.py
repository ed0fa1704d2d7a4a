"""Hardware descriptions: the validated ``ChipSpec`` and presets of published chips."""

from .presets import DEFAULT_CHIP, list_chips, load_chip
from .spec import ArraySpec, ChipSpec, Timing

__all__ = ["DEFAULT_CHIP", "ArraySpec", "ChipSpec", "Timing", "list_chips", "load_chip"]
