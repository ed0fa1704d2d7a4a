"""What keeping freed memory (``aimc._allocator.keep_freed_memory``) does to a sweep's speed.

    python benchmarks/bench_allocator.py [--rounds 3]

Runs the 16-cell sweep of ``benchmarks/bench_sweep_ray.py`` (demo CNN, 2 chips x 4 ADC
resolutions x 2 array sizes, 8 chip instances x 3 times) in-process, each run in a fresh Python
process, alternating a process that calls :func:`aimc._allocator.keep_freed_memory` first with
one that keeps glibc's defaults, ``--rounds`` times; torch on one thread. Prints each run's wall
and CPU time, the means per mode and their ratio, and the load average before and after. The
numbers of the sweep are the same either way (``tests/test_allocator.py``).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
from pathlib import Path

CHILD = r"""
import sys, tempfile, time
from pathlib import Path
import torch
sys.path.insert(0, sys.argv[2])
if sys.argv[1] == "keep":
    from aimc._allocator import keep_freed_memory
    assert keep_freed_memory()
from bench_sweep_ray import GRID
from aimc.sweep import Store, parse_grid, run_sweep
from aimc.sweep.workloads import trained_state
torch.set_num_threads(1)
grid = parse_grid(GRID)
with tempfile.TemporaryDirectory() as tmp:
    cache = Path(tmp) / "models"
    cell = grid.cells()[0]
    trained_state(cell.model, cell.epochs, cell.train_seed, cache)
    store = Store(Path(tmp) / "s.db")
    wall, cpu = time.perf_counter(), time.process_time()
    run_sweep(grid, store, "inprocess", cache_dir=cache, progress=False)
    print(time.perf_counter() - wall, time.process_time() - cpu)
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    here = str(Path(__file__).resolve().parent)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "NUMBA_NUM_THREADS": "1",
           "PYTHONPATH": os.pathsep.join([str(Path(here).parent), os.environ.get("PYTHONPATH", "")])}
    print(f"load average before: {', '.join(f'{v:.2f}' for v in os.getloadavg())}")
    times: dict[str, list[float]] = {"keep": [], "default": []}
    for r in range(args.rounds):
        for mode in ("keep", "default"):
            out = subprocess.run([sys.executable, "-c", CHILD, mode, here], capture_output=True, text=True,
                                 check=True, env=env).stdout.split()
            wall, cpu = float(out[-2]), float(out[-1])
            times[mode].append(wall)
            print(f"round {r + 1}, {mode:7s}: sweep {wall:.1f} s wall, {cpu:.1f} s CPU", flush=True)
    keep, default = statistics.mean(times["keep"]), statistics.mean(times["default"])
    print(f"mean wall: freed memory kept {keep:.1f} s, glibc's defaults {default:.1f} s; "
          f"ratio {default / keep:.2f}x")
    print(f"load average after: {', '.join(f'{v:.2f}' for v in os.getloadavg())}")


if __name__ == "__main__":
    main()
