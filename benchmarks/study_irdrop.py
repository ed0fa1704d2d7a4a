"""Study: the demo network's accuracy with IR drop off and on, over wire resistance and array size.

Trains the demo CNN once (digits, seed 0), then for each array size and wire resistance per cell
pitch converts it onto the IBM PCM preset with that array size and ``ir_drop`` in exact mode
(passive cells, driver and sense resistances 0) and reports test accuracy 1 s after programming
(mean ± std over ``--repeats`` chip instances; global drift compensation as in the preset, so a
uniform loss of column current is calibrated away and what remains is the distortion).
The README's IR-drop table comes from here.

Run: ``python benchmarks/study_irdrop.py [--repeats 3]``.
"""

from __future__ import annotations

import argparse
import time

import torch

from aimc import ChipSpec, convert, evaluate_over_time, load_chip
from aimc.demo import trained_demo

SIZES = (64, 128, 256)
RESISTANCES = (0.0, 1.0, 5.0, 20.0)


def chip_with(size: int, r_wire: float) -> ChipSpec:
    base = load_chip("ibm-hermes-pcm").model_dump()
    base["array"] = {"rows": size, "cols": size}
    base["ir_drop"] = ({"mode": "none"} if r_wire == 0 else
                       {"mode": "exact", "r_row": r_wire, "r_col": r_wire, "cell": "0T1R"})
    return ChipSpec.model_validate(base)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (pinned)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    start = time.perf_counter()
    model, test = trained_demo()
    print("| array | " + " | ".join("IR drop off" if r == 0 else f"{r:g} Ω/cell" for r in RESISTANCES) + " |")
    print("|---|" + "---|" * len(RESISTANCES))
    for size in SIZES:
        cells = []
        for r_wire in RESISTANCES:
            analog, _ = convert(model, chip_with(size, r_wire))
            res = evaluate_over_time(analog, test, [1.0], repeats=args.repeats, progress=False)
            cells.append(f"{100 * res.mean[0]:.2f} ± {100 * res.std[0]:.2f}")
        print(f"| {size}×{size} | " + " | ".join(cells) + " |", flush=True)
    print(f"\n{args.repeats} chip instances, {torch.get_num_threads()} torch thread(s), "
          f"{time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
