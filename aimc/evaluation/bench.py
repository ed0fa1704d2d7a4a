"""The benchmark suite (``aimc bench``): every standard workload on every chip preset, with its
noise and variability on, reported with confidence intervals.

For each workload (:mod:`aimc.evaluation.workloads`) and chip preset the suite reports:

- the digital test accuracy of the trained network;
- the analog test accuracy at 1 s, 1 hour, 1 day, 1 month and 1 year after programming: mean
  and 95 % confidence interval over ``instances`` (default 20) chip instances, each programmed
  from its own seed (programming noise, drift exponents, read noise, faults, converter
  mismatch all drawn anew) and read with the chip's own drift compensation, if it has one;
- the effective bits of each analog layer (:func:`aimc.evaluation.enob`, in the network's
  order) at 1 day, mean over the first ``enob_instances`` chip instances;
- energy per inference, latency and TOPS/W of the mapped network from the cost model
  (:func:`aimc.cost.estimate`), each with its central 90 % interval over the cost model's
  parameter ranges, and the energy broken down by component.

Nothing is idealised: the chip presets are used as published (the ``ideal`` preset is left out
unless asked for: it is a reference, not a chip). The interval of a mean is Student's t
interval, ``mean ± t(0.975, n-1) · s / sqrt(n)``. With one trained network per workload (the
default, ``seeds=1``), ``s`` is the standard deviation over chip instances and the interval covers
chip instances only. With ``seeds=N`` the suite trains N networks per workload (training seeds
``seed``, ..., ``seed + N - 1``: initialisation and data order), reads each on ``instances`` chip
instances, and the interval is taken over the N per-network means (``n = N``): their spread holds
the training-seed variance and the chip-instance variance over ``instances``, so the interval
covers both sources. Each workload × chip × training seed has its own chip seed, derived from the
training seed and the cell's names, so a cell's numbers do not depend on which other cells run,
and the first training seed's instances are those of a one-seed run.

``quick`` keeps every time and the 20 instances but evaluates on the first ``quick_test`` test
images of the larger test sets (500 for MNIST 5k, 1,000 for Fashion-MNIST).

The keyword spotter (a GRU on synthetic speech) and the ViT on Fashion-MNIST (read on its first
2,000 test images) are in the full suite only (the clips take minutes to generate the first time;
the ViT's training would take the quick suite close to its 10 minutes); ``-w`` adds either to a
quick run. The character
language model is not in the suite (its script in ``benchmarks/`` trains for an hour).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from rich.console import Console
from rich.progress import Progress
from rich.table import Table
from scipy import stats

from .._threads import torch_threads
from ..chips import list_chips, load_chip
from ..compiler import compile as compile_model
from ..cost import estimate
from ..nn import convert, drift, program
from .enob import enob
from .over_time import DAY, TIMES, accuracy, evaluate_settings, progress_columns
from .workloads import WORKLOADS, Trained, load_data, trained


def default_chips() -> list[str]:
    """Every chip preset except ``ideal`` (a noise-free reference, not a chip)."""
    return [name for name in list_chips() if name != "ideal"]


def suite_workloads(quick: bool = False) -> list[str]:
    """The suite's workloads: all, or those of the quick version."""
    return [name for name, w in WORKLOADS.items() if w.in_quick or not quick]


def mean_ci(values: Sequence[float], level: float = 0.95) -> tuple[float, float]:
    """Mean and half-width of its Student's t confidence interval (0 for one value).

    Example:
        >>> mean, half = mean_ci([0.9, 0.92, 0.94])
        >>> round(mean, 4), round(half, 4)
        (0.92, 0.0497)
    """
    v = np.asarray(values, dtype=np.float64)
    if v.size == 0:
        raise ValueError("no values")
    if v.size == 1:
        return float(v[0]), 0.0
    half = stats.t.ppf(0.5 + level / 2, v.size - 1) * v.std(ddof=1) / math.sqrt(v.size)
    return float(v.mean()), float(half)


def cell_seed(seed: int, workload: str, chip: str) -> int:
    """The chip seed of one workload × chip cell for the network trained from ``seed``: a hash of
    that training seed and the two names."""
    digest = hashlib.sha256(f"{seed}/{workload}/{chip}".encode()).digest()
    return int.from_bytes(digest[:4], "little")


