"""Plots of evaluation results, saved as PNG files.

Each plot draws on its own :class:`matplotlib.figure.Figure` (no pyplot state, no backend
switch): ``import aimc`` and a plot leave the caller's matplotlib backend and open figures as
they were. matplotlib is imported inside the functions, so ``import aimc`` does not load it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..calibration import VerifyHistory
    from .over_time import OverTimeResult


def _figure(figsize: tuple[float, float]):
    """A figure with one axes, outside pyplot (saved with the Agg canvas, whatever the backend)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize, dpi=120)
    return fig, fig.add_subplot()


def _finish(fig, ax, path: str | Path) -> Path:
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path)
    return path


def plot_accuracy_over_time(
    results: dict[str, OverTimeResult],
    path: str | Path,
    digital: float | None = None,
    title: str = "Analog accuracy over time",
) -> Path:
    """Accuracy (mean ± std) versus time after programming, log time axis; saved as PNG."""
    fig, ax = _figure((6.4, 4.2))
    for label, res in results.items():
        ax.errorbar(res.times, 100 * res.mean, yerr=100 * res.std, marker="o", capsize=3, label=label)
    if digital is not None:
        ax.axhline(100 * digital, color="k", ls="--", lw=1, label="digital")
    ax.set_xscale("log")
    ax.set_xlabel("time after programming (s)")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title(title)
    return _finish(fig, ax, path)


def plot_program_verify(history: VerifyHistory, path: str | Path, title: str = "program-and-verify") -> Path:
    """RMS conductance error versus program-and-verify iteration (0 = one-shot); saved as PNG."""
    fig, ax = _figure((5.6, 3.8))
    ax.semilogy(range(len(history.rms_error)), [1e6 * e for e in history.rms_error], marker="o",
                label="rms error")
    ax.axhline(1e6 * history.rms_error[0], color="gray", ls="--", lw=1, label="one-shot")
    ax.set_xlabel("iteration (0 = one-shot programming)")
    ax.set_ylabel("rms conductance error (uS)")
    ax.set_title(title)
    return _finish(fig, ax, path)
