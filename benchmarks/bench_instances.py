"""The demo's evaluation (10 chip instances, 5 times, GDC off and on) against an earlier commit.

    python benchmarks/bench_instances.py [--baseline e53c297] [--rounds 3]

Contestants, each in a fresh process with one torch thread, on the demo CNN and digits test split
(360 images), after a warm-up evaluation (numba's compiled kernels loaded):

* ``baseline``: the code of ``--baseline`` (checked out into a temporary git worktree): two
  ``evaluate_over_time`` runs, GDC off then on, as the demo did;
* ``settings, 1 worker``: this checkout's ``evaluate_settings`` (each instance programmed once,
  read with both settings at each time, device states held), one thread;
* ``settings, 2 workers``: the same spread over two threads (one model copy each).

Rounds alternate the contestants; printed: the median wall and CPU time of each, the speed-up
against the baseline, and whether the accuracies of every instance, time and setting are equal to
the baseline's (every tree reads with PyTorch's normal sampler, the baseline's only one). The
machine's load average is printed before and after.

Second table (``--no-stacked`` skips it): would one batched product over ``R = 10`` stacked chip
instances beat ``R`` separate products? Timed in this process (one thread, median of 5 calls of
each, alternating) on the demo CNN's largest read (its second convolution's array: 16 input
channels of 10×10 padded images, 64 output columns, batch 360) as one channels-last grouped
convolution over the instances against one convolution per instance, and on a 256-row array read
by a batch of 360 (``torch.bmm`` over the instances against one ``F.linear`` each); both ways give
the same numbers bit for bit (checked).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

from _worktree import worktree

ROOT = Path(__file__).resolve().parents[1]

CHILD = r"""
import json, sys, time
sys.path.insert(0, sys.argv[1])
import torch
torch.set_num_threads(1)
from aimc import convert
from aimc.chips import load_chip
from aimc.demo import DEFAULT_CHIP, TIMES, trained_demo, with_gdc
from aimc.evaluation import evaluate_over_time
model, test = trained_demo()
analog, _ = convert(model, with_gdc(load_chip(DEFAULT_CHIP)))
try:  # PyTorch's sampler in every tree: the only one the baseline has (comparable accuracies)
    from aimc.nn import set_noise_sampler
    set_noise_sampler(analog, "torch")
except ImportError:
    pass
evaluate_over_time(analog, test, [1.0], repeats=1, progress=False)  # warm-up
times, mode = list(TIMES.values()), sys.argv[2]
wall, cpu = time.perf_counter(), time.process_time()
if mode == "baseline":
    res = {c: evaluate_over_time(analog, test, times, repeats=10, seed=0, compensate=c, progress=False)
           for c in (False, True)}
else:
    from aimc.evaluation import evaluate_settings
    res = evaluate_settings(analog, test, times, repeats=10, seed=0, progress=False, workers=int(mode))
wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
print(json.dumps({"wall": wall, "cpu": cpu, "acc": {str(c): r.accuracies.tolist() for c, r in res.items()}}))
"""


def run(root: Path, mode: str) -> dict:
    out = subprocess.run([sys.executable, "-c", CHILD, str(root), mode], capture_output=True, text=True,
                         check=True, env=os.environ | {"OMP_NUM_THREADS": "1"})
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", default="e53c297", help="commit of the code before the change")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-stacked", action="store_true", help="skip the stacked-product table")
    args = parser.parse_args()
    print(f"load before: {os.getloadavg()[0]:.2f} (1 min); {os.cpu_count()} cores; "
          "1 torch thread per process")
    with worktree(args.baseline) as base:
        contestants = {f"baseline ({args.baseline})": (base, "baseline"),
                       "settings, 1 worker": (ROOT, "1"), "settings, 2 workers": (ROOT, "2")}
        results: dict[str, list[dict]] = {k: [] for k in contestants}
        for _ in range(args.rounds):
            for name, (root, mode) in contestants.items():
                results[name].append(run(root, mode))
    reference = next(iter(results.values()))[0]["acc"]
    base_wall = statistics.median(r["wall"] for r in next(iter(results.values())))
    print("| contestant | wall time (median) | CPU time | speed-up (wall) "
          "| accuracies equal to the baseline's |")
    print("|---|---|---|---|---|")
    for name, runs in results.items():
        wall = statistics.median(r["wall"] for r in runs)
        cpu = statistics.median(r["cpu"] for r in runs)
        same = all(r["acc"] == reference for r in runs)
        equal = "yes" if same else "NO"
        print(f"| {name} | {wall:.2f} s | {cpu:.2f} s | {base_wall / wall:.2f}× | {equal} |")
    print(f"\n{args.rounds} rounds; load after: {os.getloadavg()[0]:.2f} (1 min)")
    if not args.no_stacked:
        stacked_products()


def stacked_products(instances: int = 10, calls: int = 5) -> None:
    import time

    import torch
    import torch.nn.functional as F

    torch.set_num_threads(1)
    g = torch.Generator().manual_seed(0)
    cl = torch.channels_last
    levels = [torch.randint(-127, 128, (360, 16, 10, 10), generator=g).float().contiguous(memory_format=cl)
              for _ in range(instances)]
    weights = [torch.randn(64, 16, 3, 3, generator=g).contiguous(memory_format=cl) for _ in range(instances)]
    grouped_x = torch.cat(levels, 1).contiguous(memory_format=cl)
    grouped_w = torch.cat(weights, 0).contiguous(memory_format=cl)
    rows = torch.randint(-127, 128, (instances, 360, 256), generator=g).float()
    mats = torch.randn(instances, 128, 256, generator=g)
    cases = {
        "convolution": (lambda: [F.conv2d(x, w) for x, w in zip(levels, weights, strict=True)],
                        lambda: F.conv2d(grouped_x, grouped_w, groups=instances)),
        "linear": (lambda: [F.linear(rows[r], mats[r]) for r in range(instances)],
                   lambda: torch.bmm(rows, mats.transpose(1, 2))),
    }
    print(f"\n| {instances} chip instances | {instances} separate products | one batched product | equal |")
    print("|---|---|---|---|")
    for name, (separate, batched) in cases.items():
        times: dict[str, list[float]] = {"separate": [], "batched": []}
        for _ in range(calls):
            for key, f in (("separate", separate), ("batched", batched)):
                start = time.process_time()
                f()
                times[key].append(time.process_time() - start)
        a, b = separate(), batched()
        per = 64 if name == "convolution" else None
        same = all(torch.equal(a[r], b[:, r * per:(r + 1) * per] if per else b[r]) for r in range(instances))
        print(f"| {name} | {1e3 * statistics.median(times['separate']):.1f} ms "
              f"| {1e3 * statistics.median(times['batched']):.1f} ms | {'yes' if same else 'no'} |")


if __name__ == "__main__":
    main()
