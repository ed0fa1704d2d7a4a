"""The main job (``aimc demo``): train a CNN on digits, put it on a PCM chip, watch it age.

Steps: train the demo CNN on scikit-learn's digits (fixed split, fixed seed) → convert it with a
chip preset → for ``repeats`` chip instances, program and read it at 1 s, 1 hour, 1 day, 1 month
and 1 year after programming, with and without global drift compensation → print a table, save a
PNG plot and a JSON of all numbers.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import torch
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from torch import nn

from .calibration import GlobalDriftCompensation
from .chips import DEFAULT_CHIP, ChipSpec, load_chip
from .data import Split, digits
from .evaluation import accuracy, evaluate_over_time, plot_accuracy_over_time
from .models import digits_cnn
from .nn import convert

DAY = 86400.0
TIMES: dict[str, float] = {
    "1 s": 1.0,
    "1 hour": 3600.0,
    "1 day": DAY,
    "1 month": 30 * DAY,
    "1 year": 365 * DAY,
}


def train_digital(
    model: nn.Module, data: Split, epochs: int = 30, seed: int = 0, progress: Progress | None = None
) -> nn.Module:
    """Plain digital training (Adam, one-cycle learning rate, cross-entropy, batch 64) with
    seeded shuffling."""
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
    loss_fn = nn.CrossEntropyLoss()
    n = len(data.x_train)
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=2e-3, total_steps=epochs * -(-n // 64)
    )
    task = progress.add_task("training (digital)", total=epochs) if progress else None
    model.train()
    for _ in range(epochs):
        order = torch.randperm(n, generator=generator)
        for start in range(0, n, 64):
            idx = order[start:start + 64]
            optimizer.zero_grad()
            loss_fn(model(data.x_train[idx]), data.y_train[idx]).backward()
            optimizer.step()
            schedule.step()
        if task is not None:
            progress.advance(task)
    model.eval()
    return model


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


def run_demo(
    out_dir: str | Path = "aimc-out",
    chip: str = DEFAULT_CHIP,
    repeats: int = 10,
    epochs: int = 30,
    seed: int = 0,
    console: Console | None = None,
) -> dict:
    """Run the demo; returns (and writes to ``out_dir/results.json``) every number it prints."""
    console = console or Console()
    start = time.perf_counter()
    spec = load_chip(chip)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    data = digits(seed=seed)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        model = train_demo_model(data, epochs=epochs, seed=seed, progress=progress)
        test = (data.x_test, data.y_test)
        digital = accuracy(model, test)
        analog, report = convert(model, with_gdc(spec))
        results = {
            label: evaluate_over_time(analog, test, list(TIMES.values()), repeats=repeats,
                                      seed=seed, compensate=compensate, progress=progress)
            for label, compensate in (("no compensation", False), ("GDC", True))
        }
    console.print(report)
    table = Table(title=f"Demo CNN on digits, chip {spec.name}: test accuracy (%), "
                        f"mean ± std over {repeats} chip instances")
    table.add_column("time after programming")
    table.add_column("digital", justify="right")
    for label in results:
        table.add_column(f"analog, {label}", justify="right")
    for k, name in enumerate(TIMES):
        cells = [f"{100 * r.mean[k]:.2f} ± {100 * r.std[k]:.2f}" for r in results.values()]
        table.add_row(name, f"{100 * digital:.2f}", *cells)
    console.print(table)

    plot = plot_accuracy_over_time(results, out / "accuracy_over_time.png", digital=digital,
                                   title=f"Demo CNN on {spec.name}")
    summary = {
        "chip": spec.model_dump(mode="json"),
        "data": {"name": "sklearn digits", "train": len(data.x_train), "test": len(data.x_test)},
        "settings": {"repeats": repeats, "epochs": epochs, "seed": seed},
        "digital_accuracy": digital,
        "times": TIMES,
        "analog": {label: r.to_dict() for label, r in results.items()},
        "conversion": [vars(r) for r in report.layers],
        "wall_time_s": time.perf_counter() - start,
    }
    (out / "results.json").write_text(json.dumps(summary, indent=2))
    console.print(f"wrote {plot} and {out / 'results.json'} in {summary['wall_time_s']:.1f} s")
    return summary
