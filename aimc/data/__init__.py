"""Offline data sets (nothing is downloaded at run time)."""

from .digits import Split, digits
from .idx import FASHION_CLASSES, fashion_mnist, read_idx

__all__ = ["FASHION_CLASSES", "Split", "digits", "fashion_mnist", "read_idx"]
