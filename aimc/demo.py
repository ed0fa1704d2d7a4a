"""The main job (``aimc demo``): train a CNN on digits, put it on a PCM chip, watch it age; and
``aimc lifetime`` (:func:`run_lifetime`): the same network through a year of drift, heat,
calibration and refresh.

Steps: train the demo CNN on scikit-learn's digits (fixed split, fixed seed) → convert it with a
chip preset → for ``repeats`` chip instances, program and read it at 1 s, 1 hour, 1 day, 1 month
and 1 year after programming, with and without global drift compensation → print a table, save a
PNG plot and a JSON of all numbers.

Threads: the demo runs torch on one thread by default. Its tensors are small (batches of 64
images of 8x8 pixels), so a second thread gains little when the machine is quiet; when it is
busy, torch's OpenMP threads spin at the barrier of every parallel operation waiting for a
thread the kernel has descheduled, and the demo took 110-150 s instead of 7 s on a loaded
2-core machine (``benchmarks/bench_demo.py`` measures both). One thread also makes the printed
table independent of the machine's core count.

Workers: the chip instances are spread over ``workers`` threads (default: two where two cores
are free to this process), each reading its own copy of the model with one torch thread
(:func:`aimc.evaluation.evaluate_settings`); the instances are seeded alone, so the table is the
same for any number of workers, and the threads never wait for each other as OpenMP's do.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from rich.console import Console
from rich.progress import Progress
from rich.table import Table
from torch import nn

from ._threads import torch_threads
from .calibration import GlobalDriftCompensation
from .chips import DEFAULT_CHIP, ChipSpec, load_chip
from .data import Split, digits
from .evaluation import accuracy, evaluate_settings, plot_accuracy_over_time
from .evaluation.over_time import DAY, TIMES, progress_columns  # noqa: F401  (aimc.demo.DAY/TIMES: used by scripts)
from .models import digits_cnn
from .nn import convert
from .training.digital import train_digital


def train_demo_model(
    data: Split, epochs: int = 30, seed: int = 0, progress: Progress | None = None
) -> nn.Module:
    """The demo CNN trained digitally; weight initialisation seeded without touching the
    caller's global RNG state."""
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        return train_digital(digits_cnn(), data, epochs=epochs, seed=seed, progress=progress)


def trained_demo(seed: int = 0, epochs: int = 30) -> tuple[nn.Module, tuple[torch.Tensor, torch.Tensor]]:
    """The demo CNN trained on digits and the test set ``(x, y)``; prints its digital accuracy
    (a starting point for studies that compare chips on the demo network)."""
    data = digits(seed=seed)
    model = train_demo_model(data, epochs=epochs, seed=seed)
    test = (data.x_test, data.y_test)
    print(f"digital accuracy: {100 * accuracy(model, test):.2f} %\n")
    return model, test


def with_gdc(spec: ChipSpec) -> ChipSpec:
    """The chip itself if it has global drift compensation, else a copy with it added, so that
    the demo can show both columns for every chip."""
    if isinstance(spec.compensation, GlobalDriftCompensation):
        return spec
    return spec.model_copy(update={"compensation": GlobalDriftCompensation()})


def table_rows(summary: dict) -> list[list[str]]:
    """The demo table's rows (time, digital, one cell per analog column) from a summary of
    :func:`run_demo`: the printed table and the README's table are both made of these cells."""
    digital = f"{100 * summary['digital_accuracy']:.2f}"
    rows = []
    for k, name in enumerate(summary["times"]):
        cells = [f"{100 * r['accuracy_mean'][k]:.2f} ± {100 * r['accuracy_std'][k]:.2f}"
                 for r in summary["analog"].values()]
        rows.append([name, digital, *cells])
    return rows


def markdown_table(summary: dict) -> str:
    """The demo table as the README shows it (Markdown)."""
    header = ["time after programming", "digital", *(f"analog, {label}" for label in summary["analog"])]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in table_rows(summary)]
    return "\n".join(lines)


