"""Time of one hardware-aware training step of a keyword-spotter-sized LSTM (40 features -> 64
hidden, 98 frames, batch 64, linear head on the last state) with each matrix's chip instance
drawn once per sequence (the default) versus drawn at every call, i.e. at every time step of
W_hh (the behaviour before per-sequence reads; reproduced here with a hook that does not offer
``sequence``). Prints the median of several steps and the machine load beside it.

    .venv/bin/python benchmarks/hwa_sequence_speed.py [--steps 5] [--chip ibm-speech-pcm]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import torch
from torch import nn

import aimc
from aimc.training import enable_hwa


class Spotter(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.lstm = nn.LSTM(40, 64, batch_first=True)
        self.head = nn.Linear(64, 12)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.lstm(x)[0][:, -1])


class PerCallHook:
    """The HWA hook without ``sequence``: a fresh chip instance at every call (every step)."""

    def __init__(self, hook) -> None:
        self.inner, self.config = hook, hook.config

    def forward(self, layer, x):
        return self.inner.forward(layer, x)


def step_times(chip: str, per_call: bool, steps: int) -> list[float]:
    torch.manual_seed(0)
    model, _ = aimc.convert(Spotter(), chip)
    enable_hwa(model, seed=0)
    if per_call:
        for m in model.modules():
            if getattr(m, "hwa", None) is not None:
                m.hwa = PerCallHook(m.hwa)
    model.train()
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-3)
    g = torch.Generator().manual_seed(1)
    x, y = torch.randn(64, 98, 40, generator=g), torch.randint(0, 12, (64,), generator=g)
    times = []
    for _ in range(steps + 1):  # the first step warms up
        start = time.perf_counter()
        opt.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
        times.append(time.perf_counter() - start)
    return times[1:]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--chip", default="ibm-speech-pcm")
    args = parser.parse_args()
    torch.set_num_threads(1)
    per_seq = statistics.median(step_times(args.chip, False, args.steps))
    per_call = statistics.median(step_times(args.chip, True, args.steps))
    load = os.getloadavg()[0]
    print(f"HWA training step, LSTM 40->64, T=98, batch 64, {args.chip}, 1 thread, "
          f"median of {args.steps} (load {load:.1f}):")
    print(f"  instance per call (every step): {per_call:.3f} s")
    print(f"  instance per sequence:          {per_seq:.3f} s")
    print(f"  speedup {per_call / per_seq:.1f}x")


if __name__ == "__main__":
    main()
