"""``aimc lifetime``: a deployed network through a chip's life, as one call.

:func:`run_lifetime` trains the demo CNN on digits (as ``aimc demo`` does; or takes any digital
model and test data), converts it for the chip, runs :func:`aimc.evaluation.simulate_lifetime`
with a policy and a temperature profile, prints a table (accuracy over time, refreshes, energy
overhead, downtime, worn-out devices) and writes ``lifetime.json`` (every number) and
``lifetime.png`` (accuracy with refresh events marked) to ``out_dir``. The checkpoint lives in
``out_dir/checkpoint``: a run that was stopped resumes there when started again with the same
arguments.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from rich.console import Console
from rich.table import Table
from torch import nn

from .chips import ChipSpec, load_chip
from .demo import torch_threads, train_demo_model
from .devices.temperature import parse_profile
from .evaluation import accuracy
from .evaluation.lifetime import YEAR, LifetimeResult, get_policy, plot_lifetime, simulate_lifetime
from .nn import convert


def format_time(t: float) -> str:
    """``86400`` → ``"1 d"``: the largest unit that gives a number >= 1."""
    for unit, s in (("y", 365 * 86400.0), ("mo", 30 * 86400.0), ("d", 86400.0), ("h", 3600.0), ("min", 60.0)):
        if t >= s:
            return f"{t / s:.3g} {unit}"
    return f"{t:.3g} s"


def run_lifetime(
    chip: str | ChipSpec = "ibm-hermes-pcm",
    policy: str = "threshold",
    temperature: str = "25C",
    duration_s: float = YEAR,
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
    see :func:`aimc.devices.temperature.parse_profile`) for ``duration_s``.

    Example:
        >>> res = run_lifetime("ibm-hermes-pcm", "threshold", "daily:25-85C", 365 * 86400)  # doctest: +SKIP
    """
    console = console or Console()
    spec = chip if isinstance(chip, ChipSpec) else load_chip(chip)
    pol = get_policy(policy)
    profile = parse_profile(temperature) if isinstance(temperature, str) else temperature
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    with torch_threads(threads):
        if model is None:
            from .data import digits

            split = digits(seed=seed)
            model = train_demo_model(split, epochs=epochs, seed=seed)
            data = (split.x_test, split.y_test)
        elif data is None:
            raise ValueError("a model of your own needs its test data (x, y)")
        digital = accuracy(model, data)
        analog, _ = convert(model, spec)
        ckpt = out / "checkpoint"
        if not resume and (ckpt / "lifetime.json").exists():
            (ckpt / "lifetime.json").unlink()
        result = simulate_lifetime(analog, data, spec, pol, profile, duration_s, times=times,
                                   checkpoints=checkpoints, repeats=repeats, seed=seed, checkpoint_dir=ckpt)
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
