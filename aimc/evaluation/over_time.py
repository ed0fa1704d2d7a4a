"""Accuracy of an analog model over its life: Monte Carlo over chip instances, at several times.

Each repeat programs a fresh chip instance (new programming noise, new drift exponents, new read
noise) from its own seed; the same instance is then read at every time point, as one chip would
be. Seeds of the repeats come from ``numpy.random.SeedSequence(seed)``, so a run is reproducible.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import torch
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from torch import nn

from ..nn import analog_tiles, drift, holding_state, program

Data = tuple[torch.Tensor, torch.Tensor] | Iterable[tuple[torch.Tensor, torch.Tensor]]

DAY = 86400.0


def progress_columns(eta: bool = True) -> tuple[ProgressColumn, ...]:
    """The columns of aimc's progress bars: task, bar, done of total, elapsed and (with ``eta``)
    the estimated time left."""
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    return columns + ((TextColumn("ETA"), TimeRemainingColumn()) if eta else ())

#: the times after programming that the demo and the benchmark suite report (s)
TIMES: dict[str, float] = {
    "1 s": 1.0,
    "1 hour": 3600.0,
    "1 day": DAY,
    "1 month": 30 * DAY,
    "1 year": 365 * DAY,
}


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
    return evaluate_settings(model, data, times, repeats, seed, compensate=(compensate,),
                             progress=progress)[compensate]


def evaluate_settings(
    model: nn.Module,
    data: Data,
    times: Sequence[float],
    repeats: int = 10,
    seed: int = 0,
    *,
    compensate: Sequence[bool] = (False, True),
    progress: bool | Progress = True,
    workers: int = 1,
) -> dict[bool, OverTimeResult]:
    """:func:`evaluate_over_time` for several drift-compensation settings at once: each chip
    instance is programmed once and read with every setting at every time, its device state
    drawn once (:func:`aimc.nn.holding_state`, when it fits in memory). The numbers are those of
    separate :func:`evaluate_over_time` calls with the same seed (each setting's read noise and
    frozen 1/f band are seeded as in its own run), at a fraction of their time.

    ``workers > 1`` reads the chip instances on that many threads, each with its own copy of
    the model (every instance is drawn from its own seed, so the numbers do not change); torch
    and the compiled read-out release the GIL, so the threads use as many cores. Each thread
    runs torch's operations with the process's torch thread count: pin it to 1
    (``torch.set_num_threads(1)``) when ``workers`` is the number of cores.

    Example:
        >>> res = evaluate_settings(analog, (x_test, y_test), [1, 86400])  # doctest: +SKIP
        >>> res[False].mean, res[True].mean                                # doctest: +SKIP
    """
    times = [float(t) for t in times]
    if not times or any(not t >= 0 for t in times):
        raise ValueError(f"times must be a non-empty list of seconds >= 0, got {times}")
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}")
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers must be an integer >= 1, got {workers!r}")
    settings = list(dict.fromkeys(bool(c) for c in compensate))
    if not settings:
        raise ValueError("compensate must name at least one setting (True and/or False)")
    seeds = [int(s) for s in np.random.SeedSequence(seed).generate_state(repeats)]
    acc = {c: np.zeros((repeats, len(times))) for c in settings}
    own = progress is True
    bar = Progress(transient=True) if own else progress
    if own:
        bar.start()
    task = None
    if bar:
        label = "analog accuracy" + (" (GDC)" if settings == [True] else " (GDC on and off)"
                                     if len(settings) > 1 else "")
        task = bar.add_task(label, total=repeats * len(times) * len(settings))

    def run(instance_model: nn.Module, instances: range) -> None:
        tiles = [tile for _, tile in analog_tiles(instance_model)]
        with holding_state(instance_model):
            for r in instances:
                program(instance_model, seed=seeds[r])
                for k, t in enumerate(times):
                    windows = [tile.read_window_index for tile in tiles]
                    for c in settings:
                        for tile, w in zip(tiles, windows, strict=True):
                            tile.read_window_index = w  # each setting's window, as in its own run
                        drift(instance_model, t, compensate=c)
                        acc[c][r, k] = accuracy(instance_model, data)
                        if task is not None:
                            bar.advance(task)

    try:
        workers = min(workers, repeats)
        if workers == 1:
            run(model, range(repeats))
        else:
            bounds = np.linspace(0, repeats, workers + 1).round().astype(int)
            copies = [model] + [copy.deepcopy(model) for _ in range(workers - 1)]
            with ThreadPoolExecutor(workers) as pool:
                jobs = [pool.submit(run, m, range(lo, hi))
                        for m, lo, hi in zip(copies, bounds[:-1], bounds[1:], strict=True)]
                for job in jobs:
                    job.result()
    finally:
        if own:
            bar.stop()
    return {c: OverTimeResult(times, acc[c], c, seeds) for c in settings}
