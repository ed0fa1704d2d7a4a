"""The floor that splitting a matrix over 256-row arrays sets for a read with noise off or frozen.

    python benchmarks/bench_split_products.py [--rounds 15] [--calls 5]

A tile of ``ibm-hermes-pcm`` holds a matrix in arrays of 256 rows, and each array's partial sums
go through their own ADC, so a read is one product per array. This times, against PyTorch's
``nn.Linear`` forward (one product with the bias): the Linear 512x512 at batch 1024 as two
``F.linear`` of 256 rows each (the inputs sliced as the tile slices them), and the MLP's first
layer (784 inputs at batch 256) as four products of 196 rows (the tile spreads rows evenly over
its arrays, :func:`aimc.tile.split_rows`; no zero rows). No DAC, ADC, noise or rescaling:
what remains of the ``<= 1.15x`` target of issue 13 for the converters. Calls alternate, CPU
time, one torch thread; median of per-round ratios of medians, with the range over rounds; the
load average is printed.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import torch
import torch.nn.functional as F

from aimc.tile import split_rows


def per_call(fn, calls: int) -> float:
    times = []
    for _ in range(calls):
        start = time.process_time()
        fn()
        times.append(time.process_time() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--calls", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    print(f"load average before: {', '.join(f'{v:.2f}' for v in os.getloadavg())}")
    cases = {}
    for name, batch, n_in, n_out in (("Linear 512x512, batch 1024", 1024, 512, 512),
                                     ("MLP layer 784x512, batch 256", 256, 784, 512)):
        layer = torch.nn.Linear(n_in, n_out)
        x = torch.randn(batch, n_in)
        arrays, _, _, rows = split_rows(n_in, 256)  # as the tile splits them
        padded = F.pad(x, (0, arrays * rows - n_in))
        w = torch.randn(arrays, n_out, rows)
        parts = [padded[:, a * rows:(a + 1) * rows] for a in range(arrays)]
        cases[name] = (lambda layer=layer, x=x: layer(x),
                       lambda parts=parts, w=w: [F.linear(v, w[a]) for a, v in enumerate(parts)],
                       f"{arrays} products of {rows} rows")
    with torch.inference_mode():
        for name, (whole, split, products) in cases.items():
            ratios = []
            for _ in range(args.rounds):
                t_whole, t_split = per_call(whole, args.calls), per_call(split, args.calls)
                ratios.append(t_split / t_whole)
            print(f"{name}: {products} / one nn.Linear: {statistics.median(ratios):.2f}x "
                  f"({min(ratios):.2f}-{max(ratios):.2f})", flush=True)
    print(f"load average after: {', '.join(f'{v:.2f}' for v in os.getloadavg())}")


if __name__ == "__main__":
    main()