@dataclass
class BenchCell:
    """One workload on one chip."""

    workload: str
    chip: str
    seed: int  # chip seed of the first network's instances
    test_images: int
    digital_accuracy: float
    times: dict[str, float]
    accuracy: list[list[float]]  # [training seeds x instances][times], seed-major
    enob: dict[str, float]  # layer -> effective bits at 1 day (mean over each network's first instances)
    cost: dict = field(default_factory=dict)  # nominal figures and 90 % intervals
    row_seeds: list[int] = field(default_factory=list)  # training seed of each accuracy row
    digital_by_seed: list[float] = field(default_factory=list)  # per training seed, in their order

    @property
    def training_seeds(self) -> list[int]:
        return list(dict.fromkeys(self.row_seeds)) or [0]

    @property
    def instances(self) -> int:
        """Chip instances per trained network."""
        return len(self.accuracy) // len(self.training_seeds)

    def at(self, label: str) -> tuple[float, float]:
        """Mean accuracy and 95 % half-width at the time called ``label``: over the chip
        instances of one network, or over the per-network means of several training seeds."""
        k = list(self.times).index(label)
        if len(self.training_seeds) == 1:
            return mean_ci([row[k] for row in self.accuracy])
        return mean_ci([np.mean([row[k] for row, s in zip(self.accuracy, self.row_seeds, strict=True)
                                 if s == seed]) for seed in self.training_seeds])

    def digital(self) -> tuple[float, float]:
        """Digital accuracy: mean and 95 % half-width over the training seeds (0 for one)."""
        return mean_ci(self.digital_by_seed or [self.digital_accuracy])

    def to_dict(self) -> dict:
        out = asdict(self)
        out["accuracy_ci95"] = {label: dict(zip(("mean", "half_width"), self.at(label), strict=True))
                                for label in self.times}
        return out


def cost_figures(model: torch.nn.Module, chip, example: torch.Tensor) -> dict:
    """Energy per inference, latency, TOPS/W (nominal and 90 % interval) and the energy by
    component of ``model`` mapped on ``chip``."""
    report = estimate(compile_model(model, chip, example))
    keys = ("energy_j", "latency_s", "tops_per_w")
    return {**{k: report.intervals[k].to_dict() for k in keys},
            "energy_breakdown_j": {k: float(v) for k, v in report.energy_j.items()},
            "digital_baseline": report.digital}


def run_cell(work: Trained | Sequence[Trained], chip_name: str, *, times: dict[str, float] = TIMES,
             instances: int = 20, quick: bool = False, workers: int = 1, enob_instances: int = 3,
             progress: Progress | None = None) -> BenchCell:
    """Evaluate one trained workload (or several networks of it, one per training seed) on one
    chip preset (see the module docstring). The cost figures are those of the first network."""
    if instances < 2:
        raise ValueError(f"instances must be >= 2 for a confidence interval, got {instances}")
    nets = [work] if isinstance(work, Trained) else list(work)
    if not nets or len({n.workload.name for n in nets}) != 1 or len({n.seed for n in nets}) != len(nets):
        raise ValueError("run_cell needs networks of one workload with distinct training seeds")
    chip = load_chip(chip_name)
    x, y = nets[0].test_set(quick)
    name = nets[0].workload.name
    rows: list[list[float]] = []
    row_seeds: list[int] = []
    bits: dict[str, list[float]] = {}
    for net in nets:
        analog, _ = convert(net.model, chip)
        res = evaluate_settings(analog, (x, y), list(times.values()), repeats=instances,
                                seed=cell_seed(net.seed, name, chip_name), compensate=(True,),
                                progress=progress if progress is not None else False, workers=workers)[True]
        rows += res.accuracies.tolist()
        row_seeds += [net.seed] * instances
        for instance_seed in res.seeds[:enob_instances]:
            program(analog, seed=instance_seed)
            drift(analog, DAY)
            for layer in enob(analog, x[:256]):
                bits.setdefault(layer.name, []).append(layer.enob)
    example = torch.zeros(nets[0].workload.example_shape)
    digital = [accuracy(net.model, (x, y)) for net in nets]
    return BenchCell(name, chip_name, cell_seed(nets[0].seed, name, chip_name), len(y),
                     float(np.mean(digital)), dict(times), rows,
                     {k: float(np.mean(v)) for k, v in bits.items()},
                     cost_figures(nets[0].model, chip, example), row_seeds, digital)


