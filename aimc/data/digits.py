"""scikit-learn's 8x8 handwritten digits (1,797 images, shipped inside scikit-learn; no download).

Source: UCI "Optical Recognition of Handwritten Digits" (Alpaydin & Kaynak, 1998), as
``sklearn.datasets.load_digits``. Pixels are 0..16; here scaled to [0, 1].
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch


@dataclass(frozen=True)
class Split:
    """A train/test split of image tensors ``[N, 1, H, W]`` and integer labels ``[N]``."""

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor


def digits(test_fraction: float = 0.2, seed: int = 0) -> Split:
    """The digits data set with a fixed, stratified split.

    Example:
        >>> d = digits()
        >>> d.x_train.shape, d.x_test.shape
        (torch.Size([1437, 1, 8, 8]), torch.Size([360, 1, 8, 8]))
    """
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction}")
    from sklearn.datasets import load_digits  # imported here: `import aimc` stays fast
    from sklearn.model_selection import train_test_split

    bunch = load_digits()
    x = (bunch.images / 16.0).astype(np.float32)[:, None]
    x_tr, x_te, y_tr, y_te = train_test_split(
        x, bunch.target, test_size=test_fraction, random_state=seed, stratify=bunch.target
    )
    return Split(
        torch.from_numpy(x_tr), torch.from_numpy(y_tr).long(),
        torch.from_numpy(x_te), torch.from_numpy(y_te).long(),
    )
