"""IR-drop solvers: speed and accuracy against ngspice and a sparse-LU reference.

Arrays of conductances uniform in 1-25 uS, 1 ohm per row and column wire segment, passive cells
(0T1R), and one batch of 256 input vectors uniform in [-0.2, 0.2] V, all from seed 0:

1. ngspice operating point of one input vector for 64x64 and 128x128 (wall time of the whole
   ngspice run, and aimc's error against it);
2. for 128x128 and 256x256: the aimc solver in exact (float64) and fast (float32 transfer
   sweeps) modes — its one-off setup per programmed state (elimination + transfer matrix), the
   time per input vector for the batch of 256 without and with the setup shared over that
   batch — and a plain scipy sparse LU factored once, against the float64 sparse-LU reference
   (max |error| / max |reference| over the first 16 vectors).

Targets (issue 4): exact (<= 1e-6 error) <= 1 ms per vector at 128x128 and <= 3 ms at 256x256;
fast <= 1e-4 error and <= 1 ms per vector at 256x256. Anchors on this kind of machine: ngspice
~6 s (64x64) and ~128 s (128x128); CrossSim 3.2 iterative 1.6-3.2 ms per vector at 128x128 and
14.5-78 ms at 256x256 at ~1e-3 error; scipy sparse LU factored once 3.1 ms and 12-18 ms.

Run: ``python benchmarks/bench_irdrop.py [--no-ngspice]``.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
import scipy.sparse.linalg as spla
import torch
from rich.console import Console
from rich.table import Table

from aimc.array.ir_drop import CrossbarSolver, IRDrop, _assemble, relative_error, solve_nodal, to_spice

CIRCUIT = IRDrop(mode="exact", r_row=1.0, r_col=1.0, cell="0T1R")
BATCH = 256


def problem(size: int):
    rng = np.random.default_rng(0)
    g = rng.uniform(1e-6, 25e-6, (size, size))
    v = rng.uniform(-0.2, 0.2, (BATCH, size))
    return g, v


def run_ngspice(g, v) -> tuple[np.ndarray, float]:
    with tempfile.TemporaryDirectory() as folder:
        Path(folder, "array.cir").write_text(to_spice(g, v, CIRCUIT))
        start = time.perf_counter()
        subprocess.run(["ngspice", "-b", "array.cir"], cwd=folder, check=True, capture_output=True)
        elapsed = time.perf_counter() - start
        currents = np.loadtxt(Path(folder, "currents.txt"))[1::2]
    return currents, elapsed


def scipy_lu_per_vector(g, v) -> float:
    """A plain sparse LU of the nodal matrix, factored once, then solved for the batch."""
    k, row, col, _, g_in, size = _assemble(g, CIRCUIT)
    gflat = g.ravel()
    a, b = row.ravel(), col.ravel()
    import scipy.sparse as sp
    cell = sp.csr_matrix((np.concatenate([gflat, gflat, -gflat, -gflat]),
                          (np.concatenate([a, b, a, b]), np.concatenate([a, b, b, a]))), shape=(size, size))
    lu = spla.splu((k + cell).tocsc())
    rhs = np.zeros((size, len(v)))
    rhs[row[:, 0], :] = g_in * v.T
    start = time.perf_counter()
    lu.solve(rhs)
    return (time.perf_counter() - start) / len(v)


def aimc_solver(g, v, dtype):
    start = time.perf_counter()
    solver = CrossbarSolver(torch.tensor(g), CIRCUIT, dtype=dtype)
    setup = time.perf_counter() - start
    vt = torch.tensor(v, dtype=dtype)
    start = time.perf_counter()
    currents = solver.currents(vt)
    apply = time.perf_counter() - start
    return currents.double().numpy(), setup, apply / len(v)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-ngspice", action="store_true", help="skip the ngspice runs")
    args = parser.parse_args()
    console = Console()
    if not args.no_ngspice and shutil.which("ngspice"):
        table = Table(title="ngspice operating point (one input vector)")
        for column in ("array", "ngspice (s)", "aimc exact setup + solve (s)", "aimc vs ngspice"):
            table.add_column(column)
        for size in (64, 128):
            g, v = problem(size)
            ref, t_spice = run_ngspice(g, v[0])
            start = time.perf_counter()
            ours = CrossbarSolver(torch.tensor(g), CIRCUIT).currents(torch.tensor(v[:1]))[0]
            t_ours = time.perf_counter() - start
            err = relative_error(ours, ref)
            table.add_row(f"{size}x{size}", f"{t_spice:.1f}", f"{t_ours:.2f}", f"{err:.1e}")
        console.print(table)
    table = Table(title=f"per input vector, batch of {BATCH} (1 ohm wires, 1-25 uS, 0T1R)")
    for column in ("array", "solver", "setup (s)", "ms/vector", "ms/vector incl. setup", "error",
                   "target"):
        table.add_column(column)
    for size in (128, 256):
        g, v = problem(size)
        reference = solve_nodal(g, v[:16], CIRCUIT)
        ideal_error = relative_error(v[:16] @ g, reference)
        for mode, dtype in (("exact", torch.float64), ("fast", torch.float32)):
            currents, setup, per_vector = aimc_solver(g, v, dtype)
            err = relative_error(currents[:16], reference)
            target = {("exact", 128): "<= 1 ms, 1e-6", ("exact", 256): "<= 3 ms, 1e-6",
                      ("fast", 256): "<= 1 ms, 1e-4"}.get((mode, size), "-")
            table.add_row(f"{size}x{size}", f"aimc {mode}", f"{setup:.2f}", f"{1e3 * per_vector:.4f}",
                          f"{1e3 * (per_vector + setup / BATCH):.2f}", f"{err:.1e}", target)
        table.add_row(f"{size}x{size}", "scipy splu, factored once", "-",
                      f"{1e3 * scipy_lu_per_vector(g, v):.2f}", "-", "reference", "-")
        table.add_row(f"{size}x{size}", "ideal wires (I = V G)", "-", "-", "-", f"{ideal_error:.1e}", "-")
    console.print(table)


if __name__ == "__main__":
    main()
