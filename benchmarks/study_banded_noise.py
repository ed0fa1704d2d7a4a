"""Accuracy spread over chip instances with 1/f read noise all fresh, banded and all frozen.

Command: ``.venv/bin/python benchmarks/study_banded_noise.py`` (about 1 minute on one thread).

The demo CNN (``aimc.demo``: digits, 30 epochs, seed 0, chip ``ibm-hermes-pcm`` with global
drift compensation) is evaluated at 1 day and 1 year after programming on ``--instances`` chip
instances (programming seeds 0..n-1, the same for every mode) with the PCM read noise of
Nandakumar et al. (ICECS 2019) split by frequency band (``Device.read_window = T_w``):

* all fresh: ``T_w = None`` (the whole band redrawn at every read; aimc's default),
* banded: ``T_w`` = the time the chip needs to run the test set, from the cost model
  (``aimc.cost.estimate``: test images / pipelined throughput); reads within that window share
  the band below ``1/T_w``, which is drawn once per device and evaluation (``drift``),
* all frozen: ``T_w = 2 t_read`` (the whole band drawn once per evaluation, as IBM aihwkit does).

Every mode has the same total read-noise variance per read. Std over instances has n-1 degrees
of freedom (its relative standard error is about ``1/sqrt(2 (n-1))``, 16 % at n = 20).
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import torch

import aimc
from aimc.chips import DEFAULT_CHIP, load_chip
from aimc.cost import estimate
from aimc.demo import trained_demo, with_gdc
from aimc.evaluation import evaluate_over_time

TIMES = {"1 day": 86400.0, "1 year": 365 * 86400.0}


def chip_with_window(spec, window: float | None):
    """The chip with its device's read window set to ``window`` (s)."""
    device = type(spec.device)(**{**spec.device.model_dump(), "read_window": window})
    return spec.model_copy(update={"device": device})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", type=int, default=20, help="chip instances per mode")
    parser.add_argument("--chip", default=DEFAULT_CHIP)
    args = parser.parse_args()
    torch.set_num_threads(1)
    start = time.perf_counter()
    model, test = trained_demo(seed=0)
    spec = with_gdc(load_chip(args.chip))
    report = estimate(aimc.compile(model, spec, test[0][:1]))
    t_test = len(test[0]) / report.throughput
    t_read = spec.device.t_read
    modes = {"all fresh (T_w = t)": None,
             f"banded (T_w = {t_test * 1e3:.2f} ms, the test set on the chip)": t_test,
             "all frozen (T_w = 2 t_read)": 2 * t_read}
    rows = []
    for label, window in modes.items():
        analog, _ = aimc.nn.convert(model, chip_with_window(spec, window))
        for compensate in (True, False):
            r = evaluate_over_time(analog, test, list(TIMES.values()), repeats=args.instances,
                                   seed=0, compensate=compensate, progress=False)
            cells = [f"{100 * m:.2f} ± {100 * s:.2f}" for m, s in zip(r.mean, r.std, strict=True)]
            rows.append([label, "GDC" if compensate else "none", *cells])
    print(f"chip {spec.name}, t_read = {t_read * 1e9:.0f} ns, test set {len(test[0])} images "
          f"in {t_test * 1e3:.2f} ms (cost model); accuracy (%) mean ± std over "
          f"{args.instances} chip instances\n")
    print("| read noise | drift compensation | " + " | ".join(TIMES) + " |")
    print("|---|---|" + "---|" * len(TIMES))
    for row in rows:
        print("| " + " | ".join(row) + " |")
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"\nwall time {time.perf_counter() - start:.0f} s (load average {load}); "
          f"numpy {np.__version__}, torch {torch.__version__}")


if __name__ == "__main__":
    main()
