"""Analog inference speed against plain PyTorch, with the measured floors of the analog forward.

Times the forward of a converted model (default chip ``ibm-hermes-pcm``, drifted to 1 day, so
drift, read noise, 8-bit DAC/ADC and per-array partial sums are all active) against the forward
of the same digital model, batch 256, under ``torch.no_grad``. Every variant of one model is
timed call by call in alternation (so that all see the same machine load), the median per call
is taken, and this is repeated for ``--rounds`` rounds; the table gives the median over rounds
and the range of the per-round ratios. Torch threads are pinned (``--threads``, default 1) and
the machine's load average is printed before and after. Each call is timed by the process's CPU
time (``--clock cpu``, the default): on a shared machine the scheduler takes the core away for
whole time slices, which inflates the wall time of a long call more than that of a short one;
CPU time does not count those slices (cache and memory-bandwidth contention still count).

Targets (issue 2): MLP 784-512-512-10 ratio <= 2.5; demo CNN ratio <= 4.

Floors (what the analog forward cannot go below with this design on this CPU):

* *two products per array* (MLP only): per physical array of every layer, the conductance
  product and the read-noise variance product (``F.linear`` on the array's slice of the inputs,
  matrices of the tile's shape), summed over arrays, with the bias and ReLU; no DAC, ADC,
  noise sampling or rescaling.
* *free normal numbers*: the whole analog forward with the tiles' normal-number source replaced
  by a pre-drawn buffer (no sampling cost; the numbers repeat, so this is for timing only).

The row "t = 0 (no read noise)" isolates the noise: PCM read noise is zero right after
programming, so there is one product per array and no sampling.

Peer simulators are not timed here; ``benchmarks/peers/`` times them side by side.

Run: ``make bench`` or ``python benchmarks/bench_inference.py [--calls N] [--rounds R] [--threads T]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable

import torch
from torch import nn
from torch.nn import functional as F

import aimc
from aimc.models import digits_cnn, mlp

DAY = 86400.0


class FreeNormals:
    """Stands in for a tile's normal-number source: returns views of one pre-drawn buffer, so
    the forward pays nothing for sampling (timing floor only; the numbers repeat)."""

    def __init__(self) -> None:
        self._buffer = torch.randn(1 << 20, generator=torch.Generator().manual_seed(0))

    def seed(self, seed: int) -> None:  # the tile reseeds its source at every drift
        pass

    def draw(self, shape) -> torch.Tensor:
        n = 1
        for s in shape:
            n *= s
        if self._buffer.numel() < n:
            self._buffer = torch.randn(n, generator=torch.Generator().manual_seed(0))
        return self._buffer[:n].view(shape)


class CountingNormals:
    """Wraps a tile's normal-number source and counts the numbers it draws."""

    def __init__(self, source) -> None:
        self.source, self.count = source, 0

    def seed(self, seed: int) -> None:
        self.source.seed(seed)

    def draw(self, shape) -> torch.Tensor:
        out = self.source.draw(shape)
        self.count += out.numel()
        return out


def normals_per_forward(analog: nn.Module, x: torch.Tensor) -> int:
    """Normal numbers one forward of ``analog`` draws (all its tiles together)."""
    tiles = [m.tile for m in analog.modules() if isinstance(m, aimc.nn.AnalogLayer)]
    counters = [CountingNormals(t.normals) for t in tiles]
    for t, c in zip(tiles, counters, strict=True):
        t.normals = c
    with torch.no_grad():
        analog(x)
    for t, c in zip(tiles, counters, strict=True):
        t.normals = c.source
    return sum(c.count for c in counters)


def sampler_ns_per_number(n: int = 1 << 20, calls: int = 20) -> float:
    """Median time of PyTorch's CPU normal sampler per number (float32, seeded generator)."""
    buffer, g = torch.empty(n), torch.Generator().manual_seed(0)
    times = []
    for _ in range(calls):
        start = CLOCK()
        buffer.normal_(generator=g)
        times.append(CLOCK() - start)
    return 1e9 * statistics.median(times) / n


