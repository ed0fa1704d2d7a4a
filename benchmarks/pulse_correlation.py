"""Variance of the summed update of one column (error) train: shared pulse trains vs the
slot-by-slot reference vs the independent per-device count sampler.

On a chip every device of one column sees the same column pulse train (and every device of one
row the same row train), so the devices' updates are correlated. Measured here on the two layers
of the 784-256-10 MLP of ``bench_training.py`` after 200 steps of pulsed training (one real batch
of 64: its inputs ``x`` and errors ``δ``), with noise-free constant-step devices, so that only the
pulse statistics vary: for ``--replicas`` independent draws of the same update, the variance of
``S_j = Σ_i ΔW[j, i]`` over replicas, summed over ``--columns`` columns (those with the largest
``Σ_b |δ_bj|``; column trains are independent of each other, so a subset of columns is exact), for

* ``reference``: :func:`aimc.array.pulsed_update_exact` (every slot of every train);
* ``shared``: :func:`aimc.array.pulsed_update` with ``PulseUpdate(sampler="shared")`` (default);
* ``independent``: ``PulseUpdate(sampler="independent")`` (per-device counts).

Printed: each variance over the reference's, and the correlation factor ``var(S_j) / Σ_i
var(ΔW[j, i])`` of the reference (1 for independent devices). Run:
``python benchmarks/pulse_correlation.py``.
"""

from __future__ import annotations

import argparse
import math

import torch
from bench_training import data, models  # noqa: I001 (benchmarks/ is the script's folder)
from torch import nn

import aimc.training.pulsed as pulsed_module
from aimc.array import PulseUpdate, pulsed_update, pulsed_update_exact
from aimc.devices import ConstantStep


def captured_batches(steps: int = 200) -> dict[tuple[int, int], tuple[torch.Tensor, torch.Tensor, float]]:
    """``x``, ``δ`` and device learning rate of each pulsed layer's update at step ``steps``."""
    x, y = data(64 * steps)
    _, (model, opt) = models("constant")
    seen, original = {}, pulsed_module.pulsed_update

    def spy(w, state, device, xb, d, lr, config, generator, **kw):
        seen[tuple(w.shape)] = (xb.clone(), d.clone(), lr)
        return original(w, state, device, xb, d, lr, config, generator, **kw)

    pulsed_module.pulsed_update = spy
    try:
        for k in range(steps):
            opt.zero_grad()
            nn.functional.cross_entropy(model(x[64 * k:64 * k + 64]), y[64 * k:64 * k + 64]).backward()
            opt.step()
    finally:
        pulsed_module.pulsed_update = original
    return seen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replicas", type=int, default=400)
    parser.add_argument("--columns", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(1)
    device = ConstantStep(dw_min_std=0.0, dw_min_dtod=0.0, up_down_dtod=0.0, w_max_dtod=0.0,
                          w_min_dtod=0.0)
    print(f"784-256-10 MLP after 200 pulsed steps, one batch of 64, BL 31, {args.replicas} replicas, "
          f"the {args.columns} columns with the largest errors; noise-free constant-step devices")
    for (out, n_in), (x, d, lr) in captured_batches().items():
        cols = d.abs().sum(0).argsort(descending=True)[:min(args.columns, out)]
        d = d[:, cols].contiguous()
        g = torch.Generator().manual_seed(args.seed)
        state = device.draw((len(cols), n_in), g)
        w0 = torch.zeros(len(cols), n_in)
        reference = pulsed_update_exact(w0.expand(args.replicas, *w0.shape), state, device, x, d, lr,
                                        PulseUpdate(), g)
        changes = {"reference": reference}
        for sampler in ("shared", "independent"):
            runs = []
            for _ in range(args.replicas):
                w = w0.clone()
                pulsed_update(w, state, device, x, d, lr, PulseUpdate(sampler=sampler), g)
                runs.append(w)
            changes[sampler] = torch.stack(runs)
        var_sum = {k: v.sum(2).double().var(0).sum().item() for k, v in changes.items()}
        independent_sum = changes["reference"].double().var(0).sum().item()
        factor = var_sum["reference"] / independent_sum
        se = math.sqrt(2 / (args.replicas - 1))  # relative SE of a variance (normal sums)
        print(f"layer {n_in} -> {out}: variance of a column train's summed update / reference: "
              f"shared {var_sum['shared'] / var_sum['reference']:.3f}, independent "
              f"{var_sum['independent'] / var_sum['reference']:.3f} (relative SE of each ~{se:.3f}); "
              f"reference correlation factor var(sum) / sum(var) = {factor:.1f}")


if __name__ == "__main__":
    main()
