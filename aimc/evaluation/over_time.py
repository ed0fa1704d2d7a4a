"""Accuracy of an analog model over its life: Monte Carlo over chip instances, at several times.

Each repeat programs a fresh chip instance (new programming noise, new drift exponents, new read
noise) from its own seed; the same instance is then read at every time point, as one chip would
be. Seeds of the repeats come from ``numpy.random.SeedSequence(seed)``, so a run is reproducible.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from rich.progress import Progress
from torch import nn

from ..nn import drift, program

Data = tuple[torch.Tensor, torch.Tensor] | Iterable[tuple[torch.Tensor, torch.Tensor]]


def _batches(data: Data, batch_size: int):
    if isinstance(data, tuple) and len(data) == 2 and isinstance(data[0], torch.Tensor):
        x, y = data
        if len(x) != len(y):
            raise ValueError(f"inputs and labels differ in length: {len(x)} vs {len(y)}")
        for start in range(0, len(x), batch_size):
            yield x[start:start + batch_size], y[start:start + batch_size]
    else:
        yield from data


@torch.no_grad()
def accuracy(model: nn.Module, data: Data, batch_size: int = 512) -> float:
    """Top-1 accuracy (0..1) of ``model`` on ``(x, y)`` tensors or an iterable of batches."""
    was_training = model.training
    model.eval()
    correct = total = 0
    for x, y in _batches(data, batch_size):
        correct += int((model(x).argmax(dim=-1) == y).sum())
        total += len(y)
    model.train(was_training)
    if total == 0:
        raise ValueError("no samples to evaluate")
    return correct / total


@dataclass
class OverTimeResult:
    """Accuracies ``[repeats, times]`` of one configuration."""

    times: list[float]
    accuracies: np.ndarray
    compensate: bool
    seeds: list[int]

    @property
    def mean(self) -> np.ndarray:
        return self.accuracies.mean(axis=0)

    @property
    def std(self) -> np.ndarray:
        ddof = 1 if self.accuracies.shape[0] > 1 else 0
        return self.accuracies.std(axis=0, ddof=ddof)

    def to_dict(self) -> dict:
        return {
            "times_s": self.times,
            "compensate": self.compensate,
            "seeds": self.seeds,
            "accuracy_mean": self.mean.tolist(),
            "accuracy_std": self.std.tolist(),
            "accuracy": self.accuracies.tolist(),
        }


def evaluate_over_time(
    model: nn.Module,
    data: Data,
    times: Sequence[float],
    repeats: int = 10,
    seed: int = 0,
    *,
    compensate: bool = True,
    progress: bool | Progress = True,
) -> OverTimeResult:
    """Accuracy mean ± std over ``repeats`` chip instances at each time after programming.

    Args:
        model: a converted model (see :func:`aimc.convert`).
        data: ``(x, y)`` tensors or an iterable of ``(x, y)`` batches (e.g. a DataLoader).
        times: seconds after programming, e.g. ``[1, 3600, 86400]``.
        repeats: chip instances (each programmed from its own seed).
        compensate: run the chip's drift compensation at each time.
        progress: show a progress bar (or add a task to a given rich ``Progress``).

    Example:
        >>> res = evaluate_over_time(analog, (x_test, y_test), [1, 86400], repeats=10)  # doctest: +SKIP
        >>> res.mean, res.std                                                           # doctest: +SKIP
    """
    times = [float(t) for t in times]
    if not times or any(not t >= 0 for t in times):
        raise ValueError(f"times must be a non-empty list of seconds >= 0, got {times}")
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}")
    seeds = [int(s) for s in np.random.SeedSequence(seed).generate_state(repeats)]
    acc = np.zeros((repeats, len(times)))
    own = progress is True
    bar = Progress(transient=True) if own else progress
    if own:
        bar.start()
    task = None
    if bar:
        label = "analog accuracy" + (" (GDC)" if compensate else "")
        task = bar.add_task(label, total=repeats * len(times))
    try:
        for r, s in enumerate(seeds):
            program(model, seed=s)
            for k, t in enumerate(times):
                drift(model, t, compensate=compensate)
                acc[r, k] = accuracy(model, data)
                if task is not None:
                    bar.advance(task)
    finally:
        if own:
            bar.stop()
    return OverTimeResult(times, acc, compensate, seeds)
