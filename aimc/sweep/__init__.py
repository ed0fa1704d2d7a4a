"""Sweeps: a YAML grid over chips, ChipSpec fields and workloads, run by an executor (in-process,
local processes or Ray), stored cell by cell in one SQLite file, and reported as one HTML page.

- ``grid``: :class:`Grid`, :func:`load_grid`, cells with deterministic seeds;
- ``runner``: :func:`run_cell`, one cell → rows (accuracy over chip instances and times, cost);
- ``executors``: ``inprocess``, ``processes``, ``ray`` behind one interface;
- ``store``: :class:`Store`, the SQLite results store (all-or-nothing cells, resume);
- ``driver``: :func:`run_sweep`, the loop that ties them together;
- ``report``: :func:`write_report`, the self-contained HTML report of a store.

Example:
    >>> from aimc.sweep import Store, run_sweep                       # doctest: +SKIP
    >>> run_sweep("examples/sweep-digits.yaml", "results.db", "ray")  # doctest: +SKIP
    >>> Store("results.db").rows()[0]["accuracy_mean"]                # doctest: +SKIP
"""

from .driver import SweepSummary, run_sweep
from .executors import EXECUTORS, Executor, InProcess, Processes, Ray, make_executor
from .grid import WORKLOADS, Cell, Grid, GridError, load_grid, parse_grid
from .store import Store


def write_report(store, out, sweep=None):
    """The HTML report of ``store`` (see :mod:`aimc.sweep.report`)."""
    from .report import write_report as write

    return write(store, out, sweep)


__all__ = ["EXECUTORS", "WORKLOADS", "Cell", "Executor", "Grid", "GridError", "InProcess", "Processes",
           "Ray", "Store", "SweepSummary", "load_grid", "make_executor", "parse_grid", "run_sweep",
           "write_report"]
