"""Wall time of a one-year lifetime simulation of the demo network with 20 checkpoints.

    python benchmarks/bench_lifetime.py [--policy threshold] [--temperature daily:25-85C] [--epochs 30]

Runs ``aimc lifetime --duration 1y --checkpoints 20`` in a fresh process (digital training of the
demo CNN included, one chip instance, a checkpoint written after each of the 20 measurements) for
the given policy and temperature profile, and prints its wall time, the CPU time it used and the
load average (1, 5, 15 minutes) before and after: other work on the machine slows it down.
The target (issue 15): under 2 minutes on 2 cores.
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

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--policy", default="threshold")
    parser.add_argument("--temperature", default="daily:25-85C")
    parser.add_argument("--epochs", type=int, default=30)
    args = parser.parse_args()
    print(f"cores: {os.cpu_count()}; load average before: {', '.join(f'{v:.2f}' for v in os.getloadavg())}")
    with tempfile.TemporaryDirectory() as out:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        command = [sys.executable, "-c", "from aimc.cli import app; app()", "lifetime", "--duration", "1y",
                   "--checkpoints", "20", "--policy", args.policy, "--temperature", args.temperature,
                   "--epochs", str(args.epochs), "--out", out]
        subprocess.run(command, check=True, cwd=ROOT, capture_output=True)
        wall = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        checkpoint = sorted(p.name for p in (Path(out) / "checkpoint").iterdir())
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    print(f"aimc lifetime --duration 1y --checkpoints 20 --policy {args.policy} --temperature "
          f"{args.temperature} --epochs {args.epochs}: wall {wall:.1f} s, CPU {cpu:.1f} s "
          f"(training included); checkpoint files: {', '.join(checkpoint)}")
    print(f"load average after: {', '.join(f'{v:.2f}' for v in os.getloadavg())}")


if __name__ == "__main__":
    main()