def run_bench(workloads: Sequence[str] | None = None, chips: Sequence[str] | None = None, *,
              instances: int = 20, quick: bool = False, seed: int = 0, seeds: int = 1, workers: int = 1,
              cache_dir: str | Path | None = None, console: Console | None = None,
              on_cell: Callable[[BenchCell], None] | None = None) -> list[BenchCell]:
    """The suite: every workload on every chip (defaults: all workloads, :func:`default_chips`),
    ``seeds`` trained networks per workload (training seeds ``seed`` to ``seed + seeds - 1``).
    Chip names and every workload's data are checked before anything is trained (a missing
    data set raises :class:`aimc.evaluation.workloads.MissingData` at once); the networks are
    trained (or loaded) first, then each cell is evaluated
    on ``workers`` threads of one torch thread each; ``on_cell`` sees every cell as it
    finishes (e.g. to save it).

    Example:
        >>> cells = run_bench(["digits-cnn"], ["ibm-hermes-pcm"], quick=True)   # doctest: +SKIP
        >>> cells[0].at("1 day")                                                 # doctest: +SKIP
    """
    workloads = suite_workloads(quick) if workloads is None else list(workloads)
    if seeds < 1:
        raise ValueError(f"seeds must be >= 1, got {seeds}")
    chips = default_chips() if chips is None else list(chips)
    unknown = [w for w in workloads if w not in WORKLOADS]
    if unknown:
        raise ValueError(f"unknown workload(s) {', '.join(unknown)}; known: {', '.join(WORKLOADS)}")
    for name in chips:
        load_chip(name)  # a bad chip name fails before anything is trained
    data = {name: load_data(name) for name in workloads}  # so does a missing data set
    console = console or Console()
    cells = []
    with Progress(*progress_columns(), console=console, transient=True) as bar:
        nets = {name: [trained(name, seed=s, cache_dir=cache_dir, progress=bar, data=data[name])
                       for s in range(seed, seed + seeds)] for name in workloads}
        suite = bar.add_task("benchmark suite (workload × chip)", total=len(workloads) * len(chips))
        for name in workloads:
            for chip in chips:
                task = bar.add_task(f"{name} on {chip}", total=seeds * instances * len(TIMES))
                with torch_threads(1):
                    cell = run_cell(nets[name], chip, instances=instances, quick=quick,
                                    workers=workers, progress=_Sub(bar, task))
                cells.append(cell)
                if on_cell is not None:
                    on_cell(cell)
                bar.remove_task(task)
                bar.advance(suite)
    return cells


class _Sub:
    """A rich ``Progress`` seen by :func:`evaluate_settings` as its own bar (one task of ours)."""

    def __init__(self, bar: Progress, task) -> None:
        self.bar, self.task = bar, task

    def add_task(self, *_, **__):
        return self.task

    def advance(self, task, n: float = 1) -> None:
        self.bar.advance(task, n)

    def __bool__(self) -> bool:
        return True


def _interval(d: dict, scale: float, digits: int = 3) -> str:
    return f"{d['nominal'] * scale:.{digits}g} [{d['low'] * scale:.{digits}g}–{d['high'] * scale:.{digits}g}]"


def table_rows(cells: Sequence[BenchCell]) -> tuple[list[str], list[list[str]]]:
    """Header and rows of the suite's table (accuracies in %, 95 % CI half-widths)."""
    labels = list(cells[0].times) if cells else list(TIMES)
    header = ["workload", "chip", "digital %", *(f"{t} %" for t in labels), "ENOB per layer",
              "energy/inference µJ", "latency µs", "TOPS/W"]
    rows = []
    for c in cells:
        acc = [f"{100 * m:.2f} ± {100 * h:.2f}" for m, h in (c.at(t) for t in labels)]
        dm, dh = c.digital()
        digital = f"{100 * dm:.2f}" + (f" ± {100 * dh:.2f}" if len(c.training_seeds) > 1 else "")
        rows.append([c.workload, c.chip, digital, *acc,
                     " · ".join(f"{b:.1f}" for b in c.enob.values()) or "–",
                     _interval(c.cost["energy_j"], 1e6), _interval(c.cost["latency_s"], 1e6),
                     _interval(c.cost["tops_per_w"], 1.0)])
    return header, rows


def rich_table(cells: Sequence[BenchCell], title: str) -> Table:
    header, rows = table_rows(cells)
    table = Table(title=title)
    for i, name in enumerate(header):
        table.add_column(name, justify="left" if i < 2 else "right")
    for row in rows:
        table.add_row(*row)
    return table


def markdown_table(cells: Sequence[BenchCell]) -> str:
    header, rows = table_rows(cells)
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in rows])
