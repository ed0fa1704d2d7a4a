"""How much a bfloat16 noise-variance product (``aimc.nn.set_noise_precision``) changes the read,
and how the accuracy moves with it and with PyTorch's normal sampler instead of the default
counter-based one.

    python benchmarks/study_noise_precision.py [--repeats 10]

1. The noise itself: for the Linear 512×512 and MLP workloads of ``benchmarks/peers/side_by_side.py``
   (``ibm-hermes-pcm``, 1 day after programming), the standard deviation of every output's read
   noise, ``sqrt(op(V*V, sigma^2))``, computed in float32 and in bfloat16; printed: the relative
   error of the bfloat16 std, its mean (bias) and its largest magnitude.
2. The accuracy: the demo CNN on digits (``aimc demo``'s network and test split), 10 chip
   instances at the demo's five times with GDC, the default (float32 variances, the
   counter-based sampler) against bfloat16 variances and against PyTorch's sampler
   (``aimc.nn.set_noise_sampler(model, "torch")``), on the same chip instances and seeds
   (paired over instances: the same programmed devices; PyTorch's sampler draws other
   read-noise numbers): mean accuracy of each and the paired difference to the default with its
   standard error over the instances.
torch threads pinned to 1.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import aimc  # noqa: E402
from aimc.array.crossbar import column_variance  # noqa: E402
from aimc.nn import analog_tiles, set_noise_precision, set_noise_sampler  # noqa: E402


def std_error(model: torch.nn.Module, x: torch.Tensor) -> list[float]:
    """Relative errors of the bfloat16 noise std of every output of every analog layer."""
    errors = []
    captured: dict[str, torch.Tensor] = {}
    hooks = [m.register_forward_pre_hook(lambda mod, args, n=n: captured.__setitem__(n, args[0]))
             for n, m in model.named_modules() if isinstance(m, aimc.nn.AnalogLinear)]
    with torch.no_grad():
        model(x)
    for h in hooks:
        h.remove()
    for name, tile in analog_tiles(model):
        layer = name[:-len("tile")].rstrip(".")  # "tile" of a bare layer, "0.tile" in a Sequential
        inputs = captured[layer]
        levels, _ = tile.dac.to_levels(inputs.reshape(-1, tile.in_features))
        levels = torch.nn.functional.pad(levels, (0, tile.padded_rows - tile.in_features))
        stds = {}
        for dtype in (torch.float32, torch.bfloat16):
            tile.noise_precision, tile._layouts = dtype, {}
            m = tile.matrices(aimc.tile._output_major, key="linear", bias_layout=aimc.tile._output_major_bias)
            rows = tile.rows_per_array
            parts = []
            for a in range(tile.row_arrays):
                v = levels[:, a * rows:(a + 1) * rows]
                var = column_variance(v, v @ m.w[a].T, m.var[a], torch.nn.functional.linear)
                parts.append(var.sqrt())
            stds[dtype] = torch.cat(parts, 1)
        tile.noise_precision, tile._layouts = torch.float32, {}
        keep = stds[torch.float32] > 0
        errors.append((stds[torch.bfloat16][keep] / stds[torch.float32][keep] - 1).double())
    return torch.cat(errors).tolist()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=10)
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(f"torch {torch.__version__}, 1 thread; load {os.getloadavg()[0]:.2f}")
    sys.path.insert(0, str(Path(__file__).resolve().parent / "peers"))
    from side_by_side import aimc_copy, workloads

    print("| workload | outputs | mean relative error of the noise std (bias) | largest |")
    print("|---|---|---|---|")
    for name, model, x in workloads():
        if "Linear" not in name and "MLP" not in name:
            continue
        err = np.array(std_error(aimc_copy(model, "fresh"), x))
        print(f"| {name} | {err.size:,} | {err.mean():+.2e} | {np.abs(err).max():.2e} |")

    from aimc.demo import TIMES, trained_demo, with_gdc
    from aimc.evaluation import evaluate_over_time

    model, test = trained_demo()
    analog, _ = aimc.convert(model, with_gdc(aimc.load_chip()))
    settings = {"default": (torch.float32, "counter"), "bfloat16 variances": (torch.bfloat16, "counter"),
                "PyTorch's sampler": (torch.float32, "torch")}
    acc = {}
    for label, (dtype, sampler) in settings.items():
        set_noise_precision(analog, dtype)
        set_noise_sampler(analog, sampler)
        acc[label] = evaluate_over_time(analog, test, list(TIMES.values()), repeats=args.repeats,
                                        seed=0, compensate=True, progress=False).accuracies * 100
    others = [k for k in settings if k != "default"]
    print(f"\nDemo CNN, GDC, {args.repeats} chip instances (paired), test accuracy (%), difference to "
          f"the default ± its standard error over the instances:")
    print("| time | default | " + " | ".join(others) + " |")
    print("|---|---|" + "---|" * len(others))
    for k, label in enumerate(TIMES):
        cells = []
        for other in others:
            d = acc[other][:, k] - acc["default"][:, k]
            se = d.std(ddof=1) / np.sqrt(len(d)) if len(d) > 1 else float("nan")
            cells.append(f"{acc[other][:, k].mean():.2f} ({d.mean():+.3f} ± {se:.3f})")
        print(f"| {label} | {acc['default'][:, k].mean():.2f} | " + " | ".join(cells) + " |")

if __name__ == "__main__":
    main()
