"""Study: fixed DAC input ranges, calibrated (percentile) and learned (PACT in hardware-aware training).

Part 1, the demo CNN (digits, trained digitally, seed 0) on the IBM PCM preset with its DAC
switched from per-vector abs-max scaling to a fixed input range: accuracy 1 day after
programming (mean ± std over ``--repeats`` chip instances, GDC on) with the range left at 1,
and after ``aimc.calibrate_input_ranges(analog, x_train, quantile=0.9999)``; abs-max scaling
(the preset as it is) for reference.

Part 2, a 20-16-3 ReLU MLP on synthetic 3-class data (x ~ 3·N(0, 1), 20 features; label = argmax
of a random linear map; 2048 training and 1024 test samples) on ideal devices with a 5-bit DAC
of fixed range, trained hardware-aware for ``--epochs`` epochs (Adam, lr 1e-2): range left at
0.5, learned from 0.5 (``HWAConfig(learn_input_range=True)``), calibrated before training, and
calibrated then learned; test accuracy, mean ± std over ``--seeds`` seeds (data, weights and
training seeded together). The README's input-range figures come from here.

Run: ``python benchmarks/study_input_ranges.py [--repeats 10] [--seeds 3]``.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from torch import nn

import aimc
from aimc.chips import ChipSpec, load_chip
from aimc.data import digits
from aimc.demo import DAY, train_demo_model
from aimc.training import HWAConfig, Trainer, enable_hwa


def fixed_range(chip: ChipSpec, input_range: float, bits: int | None = None) -> ChipSpec:
    update = {"scaling": "fixed", "input_range": input_range} | ({} if bits is None else {"bits": bits})
    return chip.model_copy(update={"dac": chip.dac.model_copy(update=update)})


def demo_cnn(repeats: int) -> None:
    data = digits(seed=0)
    model = train_demo_model(data, epochs=30, seed=0)
    test = (data.x_test, data.y_test)
    print(f"Part 1: demo CNN on ibm-hermes-pcm, 1 day after programming, {repeats} chip instances, GDC on; "
          f"digital {100 * aimc.accuracy(model, test):.2f} %\n")
    print("| DAC input scaling | accuracy at 1 day (%) |")
    print("|---|---|")
    base = load_chip("ibm-hermes-pcm")
    arms = (("per-vector abs-max (the preset)", base, False),
            ("fixed range 1", fixed_range(base, 1.0), False),
            ("fixed range, calibrated (99.99 % quantile)", fixed_range(base, 1.0), True))
    for label, chip, calibrate in arms:
        analog, _ = aimc.convert(model, chip)
        if calibrate:
            ranges = aimc.calibrate_input_ranges(analog, (data.x_train, data.y_train), quantile=0.9999)
            label += " [" + ", ".join(f"{r:.2f}" for r in ranges.values()) + "]"
        res = aimc.evaluate_over_time(analog, test, [DAY], repeats=repeats, progress=False)
        print(f"| {label} | {100 * res.mean[0]:.2f} ± {100 * res.std[0]:.2f} |", flush=True)


def toy(seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(3072, 20, generator=g) * 3
    return x, (x @ torch.randn(20, 3, generator=g)).argmax(1)


def small_mlp(seeds: int, epochs: int) -> None:
    chip = fixed_range(load_chip("ideal"), 0.5, bits=5)
    arms = {"range left at 0.5": (False, False), "learned from 0.5": (False, True),
            "calibrated (99.99 % quantile)": (True, False), "calibrated, then learned": (True, True)}
    acc: dict[str, list[float]] = {k: [] for k in arms}
    for seed in range(seeds):
        x, y = toy(seed)
        train, test = (x[:2048], y[:2048]), (x[2048:], y[2048:])
        for label, (calibrate, learn) in arms.items():
            torch.manual_seed(seed)
            analog, _ = aimc.convert(nn.Sequential(nn.Linear(20, 16), nn.ReLU(), nn.Linear(16, 3)), chip)
            if calibrate:
                aimc.calibrate_input_ranges(analog, train, quantile=0.9999)
            enable_hwa(analog, HWAConfig(learn_input_range=learn), seed=seed)
            Trainer(analog, torch.optim.Adam(analog.parameters(), lr=1e-2), seed=seed).fit(
                train, epochs=epochs, progress=False)
            aimc.program(analog, seed=seed)
            acc[label].append(100 * aimc.accuracy(analog, test))
    print(f"\nPart 2: 20-16-3 MLP, ideal devices, 5-bit fixed-range DAC, synthetic 3-class data, "
          f"{epochs} epochs hardware-aware, {seeds} seeds\n")
    print("| input range | test accuracy (%) | per seed |")
    print("|---|---|---|")
    for label, values in acc.items():
        spread = statistics.stdev(values) if len(values) > 1 else 0.0
        print(f"| {label} | {statistics.mean(values):.1f} ± {spread:.1f} | "
              + ", ".join(f"{v:.1f}" for v in values) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=10, help="chip instances (part 1)")
    parser.add_argument("--seeds", type=int, default=3, help="training seeds (part 2)")
    parser.add_argument("--epochs", type=int, default=15, help="training epochs (part 2)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (pinned)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    start = time.perf_counter()
    demo_cnn(args.repeats)
    small_mlp(args.seeds, args.epochs)
    print(f"\n{torch.get_num_threads()} torch thread(s), {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
