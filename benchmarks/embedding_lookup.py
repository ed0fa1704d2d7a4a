"""Analog embedding lookups (one-hot read of the selected row) versus the same one-hot vectors
through the whole tile (a ``num_embeddings``-wide product per token), on a programmed and
drifted chip. Prints the median time of several calls and the machine load.

    .venv/bin/python benchmarks/embedding_lookup.py [--vocab 300] [--dim 16] [--chip ibm-hermes-pcm]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import torch
from torch import nn

import aimc
from aimc.nn import drift, program


def median_time(fn, repeats: int = 7) -> float:
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--vocab", type=int, default=300)
    parser.add_argument("--dim", type=int, default=16)
    parser.add_argument("--chip", default="ibm-hermes-pcm")
    args = parser.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    emb, _ = aimc.convert(nn.Embedding(args.vocab, args.dim), args.chip, analog_embeddings=True)
    program(emb, seed=0)
    drift(emb, 3600.0)
    idx = torch.randint(0, args.vocab, (64, 98), generator=torch.Generator().manual_seed(1))
    onehot = nn.functional.one_hot(idx.reshape(-1), args.vocab).float()
    lookup = median_time(lambda: emb(idx))
    through = median_time(lambda: emb.table.tile(onehot))
    print(f"{idx.numel()} lookups of a {args.vocab}x{args.dim} table on {args.chip}, 1 thread "
          f"(load {os.getloadavg()[0]:.1f}): one-hot read {1e3 * lookup:.2f} ms, one-hot product "
          f"through the tile {1e3 * through:.2f} ms ({through / lookup:.0f}x)")


if __name__ == "__main__":
    main()
