"""Offline data sets (nothing is downloaded at run time)."""

from .digits import Split, digits

__all__ = ["Split", "digits"]
