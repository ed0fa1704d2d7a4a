"""Hardware-aware training on Fashion-MNIST: conventional vs HWA-trained CNN on the PCM preset.

Both networks start from the same seed and train for the same number of epochs (Adam, batch 128);
the HWA one sees, at every step, weights programmed, drifted to 1 month and read through the IBM
PCM preset's device model (``aimc.training.enable_hwa``). Both are then programmed on ``--repeats``
chip instances and evaluated 1 s, 1 month and 1 year after programming (GDC on). Prints mean ±
std and the difference in units of its standard error.

Needs the Debian package ``dataset-fashion-mnist``. Run: ``python benchmarks/hwa_fashion.py``.
"""

from __future__ import annotations

import argparse

import torch
from torch import nn

import aimc
from aimc.data import fashion_mnist
from aimc.training import HWAConfig, Trainer, enable_hwa

DAY = 86400.0
TIMES = {"1 s": 1.0, "1 month": 30 * DAY, "1 year": 365 * DAY}


def cnn() -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(1, 16, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(32 * 7 * 7, 128), nn.ReLU(), nn.Linear(128, 10))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--train", type=int, default=60000, help="training images used")
    args = parser.parse_args()
    data = fashion_mnist()
    x, y = data.x_train[:args.train], data.y_train[:args.train]
    test = (data.x_test, data.y_test)
    chip = aimc.load_chip("ibm-hermes-pcm")
    results = {}
    for label, hwa in (("conventional", False), ("hardware-aware", True)):
        torch.manual_seed(0)
        model = cnn()
        if hwa:  # convert first, then train with the chip's noise in the loop
            model, _ = aimc.convert(model, chip)
            enable_hwa(model, HWAConfig(t_inference=30 * DAY), seed=0)
        Trainer(model, torch.optim.Adam(model.parameters(), lr=2e-3), seed=0).fit(
            (x, y), epochs=args.epochs, batch_size=128)
        if not hwa:  # trained digitally, then put on the chip
            model, _ = aimc.convert(model, chip)
        results[label] = aimc.evaluate_over_time(model, test, list(TIMES.values()), repeats=args.repeats)
        print(label, {t: f"{100 * m:.2f} ± {100 * s:.2f}" for t, m, s in
                      zip(TIMES, results[label].mean, results[label].std, strict=True)}, flush=True)
    a, b = results["conventional"], results["hardware-aware"]
    n = args.repeats
    print("\n| time | conventional | hardware-aware | difference / standard error |")
    print("|---|---|---|---|")
    for k, t in enumerate(TIMES):
        se = ((a.std[k] ** 2 + b.std[k] ** 2) / n) ** 0.5
        diff = b.mean[k] - a.mean[k]
        print(f"| {t} | {100 * a.mean[k]:.2f} ± {100 * a.std[k]:.2f} | {100 * b.mean[k]:.2f} ± "
              f"{100 * b.std[k]:.2f} | {diff / se if se > 0 else float('inf'):+.1f} |")


if __name__ == "__main__":
    main()
