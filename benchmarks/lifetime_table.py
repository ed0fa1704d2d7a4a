"""A chip's life: the README table of policies over one year on the 64-core PCM preset.

    python benchmarks/lifetime_table.py [--seeds 5] [--repeats 10] [--epochs 30] [--seed 0] [--dense-days 60]

Trains the demo CNN on digits (as ``aimc demo``: 30 epochs) once per training seed (``--seeds``
networks, seeds ``--seed``, ``--seed`` + 1, ...; one data split, that of ``--seed``), converts each for
``ibm-hermes-pcm`` and runs :func:`aimc.evaluation.simulate_lifetime` for one year at a constant
25 °C and under a daily cycle between 25 °C and 85 °C (peak at the reads: the worst case), for
each policy: none, global (the chip's GDC), per-column reference cells, closed loop (per-column
scales updated hourly with gain 0.5) and threshold refresh (per-column compensation; the chip is
re-programmed when the reference cells' cell-read spread passes 0.2, checked daily). Prints the
accuracy at 1 s, 1 day, 1 month and 1 year, and one hour before each of the last three (the
threshold policy checks at whole days: a read at a check time sees the chip just refreshed; a read
an hour before sees it at its worst), refreshes, energy overhead over the year (calibration reads,
reference checks, re-programming) also as a number of inferences of the network
(``aimc.cost.estimate``), downtime and worn-out devices, as a Markdown table.

Every ± is a standard error that covers both sources of variation: each trained network is read
on ``--repeats`` chip instances (seeded by its training seed, ``numpy.random.SeedSequence``), its
mean over them is one sample, and the standard error is that of the mean of those ``--seeds``
samples (their spread holds the training-seed and the chip-instance variation). With
``--seeds 1`` it falls back to the standard error over the chip instances of one network.
Then the downtime by kind, the paired differences per-column minus global and global minus none
(the same networks and chip instances: the same seeds draw the same programming and read noise;
standard errors as above), the threshold
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

import numpy as np
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


def seed_sem(samples: np.ndarray) -> np.ndarray:
    """Standard error of the grand mean from ``samples`` [seeds, repeats, ...].

    With several seeds: the spread of the per-seed means over chip instances (it holds both the
    training-seed and the chip-instance variation); with one seed: the spread over its instances.
    """
    per = samples.mean(axis=1) if samples.shape[0] > 1 else samples[0]
    return per.std(axis=0, ddof=1) / np.sqrt(per.shape[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5, help="trained networks (training seeds)")
    parser.add_argument("--repeats", type=int, default=10, help="chip instances per network")
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--dense-days", type=int, default=60)
    args = parser.parse_args()
    if args.seeds < 1 or args.repeats < 1 or args.seeds * args.repeats < 2:
        parser.error("need --seeds >= 1, --repeats >= 1 and at least 2 samples for a standard error")
    torch.set_num_threads(1)
    start = time.perf_counter()
    print(f"load average before: {', '.join(f'{v:.2f}' for v in os.getloadavg())}")
    chip = load_chip("ibm-hermes-pcm")
    data = digits(seed=args.seed)
    test = (data.x_test, data.y_test)
    seeds = list(range(args.seed, args.seed + args.seeds))
    models = {s: train_demo_model(data, epochs=args.epochs, seed=s) for s in seeds}
    digital = np.array([accuracy(m, test) for m in models.values()])
    mapping = compile_model(models[seeds[0]], chip, torch.zeros(1, 1, 8, 8))
    inference_j = estimate(mapping).total_j
    n_inst = args.seeds * args.repeats

    def run(model, policy, profile, duration, times, seed):
        analog, _ = convert(model, chip)
        return simulate_lifetime(analog, test, chip, POLICIES[policy], profile, duration, times=times,
                                 repeats=args.repeats, seed=seed, progress=False)

    header = ["temperature", "policy", *TIMES, "refreshes / year", "energy overhead / year",
              "downtime / year", "worn-out devices"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    results: dict[tuple[str, str], list] = {}
    acc: dict[tuple[str, str], np.ndarray] = {}  # [seeds, repeats, times]
    for label, profile in PROFILES.items():
        for name in POLICY_NAMES:
            res = results[label, name] = [run(models[s], name, profile, 365 * DAY, list(TIMES.values()), s)
                                          for s in seeds]
            a = acc[label, name] = np.stack([r.accuracy for r in res])
            cells = [f"{100 * m:.2f} ± {100 * e:.2f}"
                     for m, e in zip(a.mean(axis=(0, 1)), seed_sem(a), strict=True)]
            refreshes = sum(len(x) for r in res for x in r.refreshes) / n_inst
            energy = float(np.concatenate([r.energy_total_j() for r in res]).mean())
            downtime = sum(d for r in res for d in r.downtime_s) / n_inst
            worn = sum(w for r in res for w in r.worn) / n_inst
            lines.append(f"| {label} | {name} | " + " | ".join(cells) + f" | {refreshes:.1f} | "
                         f"{1e6 * energy:.3g} µJ (= {energy / inference_j:.3g} inferences) | "
                         f"{1e3 * downtime:.3g} ms | {worn:g} |")
            print(f"  done: {label}, {name} ({time.perf_counter() - start:.0f} s)", flush=True)
    over = (f"{args.seeds} trained networks (training seeds {seeds[0]}–{seeds[-1]}) × {args.repeats} chip "
            f"instances each; ± covers both" if args.seeds > 1 else
            f"{args.repeats} chip instances of one trained network (training seed {seeds[0]})")
    dig = f"{100 * digital.mean():.2f}"
    if args.seeds > 1:
        dig += f" ± {100 * seed_sem(digital[:, None]):.2f}"
    print(f"\nDemo CNN on digits, chip ibm-hermes-pcm, one year: test accuracy (%), mean ± standard "
          f"error over {over} (digital {dig}); reads at the times shown (the daily cycle peaks at 85 °C "
          f"at whole days, 83 °C an hour before)\n")
    print("\n".join(lines))
    print("\ndowntime / year by kind (mean over instances):")
    for (label, name), res in results.items():
        kinds = {k: sum(d[k] for r in res for d in r.downtime_by_kind) / n_inst
                 for k in res[0].downtime_by_kind[0]}
        print(f"  {label}, {name}: " + ", ".join(f"{k} {1e3 * v:.3g} ms" for k, v in kinds.items()))
    print("\npaired differences of the test accuracy (percentage points, mean ± standard error as above, "
          "the same networks and chip instances):")
    for label in PROFILES:
        for a, b in (("per-column", "global"), ("global", "none")):
            d = 100 * (acc[label, a] - acc[label, b])
            pairs = zip(TIMES, d.mean(axis=(0, 1)), seed_sem(d), strict=True)
            print(f"  {label}, {a} − {b}: " + "; ".join(f"{t} {m:+.2f} ± {e:.2f}" for t, m, e in pairs))
    if args.dense_days > 0:
        dense = [k * DAY - HOUR for k in range(1, args.dense_days + 1)]
        a = np.stack([run(models[s], "threshold", PROFILES["daily 25–85 °C"], args.dense_days * DAY, dense,
                          s).accuracy for s in seeds])
        mean, sem = a.mean(axis=(0, 1)), seed_sem(a)
        k = int(mean.argmin())
        print(f"\nthreshold, daily 25–85 °C, reads 1 h before each of the first {args.dense_days} daily "
              f"checks: worst mean {100 * mean[k]:.2f} ± {100 * sem[k]:.2f} % (day {k + 1} − 1 h), "
              f"mean over those reads {100 * mean.mean():.2f} %, worst single network, instance and read "
              f"{100 * a.min():.2f} % ({time.perf_counter() - start:.0f} s)")
    ref = chip.model_copy(update={"reference_cells": ReferenceCells()})
    cost = reference_cells_cost(compile_model(models[seeds[0]], ref, torch.zeros(1, 1, 8, 8)))
    print(f"\none inference: {1e9 * inference_j:.3g} nJ; reference cells ({ReferenceCells().columns} columns "
          f"per array): {cost['columns']:g} columns, {100 * cost['cell_share']:.2g} % of the used arrays' "
          f"cells, area {cost['area_m2'] * 1e12:.3g} µm², "
          f"one column read {1e12 * cost['column_read_j']:.3g} pJ")
    print(f"wall time {time.perf_counter() - start:.0f} s; load average after: "
          f"{', '.join(f'{v:.2f}' for v in os.getloadavg())}")


if __name__ == "__main__":
    main()
