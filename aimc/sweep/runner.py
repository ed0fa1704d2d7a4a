"""The cell runner: one grid cell → rows (one per time and compensation setting).

Steps: build the cell's ChipSpec → load the trained workload → ``convert`` → Monte Carlo over
``repeats`` chip instances with :func:`aimc.evaluation.evaluate_settings` (seeded by the cell's
own seed) → cost model (``aimc.compile`` + ``aimc.cost.estimate``: energy and latency per
inference with their 90 % intervals, energy by component). Pure function of its inputs: the
executors run it anywhere (in-process, a worker process, a Ray node) with the same numbers.

Confidence interval of the mean accuracy: Student's t, ``mean ± t(0.975, n-1) · s / sqrt(n)``
over the ``n`` chip instances (the instances are independent draws; with n = 1 there is none).

:func:`suite_rows` turns a cell of the benchmark suite (``aimc bench``) into rows of the same
form, so that ``aimc bench --store`` and ``aimc report`` put the suite in the same store and page.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import time
from dataclasses import dataclass, field

import numpy as np
import torch

from .grid import Cell
from .workloads import INPUT_SHAPE, build, data


def confidence_interval(values: np.ndarray, level: float = 0.95) -> tuple[float | None, float | None]:
    """Student-t interval of the mean of ``values`` (``(None, None)`` for fewer than 2 values):
    :func:`aimc.evaluation.bench.mean_ci` as its two ends.

    Example:
        >>> lo, hi = confidence_interval(np.array([0.9, 0.92, 0.94]))
        >>> round(lo, 4), round(hi, 4)
        (0.8703, 0.9697)
    """
    from ..evaluation.bench import mean_ci

    if len(values) < 2:
        return None, None
    mean, half = mean_ci(values, level)
    return mean - half, mean + half


def cost_figures(model: torch.nn.Module, spec, name: str) -> dict:
    """Energy and latency per inference and TOPS/W (nominal and 90 % interval), energy by
    component (:func:`aimc.evaluation.bench.cost_figures`, flattened into store columns)."""
    from ..evaluation.bench import cost_figures as figures

    return cost_columns(figures(model, spec, torch.zeros(INPUT_SHAPE[name])))


def cost_columns(f: dict) -> dict:
    """:func:`aimc.evaluation.bench.cost_figures` as the store's columns."""
    e, lat, eff = f["energy_j"], f["latency_s"], f["tops_per_w"]
    return {
        "tops_per_w": eff["nominal"], "tops_per_w_low": eff["low"], "tops_per_w_high": eff["high"],
        "energy_j": e["nominal"], "energy_low_j": e["low"], "energy_high_j": e["high"],
        "latency_s": lat["nominal"], "latency_low_s": lat["low"], "latency_high_s": lat["high"],
        "energy_breakdown": json.dumps(f["energy_breakdown_j"]),
    }


@dataclass(frozen=True)
class SuiteCell:
    """A benchmark-suite cell as the store files it (the fields :meth:`Store.write_cell` reads)."""

    key: str
    chip: str
    model: str
    seed: int
    repeats: int
    chip_spec: dict
    params: dict = field(default_factory=dict)


def suite_rows(cell, settings: dict) -> tuple[SuiteCell, list[dict]]:
    """A cell of the benchmark suite (:class:`aimc.evaluation.bench.BenchCell`) as a store cell
    and its rows, one per time, compensation on (the suite reads with the chip's own): the mean
    and 95 % interval of :meth:`BenchCell.at`, with ``n`` the number of samples that interval is
    over (chip instances, or trained networks with several training seeds) and ``repeats`` the
    chip instances per network; the standard deviation and ``accuracies`` over every reading; the
    cost model's figures. The key hashes the suite's ``settings`` (JSON values: quick, instances,
    seeds, ...), the workload's training recipe, the chip's spec, the cell's seeds, times and test
    images: the same run stored twice is stored once, a changed recipe is a new cell."""
    from ..chips import load_chip
    from ..evaluation.workloads import WORKLOADS as SUITE

    spec = load_chip(cell.chip).model_dump(mode="json")
    identity = {"suite": settings, "workload": cell.workload, "recipe": SUITE[cell.workload].recipe(),
                "chip": cell.chip, "spec": spec, "seed": cell.seed, "training_seeds": cell.training_seeds,
                "times": cell.times, "test_images": cell.test_images}
    key = hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()
    store_cell = SuiteCell(key, cell.chip, cell.workload, cell.seed, cell.instances, spec)
    acc = np.asarray(cell.accuracy, dtype=np.float64)
    networks = len(cell.training_seeds)
    rows = []
    for k, (label, t) in enumerate(cell.times.items()):
        mean, half = cell.at(label)
        rows.append({
            "time_s": float(t), "compensate": True, "accuracy_mean": mean,
            "accuracy_std": float(acc[:, k].std(ddof=1)) if len(acc) > 1 else 0.0,
            "n": networks if networks > 1 else len(acc),
            "ci_low": mean - half, "ci_high": mean + half, "accuracies": json.dumps(acc[:, k].tolist()),
            "digital_accuracy": cell.digital_accuracy, **cost_columns(cell.cost),
            "worker": f"{socket.gethostname()}:{os.getpid()}",
        })
    return store_cell, rows