class TwoProducts(nn.Module):
    """The two matrix products per physical array of one analog Linear (conductances and
    read-noise variances, random matrices of the tile's shape), summed over its arrays, plus
    the digital bias: the arithmetic floor of an analog read with read noise."""

    def __init__(self, layer: nn.Module) -> None:
        super().__init__()
        tile = layer.tile
        g = torch.Generator().manual_seed(0)
        shape = (tile.row_arrays, len(tile.beta) * tile.out_features, tile.rows_per_array)
        self.w = torch.randn(shape, generator=g)
        self.var = torch.rand(shape, generator=g)
        self.bias = None if layer.bias is None else layer.bias.detach().clone()
        self.pad = tile.padded_rows - tile.in_features
        self.rows = tile.rows_per_array

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.pad:
            x = F.pad(x, (0, self.pad))
        total = None
        for a in range(self.w.shape[0]):
            v = x[:, a * self.rows:(a + 1) * self.rows]
            y = F.linear(v, self.w[a]).add_(F.linear(v * v, self.var[a]))
            total = y if total is None else total.add_(y)
        return total if self.bias is None else total.add_(self.bias)


def analog_copy(model: nn.Module, t_seconds: float = DAY, free_normals: bool = False) -> nn.Module:
    analog, _ = aimc.convert(model, aimc.load_chip())
    aimc.program(analog, seed=0)
    aimc.drift(analog, t_seconds)
    if free_normals:
        for m in analog.modules():
            if isinstance(m, aimc.nn.AnalogLayer):
                m.tile.normals = FreeNormals()
    return analog.eval()


def two_products_model(digital: nn.Sequential, analog: nn.Sequential) -> nn.Sequential:
    """The MLP with each analog Linear replaced by its :class:`TwoProducts` floor."""
    return nn.Sequential(*(TwoProducts(a) if isinstance(a, aimc.nn.AnalogLayer) else d
                           for d, a in zip(digital, analog, strict=True)))


CLOCKS = {"cpu": time.process_time, "wall": time.perf_counter}
CLOCK = CLOCKS["cpu"]


def interleaved(variants: dict[str, Callable], x: torch.Tensor, calls: int) -> dict[str, float]:
    """Median seconds per call of each variant, timed call by call in alternation."""
    times: dict[str, list[float]] = {k: [] for k in variants}
    with torch.no_grad():
        for f in variants.values():
            for _ in range(2):
                f(x)
        for _ in range(calls):
            for name, f in variants.items():
                start = CLOCK()
                f(x)
                times[name].append(CLOCK() - start)
    return {k: statistics.median(v) for k, v in times.items()}


def rounds(variants: dict[str, Callable], x: torch.Tensor, calls: int, n: int) -> list[dict[str, float]]:
    return [interleaved(variants, x, calls) for _ in range(n)]


