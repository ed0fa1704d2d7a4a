"""The demo network on every chip preset: accuracy at 1 s, 1 day and 1 year after programming.

Trains the demo CNN once (digits, seed 0), converts it onto each preset as the preset defines it
(its own encoding, converters and drift compensation), and prints a Markdown table of test
accuracy, mean ± std over ``--repeats`` chip instances. The README's preset table comes from here.

Run: ``python benchmarks/compare_presets.py [--repeats 10]``.
"""

from __future__ import annotations

import argparse
import time

import torch

from aimc import convert, evaluate_over_time, list_chips, load_chip
from aimc.demo import DAY, trained_demo

TIMES = {"1 s": 1.0, "1 day": DAY, "1 year": 365 * DAY}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (pinned)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    start = time.perf_counter()
    model, test = trained_demo()
    print("| chip | device | " + " | ".join(TIMES) + " |")
    print("|---|---|" + "---|" * len(TIMES))
    for name in list_chips():
        chip = load_chip(name)
        analog, _ = convert(model, chip)
        res = evaluate_over_time(analog, test, list(TIMES.values()), repeats=args.repeats, progress=False)
        cells = [f"{100 * m:.2f} ± {100 * s:.2f}" for m, s in zip(res.mean, res.std, strict=True)]
        print(f"| {name} | {chip.device.name} | " + " | ".join(cells) + " |")
    print(f"\n{args.repeats} chip instances, {torch.get_num_threads()} torch thread(s), "
          f"{time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
