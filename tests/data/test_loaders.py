import gzip
import struct

import numpy as np
import pytest
import torch

from aimc.data import digits, fashion_mnist, read_idx
from aimc.data.idx import FASHION_MNIST_DIR


def write_idx(path, array: np.ndarray):
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    with gzip.open(path, "wb") as handle:
        handle.write(header + array.astype(np.uint8).tobytes())


def fake_fashion(folder, n_train=5, n_test=3):
    rng = np.random.default_rng(0)
    write_idx(folder / "train-images-idx3-ubyte.gz", rng.integers(0, 256, (n_train, 28, 28)))
    write_idx(folder / "train-labels-idx1-ubyte.gz", rng.integers(0, 10, n_train))
    write_idx(folder / "t10k-images-idx3-ubyte.gz", rng.integers(0, 256, (n_test, 28, 28)))
    write_idx(folder / "t10k-labels-idx1-ubyte.gz", rng.integers(0, 10, n_test))


def test_idx_round_trip_and_scaling(tmp_path):
    fake_fashion(tmp_path)
    data = fashion_mnist(tmp_path)
    raw = read_idx(tmp_path / "train-images-idx3-ubyte.gz")
    assert data.x_train.shape == (5, 1, 28, 28) and data.x_test.shape == (3, 1, 28, 28)
    torch.testing.assert_close(data.x_train[:, 0] * 255, torch.from_numpy(raw).float())
    assert data.y_train.dtype == torch.int64 and data.x_train.max() <= 1.0
    assert len(fashion_mnist(tmp_path, limit=2).x_train) == 2


def test_missing_data_names_the_debian_package(tmp_path):
    with pytest.raises(FileNotFoundError, match="dataset-fashion-mnist"):
        fashion_mnist(tmp_path)


def test_bad_idx_file(tmp_path):
    bad = tmp_path / "bad.gz"
    with gzip.open(bad, "wb") as handle:
        handle.write(b"\x01\x02\x03\x04")
    with pytest.raises(ValueError, match="magic"):
        read_idx(bad)


@pytest.mark.skipif(not FASHION_MNIST_DIR.is_dir(),
                    reason="Debian package dataset-fashion-mnist not installed")
def test_real_fashion_mnist():
    data = fashion_mnist()
    assert data.x_train.shape == (60000, 1, 28, 28) and data.x_test.shape == (10000, 1, 28, 28)
    assert sorted(data.y_test.unique().tolist()) == list(range(10))


def test_digits_split_is_fixed_and_stratified():
    a, b = digits(seed=0), digits(seed=0)
    assert torch.equal(a.x_test, b.x_test) and len(a.x_test) == 360
    assert torch.bincount(a.y_test).min() >= 35
    with pytest.raises(ValueError, match="test_fraction"):
        digits(test_fraction=1.5)