def run_cell(cell: Cell | dict, state: bytes) -> list[dict]:
    """Rows of one cell: for each time and compensation setting the accuracy over the chip
    instances (mean, std, n, 95 % CI, every instance's accuracy as JSON), the digital accuracy,
    energy and latency per inference with intervals, and the cell's wall time.

    ``state``: the trained workload as safetensors bytes (:func:`aimc.sweep.workloads.trained_state`).
    """
    from ..chips import ChipSpec
    from ..evaluation import accuracy, evaluate_settings
    from ..nn import convert

    cell = cell if isinstance(cell, Cell) else Cell.from_dict(cell)
    start = time.perf_counter()
    spec = ChipSpec.model_validate(cell.chip_spec)
    model = build(cell.model, state)
    split = data(cell.model, cell.train_seed)
    n_test = cell.test_samples or len(split.x_test)
    test = (split.x_test[:n_test], split.y_test[:n_test])
    digital = accuracy(model, test)
    analog, _ = convert(model, spec)
    results = evaluate_settings(analog, test, list(cell.times), repeats=cell.repeats, seed=cell.seed,
                                compensate=cell.compensate, progress=False)
    cost = cost_figures(model, spec, cell.model)
    wall = time.perf_counter() - start
    rows = []
    for comp in cell.compensate:
        res = results[comp]
        for k, t in enumerate(cell.times):
            acc = res.accuracies[:, k]
            low, high = confidence_interval(acc)
            rows.append({
                "time_s": float(t), "compensate": bool(comp),
                "accuracy_mean": float(acc.mean()), "accuracy_std": float(res.std[k]),
                "n": int(len(acc)), "ci_low": low, "ci_high": high,
                "accuracies": json.dumps([float(a) for a in acc]),
                "digital_accuracy": float(digital), **cost,
                "wall_s": wall, "worker": f"{socket.gethostname()}:{os.getpid()}",
            })
    return rows


def warm_up() -> None:
    """Load in this process what a cell's first read would load otherwise: aimc's evaluation
    and cost modules, the data loaders' libraries and aimc's compiled read kernels (numba's
    disk cache): about 1.7 s once per process on the development machine, as long as a whole
    cell of ``benchmarks/bench_sweep_ray.py``. Reads a small digits CNN on ``ibm-hermes-pcm``
    once with read noise and once without, on one torch thread; leaves torch's global random
    state as it was (cells seed their own chips anyway)."""
    from ..chips import load_chip
    from ..evaluation import evaluate_settings
    from ..nn import convert

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with torch.random.fork_rng(devices=[]):  # the untrained network's initialisation draws from it
            name, chip = "digits-cnn", load_chip("ibm-hermes-pcm")
            model = build(name)
        data(name, 0)  # the data loaders' libraries (scikit-learn)
        x = torch.rand(8, *INPUT_SHAPE[name][1:], generator=torch.Generator().manual_seed(0))
        quiet = chip.model_copy(update={"device": chip.device.model_copy(update={"read_noise_scale": 0.0})})
        for spec in (chip, quiet):  # reads with noise and without (their kernels differ)
            analog, _ = convert(model, spec)
            evaluate_settings(analog, (x, torch.zeros(8, dtype=torch.long)), [1.0], repeats=1, seed=0,
                              compensate=(True,), progress=False)
        cost_figures(model, chip, name)
    finally:
        torch.set_num_threads(before)


def run_task(task: tuple[dict, bytes]) -> tuple[str, list[dict]]:
    """Executor entry point: ``(cell dict, state bytes)`` → ``(cell key, rows)``, with torch on
    one thread (the executors run one cell per core); each row carries this worker's
    ``code_version`` (the code that computed it, which on a cluster may differ from the
    driver's)."""
    from .store import code_version

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        cell = Cell.from_dict(task[0])
        version = code_version()
        return cell.key, [{**row, "code_version": version} for row in run_cell(cell, task[1])]
    finally:
        torch.set_num_threads(before)
