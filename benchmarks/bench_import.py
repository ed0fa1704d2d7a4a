"""Import time of aimc and of the ``aimc`` command (goal: ``import aimc`` under 1 s beyond
``import torch``).

    python benchmarks/bench_import.py [--repeats 7] [--src PATH]

Each figure is the median wall time of ``--repeats`` fresh interpreters (``python -c ...``,
after one warm-up run so that the file cache is warm):

* ``import torch``;
* ``import aimc`` (the package; its public names load on first use);
* ``import aimc`` and every public name (``from aimc import *``: torch, aimc's layers, chips,
  compiler, evaluation), the figure the goal is about, and its difference to ``import torch``;
* ``aimc --help`` (``python -m aimc.cli --help``).

Wall time grows with the machine's load; the CPU time (user + system) of the interpreter much
less, so both are printed. It also lists which of numba, scipy, scikit-learn and matplotlib the
full import loaded (none is the goal: each is imported where it is used). ``--src`` puts another
checkout first on the path (e.g. ``git archive COMMIT aimc | tar -x -C /tmp/old``, then
``--src /tmp/old``) to measure the figures before a change. The machine's load average is printed
beside the figures: other processes slow imports down.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

CASES = {
    "import torch": ["-c", "import torch"],
    "import aimc": ["-c", "import aimc"],
    "import aimc + public names": ["-c", "from aimc import *"],
    "aimc --help": ["-m", "aimc.cli", "--help"],
}
HEAVY = ("numba", "scipy", "sklearn", "matplotlib")
NEUTRAL = tempfile.gettempdir()  # not the checkout: `python -c` puts the working folder on the path


def run(args: list[str], env: dict) -> tuple[float, float]:
    """Wall time and CPU time (user + system) of one fresh interpreter running ``args``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run([sys.executable, *args], check=True, capture_output=True, env=env, cwd=NEUTRAL)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--src", default=None, help="checkout to import aimc from (default: installed)")
    args = parser.parse_args()
    env = dict(os.environ)
    if args.src:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [args.src, env.get("PYTHONPATH")]))
    medians, cpu = {}, {}
    for name, case in CASES.items():
        run(case, env)  # warm the file cache
        times, cpus = zip(*(run(case, env) for _ in range(args.repeats)), strict=True)
        medians[name], cpu[name] = statistics.median(times), statistics.median(cpus)
        print(f"{name:28s} median {medians[name]:.2f} s wall, {cpu[name]:.2f} s CPU  (wall min "
              f"{min(times):.2f}, max {max(times):.2f}, {args.repeats} runs; load {os.getloadavg()[0]:.1f})")
    full, torch_ = "import aimc + public names", "import torch"
    print(f"{'import aimc - import torch':28s} {medians[full] - medians[torch_]:.2f} s wall, "
          f"{cpu[full] - cpu[torch_]:.2f} s CPU  (goal: < 1 s)")
    probe = f"import sys; from aimc import *; print(','.join(m for m in {HEAVY!r} if m in sys.modules))"
    loaded = subprocess.run([sys.executable, "-c", probe], check=True, capture_output=True, text=True,
                            env=env, cwd=NEUTRAL).stdout.strip()
    print(f"heavy modules loaded by the full import: {loaded or 'none'}; cpus {os.cpu_count()}")


if __name__ == "__main__":
    main()
