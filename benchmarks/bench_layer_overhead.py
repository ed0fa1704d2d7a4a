"""The fixed cost of an analog linear layer's read, for this checkout and an earlier commit.

    python benchmarks/bench_layer_overhead.py [--baseline 8b38d14] [--rounds 5] [--calls 200]

The MLP of ``benchmarks/peers/side_by_side.py`` (784-512-512-10, ``ibm-hermes-pcm``, 1 day,
read noise off) layer by layer: each ``AnalogLinear`` forward at batch 1, where the matrix
products and compiled passes take a few microseconds and what remains is the Python of the read
(DAC, products, ADC and rescale steps: the cost a layer pays whatever its size), and at batch
256, against the same layer's ``nn.Linear``. Each source tree (this checkout; ``--baseline``
checked out into a temporary git worktree) runs in its own process with one torch thread;
``--calls`` calls per round, layers and trees in alternation over ``--rounds`` rounds, CPU time,
medians over rounds in microseconds per call. Prints the load average before and after.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from contextlib import nullcontext
from pathlib import Path

from _worktree import worktree

ROOT = Path(__file__).resolve().parents[1]

CHILD = r"""
import json, sys, time
sys.path.insert(0, sys.argv[1]); sys.path.insert(0, sys.argv[1] + "/benchmarks/peers")
import torch
torch.set_num_threads(1)
import side_by_side as sbs
calls = int(sys.argv[2])
name, model, x = [w for w in sbs.workloads() if w[0].startswith("MLP")][0]
model = model.eval()
analog = sbs.aimc_copy(model, "off")
digital = [m for m in model.modules() if isinstance(m, torch.nn.Linear)]
layers = [m for m in analog.modules() if type(m).__name__ == "AnalogLinear"]
out = {}
with torch.inference_mode():
    for batch in (1, 256):
        h = x[:batch]
        for i, (d, a) in enumerate(zip(digital, layers)):
            for tag, f in (("torch", d), ("aimc", a)):
                f(h); f(h)
                start = time.process_time()
                for _ in range(calls):
                    f(h)
                out[f"{tag} {i} {batch}"] = (time.process_time() - start) / calls * 1e6
            h = torch.relu(d(h))
print(json.dumps(out))
"""


def run(tree: Path, calls: int) -> dict[str, float]:
    env = os.environ | {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-c", CHILD, str(tree), str(calls)], capture_output=True,
                          text=True, check=True, env=env)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", default=None, help="an earlier commit to compare with")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--calls", type=int, default=200)
    args = parser.parse_args()
    print(f"load average before: {', '.join(f'{v:.2f}' for v in os.getloadavg())}", flush=True)
    with worktree(args.baseline) if args.baseline else nullcontext() as base:
        trees = {"this checkout": ROOT} | ({args.baseline: base} if args.baseline else {})
        results: dict[str, list[dict[str, float]]] = {t: [] for t in trees}
        for _ in range(args.rounds):
            for tag, tree in trees.items():
                results[tag].append(run(tree, args.calls))
    med = {t: {k: statistics.median(r[k] for r in rs) for k in rs[0]} for t, rs in results.items()}
    shapes = ("784→512", "512→512", "512→10")
    print("\n| layer | batch | PyTorch µs | " + " | ".join(f"aimc µs ({t})" for t in trees) + " |")
    print("|---|---|---|" + "---|" * len(trees))
    for batch in (1, 256):
        for i, shape in enumerate(shapes):
            torch_us = med["this checkout"][f"torch {i} {batch}"]
            us = [med[t][f"aimc {i} {batch}"] for t in trees]
            cells = " | ".join(f"{u:.1f} ({u / torch_us:.2f}×)" for u in us)
            print(f"| {shape} | {batch} | {torch_us:.1f} | {cells} |")
    print(f"\nload average after: {', '.join(f'{v:.2f}' for v in os.getloadavg())}")


if __name__ == "__main__":
    main()