def run_demo(
    out_dir: str | Path = "aimc-out",
    chip: str = DEFAULT_CHIP,
    repeats: int = 10,
    epochs: int = 30,
    seed: int = 0,
    console: Console | None = None,
    threads: int | None = 1,
    workers: int | None = None,
) -> dict:
    """Run the demo; returns (and writes to ``out_dir/results.json``) every number it prints.
    ``threads``: torch threads during the run (``None``: as set by the caller); see the module
    docstring for why the default is 1. ``workers``: threads reading chip instances (``None``:
    two when two cores are available, else one); the numbers do not depend on it."""
    if workers is None:
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
        workers = min(2, cores)
    with torch_threads(threads):
        return _run_demo(out_dir, chip, repeats, epochs, seed, console or Console(), workers)


def _run_demo(out_dir: str | Path, chip: str, repeats: int, epochs: int, seed: int, console: Console,
              workers: int = 1) -> dict:
    start = time.perf_counter()
    spec = load_chip(chip)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    data = digits(seed=seed)
    with Progress(*progress_columns(eta=False), console=console, transient=True) as progress:
        model = train_demo_model(data, epochs=epochs, seed=seed, progress=progress)
        test = (data.x_test, data.y_test)
        digital = accuracy(model, test)
        analog, report = convert(model, with_gdc(spec))
        # both settings read the same chip instances (programmed once): the numbers of two
        # separate evaluate_over_time runs
        by_setting = evaluate_settings(analog, test, list(TIMES.values()), repeats=repeats, seed=seed,
                                       compensate=(False, True), progress=progress, workers=workers)
        results = {"no compensation": by_setting[False], "GDC": by_setting[True]}
    console.print(report)
    plot = plot_accuracy_over_time(results, out / "accuracy_over_time.png", digital=digital,
                                   title=f"Demo CNN on {spec.name}")
    summary = {
        "chip": spec.model_dump(mode="json"),
        "data": {"name": "sklearn digits", "train": len(data.x_train), "test": len(data.x_test)},
        "settings": {"repeats": repeats, "epochs": epochs, "seed": seed, "workers": workers},
        "digital_accuracy": digital,
        "times": TIMES,
        "analog": {label: r.to_dict() for label, r in results.items()},
        "conversion": [vars(r) for r in report.layers],
        "wall_time_s": time.perf_counter() - start,
    }
    table = Table(title=f"Demo CNN on digits, chip {spec.name}: test accuracy (%), "
                        f"mean ± std over {repeats} chip instances")
    table.add_column("time after programming")
    table.add_column("digital", justify="right")
    for label in results:
        table.add_column(f"analog, {label}", justify="right")
    for row in table_rows(summary):
        table.add_row(*row)
    console.print(table)
    (out / "results.json").write_text(json.dumps(summary, indent=2))
    console.print(f"wrote {plot} and {out / 'results.json'} in {summary['wall_time_s']:.1f} s")
    return summary


# ------------------------------------------------------------------ aimc lifetime
# ``aimc lifetime``: a deployed network through a chip's life, as one call. run_lifetime trains
# the demo CNN (or takes any digital model and its test data), converts it for the chip, runs
# aimc.evaluation.simulate_lifetime with a policy and a temperature profile, prints a table and
# writes lifetime.json (every number) and lifetime.png (accuracy with refresh events marked) to
# out_dir; the checkpoint lives in out_dir/checkpoint, so a stopped run resumes there when started
# again with the same arguments.

if TYPE_CHECKING:
    from .evaluation.lifetime import LifetimePolicy, LifetimeResult


def format_time(t: float) -> str:
    """``86400`` → ``"1 d"``: the largest unit that gives a number >= 1."""
    for unit, s in (("y", 365 * 86400.0), ("mo", 30 * 86400.0), ("d", 86400.0), ("h", 3600.0), ("min", 60.0)):
        if t >= s:
            return f"{t / s:.3g} {unit}"
    return f"{t:.3g} s"


