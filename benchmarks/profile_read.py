"""Where the time of an analog forward goes, for this checkout and an earlier commit.

    python benchmarks/profile_read.py [--baseline e53c297] [--calls 20] [--rounds 3]

For the workloads of ``benchmarks/peers/side_by_side.py`` (``ibm-hermes-pcm``, 1 day, read noise
all fresh) each source tree (this checkout; ``--baseline`` checked out into a temporary git
worktree) runs in its own process with one torch thread: ``--calls`` forwards timed by CPU time,
then the same forwards under ``torch.profiler``, whose operator times are grouped into matrix
products (``mm``, ``addmm``, ``bmm``, convolutions), fresh normal numbers (``normal_``) and other
torch operations; the rest of the forward's time (compiled numba kernels, which the profiler does
not see, and Python) is printed as "compiled + Python". Times in ms per forward (profiled times
are scaled to the unprofiled forward, so the parts add up to it), with plain PyTorch's forward
for reference. ``--rounds`` rounds alternate the two trees; every figure is the median over rounds.
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
sys.path.insert(0, sys.argv[1]); sys.path.insert(0, sys.argv[1] + "/benchmarks/peers")
import torch
torch.set_num_threads(1)
from torch.profiler import ProfilerActivity, profile
import side_by_side as sbs
calls = int(sys.argv[2])
PRODUCTS = ("aten::mm", "aten::addmm", "aten::bmm", "aten::mkldnn_convolution", "aten::_convolution",
            "aten::convolution_overrideable", "aten::_mkldnn_convolution")
out = {}
for name, model, x in sbs.workloads():
    model = model.eval()
    analog = sbs.aimc_copy(model, "fresh")
    with torch.no_grad():
        for f in (model, analog):
            f(x); f(x)
        start = time.process_time()
        for _ in range(calls):
            model(x)
        digital = (time.process_time() - start) / calls
        start = time.process_time()
        for _ in range(calls):
            analog(x)
        forward = (time.process_time() - start) / calls
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            for _ in range(calls):
                analog(x)
    parts = {"matrix products": 0.0, "normal numbers": 0.0, "other torch operations": 0.0}
    for e in prof.key_averages():
        if e.key in PRODUCTS:
            parts["matrix products"] += e.self_cpu_time_total
        elif e.key == "aten::normal_":
            parts["normal numbers"] += e.self_cpu_time_total
        elif e.key.startswith("aten::"):
            parts["other torch operations"] += e.self_cpu_time_total
    profiled = prof.key_averages().self_cpu_time_total / 1e6 / calls
    parts = {k: v / 1e6 / calls for k, v in parts.items()}
    scale = forward / max(profiled, sum(parts.values()), 1e-12) if profiled > forward else 1.0
    parts = {k: v * scale for k, v in parts.items()}
    parts["compiled + Python"] = max(forward - sum(parts.values()), 0.0)
    out[name] = {"PyTorch": digital, "forward": forward, **parts}
print(json.dumps(out))
"""


def profile_tree(root: Path, calls: int) -> dict:
    out = subprocess.run([sys.executable, "-c", CHILD, str(root), str(calls)], capture_output=True,
                         text=True, check=True, env=os.environ | {"OMP_NUM_THREADS": "1"})
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", default="e53c297")
    parser.add_argument("--calls", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    print(f"load before: {os.getloadavg()[0]:.2f} (1 min); 1 torch thread; CPU time")
    with worktree(args.baseline) as base:
        runs: dict[str, list[dict]] = {f"before ({args.baseline})": [], "after": []}
        for _ in range(args.rounds):
            for label, root in zip(runs, (base, ROOT), strict=True):
                runs[label].append(profile_tree(root, args.calls))
    trees = {label: {name: {k: statistics.median(r[name][k] for r in rs) for k in rs[0][name]}
                     for name in rs[0]} for label, rs in runs.items()}
    keys = ["matrix products", "normal numbers", "other torch operations", "compiled + Python"]
    print("| workload | code | PyTorch | analog forward | " + " | ".join(keys) + " |")
    print("|---|---|---|---|" + "---|" * len(keys))
    for name in next(iter(trees.values())):
        for label, tree in trees.items():
            r = tree[name]
            cells = " | ".join(f"{1e3 * r[k]:.1f} ({100 * r[k] / r['forward']:.0f} %)" for k in keys)
            print(f"| {name} | {label} | {1e3 * r['PyTorch']:.2f} | {1e3 * r['forward']:.1f} "
                  f"({r['forward'] / r['PyTorch']:.2f}×) | {cells} |")
    print(f"\nms per forward (share of the analog forward), medians over {args.rounds} alternating "
          f"rounds; load after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
