"""Cost of one on-chip pulsed-training step relative to one digital SGD step.

One step = forward, backward and update of a 784-256-10 ReLU MLP on a batch of 64 Fashion-MNIST
images (random images if the data set is not installed). Digital: ``nn.Linear`` layers and
``torch.optim.SGD``. Pulsed: the same MLP with :class:`aimc.training.PulsedLinear` layers
(7-bit DAC, 9-bit ADC with noise, stochastic pulse-train update through the device response)
and :class:`aimc.training.AnalogSGD`, both at learning rate 0.1. Both models first train 200
steps so that the gradients, and hence the pulse counts, are those of real training. Timing
blocks of steps alternate between the two (interleaved), so that machine noise hits both; the
ratio is reported as the median over blocks with its range, and per phase.

Run: ``python benchmarks/bench_training.py [--device constant|softbounds|tikitaka]``.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from torch import nn

from aimc.devices import ConstantStep, SoftBounds
from aimc.training import AnalogSGD, TikiTaka, to_pulsed


def data(n: int) -> tuple[torch.Tensor, torch.Tensor]:
    try:
        from aimc.data import fashion_mnist

        d = fashion_mnist(limit=n)
        return d.x_train.reshape(-1, 784), d.y_train
    except FileNotFoundError:
        g = torch.Generator().manual_seed(0)
        return torch.rand(n, 784, generator=g), torch.randint(0, 10, (n,), generator=g)


def models(device: str):
    torch.manual_seed(0)
    digital = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 10))
    kw = {"algorithm": TikiTaka(gamma=1.0, columns_per_transfer=8)} if device == "tikitaka" else {}
    dev = ConstantStep() if device == "constant" else SoftBounds()
    pulsed = to_pulsed(digital, dev, seed=0, **kw)
    return ((digital, torch.optim.SGD(digital.parameters(), lr=0.1)),
            (pulsed, AnalogSGD(pulsed.parameters(), lr=0.1)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", choices=["constant", "softbounds", "tikitaka"], default="constant")
    parser.add_argument("--repeats", type=int, default=15, help="interleaved timing blocks")
    parser.add_argument("--steps", type=int, default=20, help="steps per block")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    x, y = data(64 * 400)
    pairs = models(args.device)
    cursor = {"i": 0}

    def batch():
        i = cursor["i"] = (cursor["i"] + 64) % (len(x) - 64)
        return x[i:i + 64], y[i:i + 64]

    phases = {name: {"forward": [], "backward": [], "update": []} for name in ("digital", "pulsed")}

    def block(model, opt, name, n, record=True):
        total = 0.0
        for _ in range(n):
            xb, yb = batch()
            t0 = time.perf_counter()
            opt.zero_grad()
            loss = nn.functional.cross_entropy(model(xb), yb)
            t1 = time.perf_counter()
            loss.backward()
            t2 = time.perf_counter()
            opt.step()
            t3 = time.perf_counter()
            total += t3 - t0
            if record:
                for key, dt in (("forward", t1 - t0), ("backward", t2 - t1), ("update", t3 - t2)):
                    phases[name][key].append(dt)
        return total / n

    for (model, opt), name in zip(pairs, ("digital", "pulsed"), strict=True):
        block(model, opt, name, 200, record=False)  # train into realistic gradients, warm up
    ratios, times = [], {"digital": [], "pulsed": []}
    for _ in range(args.repeats):
        t_d = block(*pairs[0], "digital", args.steps)
        t_p = block(*pairs[1], "pulsed", args.steps)
        times["digital"].append(t_d)
        times["pulsed"].append(t_p)
        ratios.append(t_p / t_d)
    print(f"784-256-10 MLP, batch 64, {args.threads} thread(s), device {args.device}, "
          f"{args.repeats} interleaved blocks of {args.steps} steps")
    for name in ("digital", "pulsed"):
        ms = [1e3 * t for t in times[name]]
        parts = ", ".join(f"{k} {1e3 * statistics.median(v):.2f}" for k, v in phases[name].items())
        print(f"  {name:8s} step {statistics.median(ms):6.2f} ms (range {min(ms):.2f}-{max(ms):.2f}); "
              f"median per phase (ms): {parts}")
    print(f"ratio pulsed / digital: median {statistics.median(ratios):.2f} "
          f"(range {min(ratios):.2f}-{max(ratios):.2f}); target <= 3")


if __name__ == "__main__":
    main()