def run_lifetime(
    chip: str | ChipSpec = "ibm-hermes-pcm",
    policy: str | LifetimePolicy = "threshold",
    temperature: str | None = None,
    duration_s: float = 365 * 86400.0,
    *,
    out_dir: str | Path = "aimc-lifetime",
    checkpoints: int = 20,
    times: list[float] | None = None,
    repeats: int = 1,
    seed: int = 0,
    epochs: int = 30,
    model: nn.Module | None = None,
    data: tuple[torch.Tensor, torch.Tensor] | None = None,
    console: Console | None = None,
    threads: int | None = 1,
    resume: bool = True,
) -> LifetimeResult:
    """Simulate ``model`` (default: the demo CNN, trained on digits with ``seed``) on ``chip``
    under ``policy`` and the ``temperature`` profile (``"25C"``, ``"daily:25-85C"``, a CSV path;
    see :func:`aimc.devices.temperature.parse_profile`; default: constant at the chip device's own
    ``temperature_k``, 300 K for the presets, so the numbers match a run without a profile) for
    ``duration_s``. A temperature table must cover ``duration_s`` (checked before training).
    ``resume=False``: ignore (delete) a checkpoint in ``out_dir``.

    Example:
        >>> res = run_lifetime("ibm-hermes-pcm", "threshold", "daily:25-85C", 365 * 86400)  # doctest: +SKIP
    """
    from .devices.temperature import ConstantTemperature, parse_profile
    from .evaluation.lifetime import get_policy, plot_lifetime, simulate_lifetime

    console = console or Console()
    spec = chip if isinstance(chip, ChipSpec) else load_chip(chip)
    pol = get_policy(policy)
    if temperature is None:
        profile = ConstantTemperature(kelvin=spec.device.temperature_k)
    else:
        profile = parse_profile(temperature) if isinstance(temperature, str) else temperature
    profile.check_covers(duration_s)  # before the training: a short table fails fast
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    with torch_threads(threads):
        trained_epochs = None
        if model is None:
            trained_epochs = epochs
            split = digits(seed=seed)
            model = train_demo_model(split, epochs=epochs, seed=seed)
            data = (split.x_test, split.y_test)
        elif data is None:
            raise ValueError("a model of your own needs its test data (x, y)")
        digital = accuracy(model, data)
        analog, _ = convert(model, spec)
        ckpt = out / "checkpoint"
        result = simulate_lifetime(analog, data, spec, pol, profile, duration_s, times=times,
                                   checkpoints=checkpoints, repeats=repeats, seed=seed, checkpoint_dir=ckpt,
                                   training_epochs=trained_epochs, fresh=not resume)
    summary = result.to_dict() | {"digital_accuracy": digital}
    (out / "lifetime.json").write_text(json.dumps(summary, indent=2))
    plot = plot_lifetime(result, out / "lifetime.png",
                         title=f"{spec.name}, policy {pol.name}, {profile.label}")
    table = Table(title=f"{spec.name}, policy {pol.name}, {profile.label}: test accuracy (%), mean ± s.e. "
                        f"over {repeats} chip instance{'s' if repeats > 1 else ''} "
                        f"(digital {100 * digital:.2f})")
    for column in ("time", "temperature", "accuracy"):
        table.add_column(column, justify="right")
    for t, temp, m, s in zip(result.times, result.temperatures_k, result.mean, result.sem, strict=True):
        table.add_row(format_time(t), f"{temp - 273.15:.1f} °C", f"{100 * m:.2f} ± {100 * s:.2f}")
    console.print(table)
    refreshes = sum(len(r) for r in result.refreshes) / repeats
    energy = float(result.energy_total_j().mean())
    console.print(f"refreshes per instance: {refreshes:g}; energy overhead: {energy:.3g} J over "
                  f"{format_time(duration_s)}; downtime: {sum(result.downtime_s) / repeats:.3g} s; "
                  f"worn-out devices: {sum(result.worn) / repeats:g}")
    console.print(f"wrote {plot} and {out / 'lifetime.json'} in {result.wall_time_s:.1f} s")
    return result
