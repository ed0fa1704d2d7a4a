"""Wall time of ``aimc demo`` on a quiet machine and beside busy neighbours, by torch threads.

    python benchmarks/bench_demo.py [--epochs 30] [--repeats 10] [--busy N] [--no-quiet]

Runs ``aimc demo`` in a fresh process for each setting:

* ``2 workers, threads 1``: the demo's default on two cores (chip instances read on two threads,
  one torch thread each);
* ``1 worker, threads 1``: the default before (one thread for everything);
* ``1 worker, threads 2``: torch's default on a 2-core machine (one OpenMP thread per core,
  waiting actively at the end of each parallel operation);
* ``1 worker, threads 2, OMP_WAIT_POLICY=PASSIVE``: two threads whose idle thread sleeps instead
  of spinning, to tell the two causes apart (spinning, versus waiting for a descheduled thread);

each once alone and once beside ``--busy`` neighbours (default: one per core), each a Python
process spinning ``while True: pass`` pinned to its own core. Each line gives the wall time and
the CPU time the demo used (all its threads; a spinning OpenMP thread counts), and the load
average (1 minute) before and after: other work on the machine counts as neighbours too.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SPIN = "import os, sys; os.sched_setaffinity(0, {int(sys.argv[1])}); exec('while True: pass')"
SETTINGS = {
    "2 workers, threads 1": (2, 1, {}),
    "1 worker, threads 1": (1, 1, {}),
    "1 worker, threads 2": (1, 2, {}),
    "1 worker, threads 2, OMP_WAIT_POLICY=PASSIVE": (1, 2, {"OMP_WAIT_POLICY": "PASSIVE"}),
}


def demo_time(workers: int, threads: int, env: dict, epochs: int, repeats: int) -> tuple[float, float]:
    """Wall time and CPU time (user + system, all threads) of one ``aimc demo`` process."""
    aimc = Path(sys.executable).with_name("aimc")
    with tempfile.TemporaryDirectory() as out:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        subprocess.run([str(aimc), "demo", "--workers", str(workers), "--threads", str(threads),
                        "--epochs", str(epochs),
                        "--repeats", str(repeats), "--out", out], check=True, capture_output=True,
                       env=os.environ | env)
        wall = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--busy", type=int, default=os.cpu_count(), help="busy neighbours (0: none)")
    parser.add_argument("--settings", nargs="*", default=list(SETTINGS), choices=list(SETTINGS))
    parser.add_argument("--no-quiet", action="store_true", help="skip the runs without neighbours")
    args = parser.parse_args()
    cores = sorted(os.sched_getaffinity(0))
    print(f"aimc demo --epochs {args.epochs} --repeats {args.repeats}; {len(cores)} cores")
    for busy in sorted({args.busy} if args.no_quiet else {0, args.busy}):
        spinners = [subprocess.Popen([sys.executable, "-c", SPIN, str(cores[k % len(cores)])])
                    for k in range(busy)]
        try:
            time.sleep(1.0 if busy else 0.0)
            for name in args.settings:
                workers, threads, env = SETTINGS[name]
                load_before = os.getloadavg()[0]
                wall, cpu = demo_time(workers, threads, env, args.epochs, args.repeats)
                print(f"{busy} busy neighbours, {name:46s} {wall:6.1f} s wall, {cpu:6.1f} s CPU  "
                      f"(load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after)", flush=True)
        finally:
            for spinner in spinners:
                spinner.kill()
                spinner.wait()


if __name__ == "__main__":
    main()
