"""Bytes per weight held by a converted model, per chip preset, before programming, after
``aimc.program`` and after ``aimc.drift`` (plus one forward), and the peak resident memory.

Held bytes: every tensor storage reachable from the model (parameters, buffers, programmed
state, read matrices, caches), each storage counted once (``aimc.nn.lifecycle.held_bytes``).
Peak: the process's peak RSS growth over the whole program + drift + forward, per weight
(one process per preset, so that one preset's peak does not hide another's).
``estimate`` is what ``aimc.program`` checks against the available memory before programming;
``t prog`` and ``t drift`` the CPU seconds of ``aimc.program`` and of one ``aimc.drift`` (which
draws the programmed state again from its seed), 1 thread.

The IR-drop solver's transient is a dense ``[columns, rows, rows]`` float64 block per physical
array, the same whatever the layer's size, so its peak per weight is large for small layers.

Run: ``python benchmarks/bench_memory.py [--size 2048] [--ir-size 256]``
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

PRESETS = ["ibm-hermes-pcm", "ibm-speech-pcm", "neurram", "mythic-m1076", "ideal"]


def measure(preset: str, size: int, ir_drop: bool) -> dict:
    import torch
    from torch import nn

    import aimc
    from aimc.array.ir_drop import IRDrop
    from aimc.nn.lifecycle import estimate_bytes, held_bytes

    torch.set_num_threads(1)
    chip = aimc.load_chip(preset)
    if ir_drop:
        chip = chip.model_copy(update={"ir_drop": IRDrop(mode="fast")})
    model, _ = aimc.convert(nn.Sequential(nn.Linear(size, size, bias=False)), chip)
    n = size * size
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    row = {"convert": held_bytes(model) / n}
    est = estimate_bytes(model)
    row["estimate_held"], row["estimate_peak"] = est.held / n, est.peak / n
    start = time.process_time()
    aimc.program(model, seed=0)
    row["t_program"] = time.process_time() - start
    row["program"] = held_bytes(model) / n
    start = time.process_time()
    aimc.drift(model, 86400.0)
    row["t_drift"] = time.process_time() - start
    with torch.no_grad():
        model(torch.randn(16, size))
    row["drift"] = held_bytes(model) / n
    row["peak"] = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - rss0) / n
    return row


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", type=int, default=2048, help="square Linear layer, IR drop off")
    parser.add_argument("--ir-size", type=int, default=256,
                        help="square Linear layer, IR drop on (the solver is slow: keep it small)")
    parser.add_argument("--one", nargs=3, help=argparse.SUPPRESS)  # preset, ir_drop, size (worker)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure(args.one[0], int(args.one[2]), args.one[1] == "1")))
        return
    print("bytes per weight of one square Linear layer: held after convert / program / drift "
          "(+ one forward),\npeak RSS growth, aimc.program's estimates (IR drop: fast solver); "
          "CPU seconds of program and drift")
    print(f"{'preset':16} {'IR drop':8} {'size':>5} {'convert':>8} {'program':>8} {'drift':>8} "
          f"{'peak':>8} {'est.held':>8} {'est.peak':>8} {'t prog':>7} {'t drift':>7}")
    for ir in (False, True):
        for preset in PRESETS:
            if ir and preset == "ideal":
                continue
            size = args.ir_size if ir else args.size
            out = subprocess.run([sys.executable, __file__, "--one", preset, "1" if ir else "0",
                                  str(size)], capture_output=True, text=True, check=True)
            r = json.loads(out.stdout.strip().splitlines()[-1])
            print(f"{preset:16} {'on' if ir else 'off':8} {size:5d} {r['convert']:8.1f} "
                  f"{r['program']:8.1f} {r['drift']:8.1f} {r['peak']:8.1f} {r['estimate_held']:8.1f} "
                  f"{r['estimate_peak']:8.1f} {r['t_program']:7.2f} {r['t_drift']:7.2f}")


if __name__ == "__main__":
    main()
