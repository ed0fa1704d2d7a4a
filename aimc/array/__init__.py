"""Crossbar arrays: currents from conductances and voltages."""

from .crossbar import column_currents

__all__ = ["column_currents"]
