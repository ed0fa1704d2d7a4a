"""Plots of evaluation results (matplotlib, headless)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from ..calibration import VerifyHistory  # noqa: E402
from .over_time import OverTimeResult  # noqa: E402


def _finish(fig, ax, path: str | Path) -> Path:
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path)
    plt.close(fig)
    return path


def plot_accuracy_over_time(
    results: dict[str, OverTimeResult],
    path: str | Path,
    digital: float | None = None,
    title: str = "Analog accuracy over time",
) -> Path:
    """Accuracy (mean ± std) versus time after programming, log time axis; saved as PNG."""
    fig, ax = plt.subplots(figsize=(6.4, 4.2), dpi=120)
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
    fig, ax = plt.subplots(figsize=(5.6, 3.8), dpi=120)
    ax.semilogy(range(len(history.rms_error)), [1e6 * e for e in history.rms_error], marker="o",
                label="rms error")
    ax.axhline(1e6 * history.rms_error[0], color="gray", ls="--", lw=1, label="one-shot")
    ax.set_xlabel("iteration (0 = one-shot programming)")
    ax.set_ylabel("rms conductance error (uS)")
    ax.set_title(title)
    return _finish(fig, ax, path)
