"""Plots are PNG files drawn on their own Figure: no pyplot figure is left open, the backend is
untouched (``tests/test_imports.py`` checks the backend in a fresh interpreter)."""

import matplotlib
import numpy as np

from aimc.calibration import VerifyHistory
from aimc.evaluation import plot_accuracy_over_time, plot_program_verify
from aimc.evaluation.over_time import OverTimeResult

PNG = b"\x89PNG\r\n\x1a\n"


def test_plots_are_png_files_and_leave_pyplot_alone(tmp_path):
    import matplotlib.pyplot as plt

    backend, figures = matplotlib.get_backend(), plt.get_fignums()
    times = [1.0, 3600.0, 86400.0]
    result = OverTimeResult(times, np.array([[0.9, 0.85, 0.8], [0.92, 0.86, 0.79]]), False, [0, 1])
    path = plot_accuracy_over_time({"no compensation": result}, tmp_path / "acc.png", digital=0.95)
    assert path == tmp_path / "acc.png" and path.read_bytes()[:8] == PNG
    pv = plot_program_verify(VerifyHistory(rms_error=[4e-6, 2e-6, 1e-6]), tmp_path / "pv.png")
    assert pv.read_bytes()[:8] == PNG and pv.stat().st_size > 5_000
    assert matplotlib.get_backend() == backend and plt.get_fignums() == figures
