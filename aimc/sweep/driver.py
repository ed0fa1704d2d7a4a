"""The sweep driver: grid → pending cells → executor → store, with a progress bar and ETA."""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.progress import Progress

from ..evaluation.over_time import progress_columns
from .executors import Executor, make_executor
from .grid import Grid, load_grid
from .store import Store


@dataclass
class SweepSummary:
    """What a call of :func:`run_sweep` did: cells computed now, cells found stored (skipped),
    cells a concurrent writer stored first (computed here, not written), and wall time."""

    sweep: str
    cells: int
    computed: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    lost_race: list[str] = field(default_factory=list)
    rows_written: int = 0
    wall_s: float = 0.0


def run_sweep(
    grid: Grid | str | Path,
    store: Store | str | Path,
    executor: Executor | str = "inprocess",
    *,
    workers: int | None = None,
    address: str | None = None,
    cache_dir: str | Path | None = None,
    shuffle: int | None = None,
    progress: bool = True,
    console: Console | None = None,
) -> SweepSummary:
    """Run every cell of ``grid`` not yet in ``store``; each cell's rows are written (one
    transaction) as soon as it finishes, so an interrupted sweep resumes where it stopped.

    Args:
        grid: a :class:`Grid` or the path of a grid YAML file.
        store: a :class:`Store` or the path of its SQLite file (created when missing).
        executor: ``inprocess``, ``processes``, ``ray`` or an :class:`Executor`.
        workers: worker processes / Ray CPUs (default: the cores of this machine).
        address: Ray cluster to join (``HOST:PORT``); default a local Ray started on demand.
        cache_dir: where trained workloads are cached (default ``~/.cache/aimc/sweep-models``).
        shuffle: submit the cells in an order shuffled with this seed (the numbers do not change;
            a test checks).

    The ``processes`` executor starts its workers with *spawn*: each worker imports the calling
    script's main module again, so a script that calls ``run_sweep(..., "processes")`` must do
    it under ``if __name__ == "__main__":`` (else every worker would start the sweep anew and
    Python stops with a RuntimeError about the bootstrapping phase). The ``aimc sweep`` command
    and notebooks need nothing.

    Example:
        >>> from aimc.sweep import run_sweep
        >>> if __name__ == "__main__":  # doctest: +SKIP
        ...     run_sweep("examples/sweep-digits.yaml", "results.db", "processes", workers=2)
    """
    from .workloads import trained_state

    start = time.perf_counter()
    grid = grid if isinstance(grid, Grid) else load_grid(grid)
    store = store if isinstance(store, Store) else Store(store)
    cells = grid.cells()
    keys = [c.key for c in cells]
    if len(set(keys)) != len(keys):
        raise ValueError("the grid lists the same cell twice (repeated chip, model or parameter value)")
    store.register(grid)
    done = store.done(grid.name)
    summary = SweepSummary(grid.name, len(cells), skipped=[k for k in keys if k in done])
    pending = [c for c in cells if c.key not in done]
    if shuffle is not None:
        random.Random(shuffle).shuffle(pending)
    console = console or Console()
    if not pending:
        summary.wall_s = time.perf_counter() - start
        return summary
    states = {k: trained_state(*k, cache_dir) for k in dict.fromkeys((c.model, c.epochs, c.train_seed)
                                                                     for c in pending)}
    by_key = {c.key: c for c in pending}
    tasks = [(c.to_dict(), states[(c.model, c.epochs, c.train_seed)]) for c in pending]
    own = not isinstance(executor, Executor)
    runner = make_executor(executor, workers, address) if own else executor
    bar = Progress(*progress_columns(), console=console, transient=True, disable=not progress)
    try:
        with bar:
            task = bar.add_task(escape(f"sweep {grid.name} ({runner.describe()})"), total=len(pending))
            for key, rows in runner.run(tasks):
                if store.write_cell(grid.name, by_key[key], rows):
                    summary.computed.append(key)
                    summary.rows_written += len(rows)
                else:
                    summary.lost_race.append(key)
                bar.advance(task)
    finally:
        if own:
            runner.close()
    summary.wall_s = time.perf_counter() - start
    return summary
