"""A chip's life: the README table of policies over one year on the 64-core PCM preset.

    python benchmarks/lifetime_table.py [--repeats 20] [--epochs 30] [--seed 0] [--dense-days 60]

Trains the demo CNN on digits (as ``aimc demo``: seed 0, 30 epochs), converts it for
``ibm-hermes-pcm`` and runs :func:`aimc.evaluation.simulate_lifetime` for one year at a constant
25 °C and under a daily cycle between 25 °C and 85 °C (peak at the reads: the worst case), for
each policy: none, global (the chip's GDC), per-column reference cells, closed loop (per-column
scales updated hourly with gain 0.5) and threshold refresh (per-column compensation; the chip is
re-programmed when the reference cells' cell-read spread passes 0.2, checked daily). Prints the
accuracy at 1 s, 1 day, 1 month and 1 year, and one hour before each of the last three (the
threshold policy checks at whole days: a read at a check time sees the chip just refreshed; a read
an hour before sees it at its worst; mean ± standard error over ``--repeats`` chip instances),
refreshes, energy overhead over the year (calibration reads, reference checks,
re-programming) also as a number of inferences of the network (``aimc.cost.estimate``),
downtime and worn-out devices, as a Markdown table; then the downtime by kind, the paired
differences per-column minus global and global minus none (the same chip instances: the same
seeds draw the same programming and read noise) with their standard errors, the threshold
policy's worst mean over reads one hour before each of the first ``--dense-days`` daily checks
under the daily cycle, and the reference cells' share of the arrays and their read cost.
Programming and every baseline (GDC reference, reference cells) are taken at the device's
reference temperature (300 K), even under the hot profile (``aimc.evaluation.lifetime``).
One torch thread.
"""

from __future__ import annotations

import argparse
import os
import time

import torch

from aimc.calibration import ReferenceCells
from aimc.chips import load_chip
from aimc.compiler import compile as compile_model
from aimc.cost import estimate, reference_cells_cost
from aimc.data import digits
from aimc.demo import train_demo_model
from aimc.devices.temperature import ConstantTemperature, DailyCycle, celsius
from aimc.evaluation import accuracy, simulate_lifetime
from aimc.evaluation.lifetime import POLICIES
from aimc.nn import convert

DAY = 86400.0
HOUR = 3600.0
TIMES = {"1 s": 1.0, "1 d − 1 h": DAY - HOUR, "1 day": DAY, "30 d − 1 h": 30 * DAY - HOUR,
         "1 month": 30 * DAY, "365 d − 1 h": 365 * DAY - HOUR, "1 year": 365 * DAY}
