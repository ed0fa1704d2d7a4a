"""The sweep's workloads: a model, its training (once, cached) and its test set.

A workload is trained digitally once per (name, epochs, seed) by the process that drives the
sweep; its weights travel to the workers as safetensors bytes (never pickle) and are cached on
disk (``cache_dir``, default ``$AIMC_CACHE`` or ``~/.cache/aimc``, folder ``sweep-models``) so a
second sweep does not train again. Training runs torch on one thread (as
:mod:`aimc.evaluation.workloads` does): the reductions of several threads add in another order, so
the weights, and every number after them, would depend on the driver machine's core count.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import torch
from safetensors.torch import load as load_bytes
from torch import nn

from .. import __version__
from .._threads import torch_threads
from ..data import Split, digits
from ..evaluation.workloads import WORKLOADS as STANDARD
from ..evaluation.workloads import load_data
from .grid import WORKLOADS


def _digits_mlp() -> nn.Module:
    from ..models import mlp

    return nn.Sequential(nn.Flatten(), mlp((64, 64, 10)))


def _digits_cnn() -> nn.Module:
    from ..models import digits_cnn

    return digits_cnn()


_DIGITS = ("digits-cnn", "digits-mlp")
BUILDERS: dict[str, Callable[[], nn.Module]] = {
    "digits-cnn": _digits_cnn, "digits-mlp": _digits_mlp,
    **{name: STANDARD[name].build for name in WORKLOADS if name not in _DIGITS}}
INPUT_SHAPE = {"digits-cnn": (1, 1, 8, 8), "digits-mlp": (1, 1, 8, 8),
               **{name: STANDARD[name].example_shape for name in WORKLOADS if name not in _DIGITS}}
assert set(BUILDERS) == set(WORKLOADS)


def data(name: str, train_seed: int) -> Split:
    """The workload's data split: scikit-learn's digits split by ``train_seed`` for the two
    digits workloads, else the benchmark suite's fixed split
    (:func:`aimc.evaluation.workloads.load_data`; a missing data set names its package)."""
    if name in _DIGITS:
        return digits(seed=train_seed)
    return load_data(name)


def build(name: str, state: bytes | None = None) -> nn.Module:
    """The workload's network; with ``state`` (safetensors bytes) its trained weights."""
    model = BUILDERS[name]()
    if state is not None:
        model.load_state_dict(load_bytes(state))
    return model.eval()


def default_cache_dir() -> Path:
    root = os.environ.get("AIMC_CACHE") or Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"),
                                                 "aimc")
    return Path(root) / "sweep-models"


def trained_state(name: str, epochs: int, train_seed: int, cache_dir: str | Path | None = None) -> bytes:
    """Safetensors bytes of workload ``name`` trained for ``epochs`` from ``train_seed``: read
    from the cache when there, else trained (seeded: the same bytes every time) and cached."""
    from ..training.digital import train_digital
    from ..training.trainer import save_atomic

    folder = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    recipe = {} if name in _DIGITS else {"lr": STANDARD[name].lr, "batch_size": STANDARD[name].batch_size}
    # "t1": trained on one torch thread (files from before that pinning are not reused); the
    # suite's workloads also name their learning rate and batch
    extra = f"-lr{recipe['lr']:g}-b{recipe['batch_size']}" if recipe else ""
    path = folder / f"{name}-e{epochs}-s{train_seed}{extra}-t1-aimc{__version__}.safetensors"
    if path.is_file():
        return path.read_bytes()
    split = data(name, train_seed)
    with torch.random.fork_rng(), torch_threads(1):  # one thread: the same weights on any machine
        torch.manual_seed(train_seed)
        model = BUILDERS[name]()
        train_digital(model, split, epochs=epochs, seed=train_seed, **recipe)
    folder.mkdir(parents=True, exist_ok=True)
    # atomic: a concurrent sweep reads either nothing or the whole file
    save_atomic({k: v.contiguous() for k, v in model.state_dict().items()}, path)
    return path.read_bytes()
