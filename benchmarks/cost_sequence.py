"""Compile and cost of sequence models on a chip preset, per sequence and per token.

Models (random weights: the cost depends on shapes and, a little, on the weights' conductance
fill, not on training):

* keyword spotter: 98 frames of 40 log-mel features (1 s at a 10 ms hop), 2-layer LSTM with 128
  hidden units, a 12-class linear head on the last state;
* the same spotter streaming: the head runs on every frame (a decision per 10 ms frame); its cost
  per token must equal the cost of compiling it on a one-frame example (checked here);
* one transformer encoder layer (d_model 256, 4 heads, feed-forward 1024) over 64 tokens.

Prints one markdown table (analog chip and the digital INT8 systolic-array baseline of
``aimc.cost``), with the central 90 % range of the analog energy over the cost model's
parameter ranges. Latency per sequence is the critical path (:mod:`aimc.cost.timing`: a
recurrent layer's ih and hh reads in parallel, its layers a wavefront over the time steps; q, k
and v projections in parallel); latency per token is one token through every layer (one
streaming frame). tokens/s is one stream's (``tokens / latency per sequence``, as the digital
column's; ``report.tokens_per_s`` for a model with a recurrent layer, ``tokens / latency_s``
for all rows here); the pipelined figure needs the stated number of sequences in flight.

    .venv/bin/python benchmarks/cost_sequence.py [--chip ibm-hermes-pcm]
"""

from __future__ import annotations

import argparse
import os
import time

import torch
from torch import nn

import aimc
from aimc.cost import estimate


class Spotter(nn.Module):
    def __init__(self, streaming: bool = False) -> None:
        super().__init__()
        self.lstm = nn.LSTM(40, 128, num_layers=2, batch_first=True)
        self.head = nn.Linear(128, 12)
        self.streaming = streaming

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.lstm(x)[0]
        return self.head(h if self.streaming else h[:, -1])


def models() -> list[tuple[str, nn.Module, torch.Tensor]]:
    torch.manual_seed(0)
    spotter = Spotter()
    streaming = Spotter(streaming=True)
    streaming.load_state_dict(spotter.state_dict())
    encoder = nn.TransformerEncoderLayer(256, 4, 1024, batch_first=True)
    return [("LSTM keyword spotter (2x128)", spotter, torch.zeros(1, 98, 40)),
            ("same, streaming (head every frame)", streaming, torch.zeros(1, 98, 40)),
            ("transformer encoder layer (d 256)", encoder.eval(), torch.zeros(1, 64, 256))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--chip", default="ibm-hermes-pcm")
    args = parser.parse_args()
    torch.set_num_threads(1)
    start = time.perf_counter()
    print(f"chip {args.chip}; energy range: central 90 % over the cost parameters (Monte Carlo)\n")
    print("| model | tokens | arrays | energy/seq µJ (90 % range) | energy/token nJ | latency/seq µs "
          "| latency/token µs | tokens/s, one stream | tokens/s pipelined (streams) "
          "| digital energy/token nJ | digital latency/token µs | digital tokens/s |")
    print("|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    checks = []
    for name, model, x in models():
        r = estimate(aimc.compile(model, args.chip, x))
        s, e = r.summary(), r.intervals["energy_j"]
        print(f"| {name} | {r.tokens} | {r.mapping.arrays_needed} | {1e6 * r.total_j:.3g} "
              f"({1e6 * e.low:.3g}-{1e6 * e.high:.3g}) | {1e9 * r.energy_per_token_j:.3g} "
              f"| {1e6 * r.latency_s:.3g} | {1e6 * r.latency_per_token_s:.3g} "
              f"| {r.tokens / r.latency_s:,.0f} "
              f"| {r.pipelined_tokens_per_s:,.0f} ({r.streams}) "
              f"| {1e9 * s['digital']['energy_per_token_j']:.3g} "
              f"| {1e6 * s['digital']['latency_per_token_s']:.3g} | {s['digital']['tokens_per_s']:,.0f} |")
        if "streaming" in name:
            frame = estimate(aimc.compile(model, args.chip, x[:, :1]))
            checks.append((r.energy_per_token_j / frame.total_j, r.latency_per_token_s / frame.latency_s))
    for energy, latency in checks:
        print(f"\nstreaming check: per-token / one-frame compile = {energy:.6f} (energy), "
              f"{latency:.6f} (latency)")
    print(f"({time.perf_counter() - start:.1f} s, load {os.getloadavg()[0]:.1f})")


if __name__ == "__main__":
    main()
