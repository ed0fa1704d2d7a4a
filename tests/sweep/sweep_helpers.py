"""Shared pieces of the sweep tests: a tiny grid (an MLP on digits, few instances, two times),
row comparison, and the `aimc` command in a child process."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[2]

TINY = {
    "name": "tiny",
    "seed": 7,
    "chips": ["ibm-hermes-pcm", "neurram"],
    "models": ["digits-mlp"],
    "params": {"adc.bits": [2, 8]},
    "times": [1, 86400],
    "repeats": 3,
    "epochs": 3,
    "test_samples": 60,
}


def tiny_grid(**changes):
    from aimc.sweep import parse_grid

    return parse_grid({**TINY, **changes})


NUMBERS = ("accuracy_mean", "accuracy_std", "n", "ci_low", "ci_high", "accuracies", "digital_accuracy",
           "energy_j", "energy_low_j", "energy_high_j", "latency_s", "tops_per_w", "seed", "chip_spec",
           "params")


def by_cell(rows: list[dict]) -> dict:
    """Rows keyed by (cell, time, setting), only the columns that must not depend on who ran them."""
    return {(r["cell_key"], r["time_s"], r["compensate"]): {k: r[k] for k in NUMBERS} for r in rows}


def aimc_cli(*args: str, env: dict | None = None, **kwargs) -> subprocess.Popen:
    """``aimc ARGS`` in a child process, importing this checkout's aimc, torch on one thread."""
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "COLUMNS": "200",
                **(env or {})}
    return subprocess.Popen([sys.executable, "-c", "from aimc.cli import app; app()", *args], cwd=ROOT,
                            env=full_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            **kwargs)
