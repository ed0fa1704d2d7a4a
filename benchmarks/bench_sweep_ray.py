"""Scale-out of `aimc sweep --executor ray`: a 16-cell sweep on 1 and on 2 Ray workers.

Cells: the demo CNN on scikit-learn's digits, 2 chips (ibm-hermes-pcm, neurram) x ADC bits
(4, 6, 8, 10) x array rows (128, 256), 8 chip instances read at 3 times each. Each run starts a
local Ray with 1 or 2 CPUs (torch pinned to one thread per worker) and writes a store of its own.
Two wall times per run: the sweep on a running Ray whose workers have started up (imported
torch and aimc and loaded its compiled kernels, `aimc.sweep.runner.warm_up`: about 1.7 s once
per worker, as long as a cell here), and the whole command (Ray start and worker start-up
included, as `aimc sweep --executor ray`). The workload is
trained before the clocks start (cached). Prints the wall times, the ratios (goal >= 1.7 for the
sweep) and the machine's load average before and after each run (another process on a 2-core
machine slows the 2-worker run).

    python benchmarks/bench_sweep_ray.py
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import torch

from aimc.sweep import Ray, Store, parse_grid, run_sweep
from aimc.sweep.workloads import trained_state

GRID = {
    "name": "bench-ray",
    "chips": ["ibm-hermes-pcm", "neurram"],
    "models": ["digits-cnn"],
    "params": {"adc.bits": [4, 6, 8, 10], "array.rows": [128, 256]},
    "times": [1, 86400, 31536000],
    "repeats": 8,
}


def load() -> str:
    return ", ".join(f"{v:.2f}" for v in os.getloadavg())


def main() -> None:
    torch.set_num_threads(1)
    grid = parse_grid(GRID)
    assert len(grid.cells()) == 16
    with tempfile.TemporaryDirectory() as tmp:
        cache = Path(tmp) / "models"
        cell = grid.cells()[0]
        trained_state(cell.model, cell.epochs, cell.train_seed, cache)
        print(f"cores {os.cpu_count()}, load average (1, 5, 15 min) before: {load()}")
        wall, whole, inside = {}, {}, {}
        for workers in (1, 2):
            store = Store(Path(tmp) / f"w{workers}.db")
            start = time.perf_counter()
            executor = Ray(workers)
            executor.start(warm=True)
            ready = time.perf_counter()
            try:
                summary = run_sweep(grid, store, executor, cache_dir=cache, progress=False)
            finally:
                executor.close()
            wall[workers] = time.perf_counter() - ready
            whole[workers] = time.perf_counter() - start
            assert len(summary.computed) == 16
            inside[workers] = cell_s = sum({r["cell_key"]: r["wall_s"] for r in store.rows()}.values())
            print(f"{workers} Ray worker(s): sweep {wall[workers]:.1f} s wall for 16 cells "
                  f"({cell_s:.1f} s inside the cells), {whole[workers]:.1f} s with Ray and worker "
                  f"start-up; load average after: {load()}")
        print(f"speed-up 2 vs 1 workers: sweep {wall[1] / wall[2]:.2f}x (goal >= 1.7x); "
              f"with start-up {whole[1] / whole[2]:.2f}x")
        # a cell that takes longer when two run at once had no free core: the ceiling of the speed-up
        print(f"a cell took {inside[2] / inside[1]:.2f}x as long with 2 workers as with 1 "
              f"(1.00x when two cores are free)")


if __name__ == "__main__":
    main()