POLICY_NAMES = ("none", "global", "per-column", "closed-loop", "threshold")
PROFILES = {"constant 25 °C": ConstantTemperature(kelvin=celsius(25.0)),
            "daily 25–85 °C": DailyCycle(low_k=celsius(25.0), high_k=celsius(85.0))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--dense-days", type=int, default=60)
    args = parser.parse_args()
    torch.set_num_threads(1)
    start = time.perf_counter()
    print(f"load average before: {', '.join(f'{v:.2f}' for v in os.getloadavg())}")
    chip = load_chip("ibm-hermes-pcm")
    data = digits(seed=args.seed)
    model = train_demo_model(data, epochs=args.epochs, seed=args.seed)
    test = (data.x_test, data.y_test)
    digital = accuracy(model, test)
    mapping = compile_model(model, chip, torch.zeros(1, 1, 8, 8))
    inference_j = estimate(mapping).total_j
    header = ["temperature", "policy", *TIMES, "refreshes / year", "energy overhead / year",
              "downtime / year", "worn-out devices"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    results = {}
    for label, profile in PROFILES.items():
        for name in POLICY_NAMES:
            analog, _ = convert(model, chip)
            res = results[label, name] = simulate_lifetime(
                analog, test, chip, POLICIES[name], profile, 365 * DAY, times=list(TIMES.values()),
                repeats=args.repeats, seed=args.seed, progress=False)
            cells = [f"{100 * m:.2f} ± {100 * s:.2f}" for m, s in zip(res.mean, res.sem, strict=True)]
            refreshes = sum(len(r) for r in res.refreshes) / args.repeats
            energy = float(res.energy_total_j().mean())
            downtime = sum(res.downtime_s) / args.repeats
            worn = sum(res.worn) / args.repeats
            lines.append(f"| {label} | {name} | " + " | ".join(cells) + f" | {refreshes:.1f} | "
                         f"{1e6 * energy:.3g} µJ (= {energy / inference_j:.3g} inferences) | "
                         f"{1e3 * downtime:.3g} ms | {worn:g} |")
            print(f"  done: {label}, {name} ({time.perf_counter() - start:.0f} s)", flush=True)
    print(f"\nDemo CNN on digits, chip ibm-hermes-pcm, one year: test accuracy (%), mean ± standard "
          f"error over {args.repeats} chip instances (digital {100 * digital:.2f}); reads at the "
          f"times shown (the daily cycle peaks at 85 °C at whole days, 83 °C an hour before)\n")
    print("\n".join(lines))
    print("\ndowntime / year by kind (mean over instances):")
    for (label, name), res in results.items():
        kinds = {k: sum(d[k] for d in res.downtime_by_kind) / args.repeats for k in res.downtime_by_kind[0]}
        print(f"  {label}, {name}: " + ", ".join(f"{k} {1e3 * v:.3g} ms" for k, v in kinds.items()))
    print("\npaired differences of the test accuracy (percentage points, mean ± standard error over the "
          "same chip instances):")
    for label in PROFILES:
        for a, b in (("per-column", "global"), ("global", "none")):
            d = 100 * (results[label, a].accuracy - results[label, b].accuracy)
            sem = d.std(axis=0, ddof=1) / d.shape[0] ** 0.5
            print(f"  {label}, {a} − {b}: " + "; ".join(
                f"{t} {m:+.2f} ± {s:.2f}" for t, m, s in zip(TIMES, d.mean(axis=0), sem, strict=True)))
    if args.dense_days > 0:
        dense = [k * DAY - HOUR for k in range(1, args.dense_days + 1)]
        analog, _ = convert(model, chip)
        res = simulate_lifetime(analog, test, chip, POLICIES["threshold"], PROFILES["daily 25–85 °C"],
                                args.dense_days * DAY, times=dense, repeats=args.repeats, seed=args.seed,
                                progress=False)
        k = int(res.mean.argmin())
        print(f"\nthreshold, daily 25–85 °C, reads 1 h before each of the first {args.dense_days} daily "
              f"checks: worst mean {100 * res.mean[k]:.2f} ± {100 * res.sem[k]:.2f} % (day {k + 1} − 1 h), "
              f"mean over those reads {100 * res.mean.mean():.2f} %, worst single instance and read "
              f"{100 * res.accuracy.min():.2f} % ({time.perf_counter() - start:.0f} s)")
    ref = chip.model_copy(update={"reference_cells": ReferenceCells()})
    cost = reference_cells_cost(compile_model(model, ref, torch.zeros(1, 1, 8, 8)))
    print(f"\none inference: {1e9 * inference_j:.3g} nJ; reference cells ({ReferenceCells().columns} columns "
          f"per array): {cost['columns']:g} columns, {100 * cost['cell_share']:.2g} % of the used arrays' "
          f"cells, area {cost['area_m2'] * 1e12:.3g} µm², "
          f"one column read {1e12 * cost['column_read_j']:.3g} pJ")
    print(f"wall time {time.perf_counter() - start:.0f} s; load average after: "
          f"{', '.join(f'{v:.2f}' for v in os.getloadavg())}")


if __name__ == "__main__":
    main()