def summary(results: list[dict[str, float]], name: str, base: str = "PyTorch") -> tuple[float, ...]:
    """(median ms of base, median ms of name, median ratio, min ratio, max ratio) over rounds."""
    ratios = [r[name] / r[base] for r in results]
    return (1e3 * statistics.median(r[base] for r in results),
            1e3 * statistics.median(r[name] for r in results),
            statistics.median(ratios), min(ratios), max(ratios))


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} / {five:.2f} / {fifteen:.2f} (1 / 5 / 15 min)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=30, help="timed calls per variant and round")
    parser.add_argument("--rounds", type=int, default=5, help="rounds (ratio range is over rounds)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (pinned)")
    parser.add_argument("--clock", choices=sorted(CLOCKS), default="cpu",
                        help="cpu: the process's CPU time per call (not inflated when other jobs take the "
                             "cores, the default); wall: elapsed time")
    parser.add_argument("--strict", action="store_true", help="exit non-zero when a ratio misses its target")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    global CLOCK
    CLOCK = CLOCKS[args.clock]
    torch.manual_seed(0)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s), {os.cpu_count()} CPUs; "
          f"load average before: {load()}")
    start = time.perf_counter()
    g = torch.Generator().manual_seed(0)
    x_mlp = torch.rand(256, 784, generator=g)
    x_cnn = torch.rand(256, 1, 8, 8, generator=g)
    net = mlp().eval()
    analog_mlp = analog_copy(net)
    mlp_res = rounds({"PyTorch": net, "analog": analog_mlp, "t=0": analog_copy(net, 0.0),
                      "free normals": analog_copy(net, free_normals=True),
                      "two products": two_products_model(net, analog_mlp)}, x_mlp, args.calls, args.rounds)
    cnn = digits_cnn().eval()
    cnn_res = rounds({"PyTorch": cnn, "analog": analog_copy(cnn),
                      "free normals": analog_copy(cnn, free_normals=True)}, x_cnn, args.calls, args.rounds)
    lin = nn.Linear(512, 512).eval()
    lin_res = rounds({"PyTorch": lin, "analog": analog_copy(lin)}, torch.randn(256, 512, generator=g),
                     args.calls, args.rounds)
    conv = nn.Conv2d(64, 64, 3, padding=1).eval()
    x_conv = torch.randn(64, 64, 16, 16, generator=g)
    conv_res = rounds({"PyTorch": conv, "analog": analog_copy(conv)}, x_conv,
                      max(args.calls // 3, 5), args.rounds)

    rows = [("MLP 784-512-512-10", mlp_res, "analog", 2.5),
            ("same, t = 0 (no read noise)", mlp_res, "t=0", None),
            ("demo CNN (batch 256 of 1×8×8)", cnn_res, "analog", 4.0),
            ("Linear 512×512", lin_res, "analog", None),
            ("Conv2d 64→64 3×3, 16×16 (batch 64)", conv_res, "analog", None)]
    print(f"\nanalog forward (ibm-hermes-pcm, 1 day) / PyTorch forward; {args.clock} time, median of "
          f"{args.calls} interleaved calls per round, {args.rounds} rounds\n")
    print("| model | PyTorch | aimc analog | ratio (range over rounds) | issue target |")
    print("|---|---|---|---|---|")
    failed = False
    for name, res, variant, target in rows:
        t_d, t_a, ratio, lo, hi = summary(res, variant)
        failed |= target is not None and ratio > target
        print(f"| {name} | {t_d:.2f} ms | {t_a:.2f} ms | {ratio:.1f}× ({lo:.1f}–{hi:.1f}) | "
              f"{'—' if target is None else f'≤ {target}×'} |")
    print("\nfloors, / PyTorch forward (median, range over rounds):\n")
    print("| floor | MLP 784-512-512-10 | demo CNN |")
    print("|---|---|---|")
    fmt = "{2:.1f}× ({3:.1f}–{4:.1f})"
    print(f"| two products per array alone | {fmt.format(*summary(mlp_res, 'two products'))} | — |")
    print(f"| analog forward with free normal numbers | {fmt.format(*summary(mlp_res, 'free normals'))} | "
          f"{fmt.format(*summary(cnn_res, 'free normals'))} |")
    counts = normals_per_forward(analog_mlp, x_mlp), normals_per_forward(analog_copy(cnn), x_cnn)
    print(f"\nnormal numbers drawn per forward (batch 256): MLP {counts[0] / 1e3:.0f} k, "
          f"demo CNN {counts[1] / 1e6:.2f} M; PyTorch's CPU sampler: {sampler_ns_per_number():.1f} ns "
          "per number")
    print(f"\nload average after: {load()}; {time.perf_counter() - start:.0f} s")
    if failed and args.strict:
        raise SystemExit("a ratio is above its target")


if __name__ == "__main__":
    main()
