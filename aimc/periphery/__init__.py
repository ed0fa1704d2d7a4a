"""Converters at the edges of the array: DACs drive the rows, ADCs read the columns."""

from .adc import ADC
from .dac import DAC

__all__ = ["ADC", "DAC"]
