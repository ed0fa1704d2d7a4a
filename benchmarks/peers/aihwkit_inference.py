"""IBM aihwkit's analog inference forward timed side by side with aimc's and plain PyTorch's.

A peer comparison, never imported by the package. Same models, inputs and batch as
``benchmarks/bench_inference.py``; every forward of one model (PyTorch, aimc, aihwkit) is timed
call by call in alternation (process CPU time per call by default, see ``bench_inference.py``),
median per round, ``--rounds`` rounds; torch threads pinned.

aimc: ``ibm-hermes-pcm`` preset, programmed, drifted to 1 day (GDC on). aihwkit: its PCM
inference setup (``PCMLikeNoiseModel``, global drift compensation, default forward I/O: 7-bit
DAC, 9-bit ADC, output noise), programmed and drifted to 1 day. The configuration is aihwkit's
``TorchInferenceRPUConfig`` (the tile in PyTorch): the compiled tile of aihwkit 1.1.0's wheel
(``InferenceRPUConfig``) was built against an older torch and fails on torch 2.13 with
"weights must be a CPU tensor"; the script tries it and reports that.

aihwkit is not a dependency of aimc. Install it beside the project without touching the venv:

    .venv/bin/python -m pip install --no-deps --target /tmp/aihwkit aihwkit==1.1.0
    PYTHONPATH=/tmp/aihwkit .venv/bin/python benchmarks/peers/aihwkit_inference.py
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from pathlib import Path

import torch
from torch import nn

import aimc
from aimc.models import digits_cnn, mlp

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/: the shared timing loop
import bench_inference  # noqa: E402
from bench_inference import CLOCKS, interleaved  # noqa: E402

DAY = 86400.0


def aihwkit_copy(model: nn.Module, compiled: bool = False) -> nn.Module:
    from aihwkit.inference import PCMLikeNoiseModel
    from aihwkit.nn.conversion import convert_to_analog
    from aihwkit.simulator.configs import InferenceRPUConfig, TorchInferenceRPUConfig

    config = InferenceRPUConfig() if compiled else TorchInferenceRPUConfig()
    config.noise_model = PCMLikeNoiseModel(g_max=25.0)
    analog = convert_to_analog(model, config).eval()
    torch.manual_seed(0)
    analog.program_analog_weights()
    analog.drift_analog_weights(DAY)
    return analog


def aimc_copy(model: nn.Module) -> nn.Module:
    analog, _ = aimc.convert(model, aimc.load_chip())
    aimc.program(analog, seed=0)
    aimc.drift(analog, DAY)
    return analog.eval()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (pinned)")
    parser.add_argument("--clock", choices=sorted(CLOCKS), default="cpu",
                        help="cpu: the process's CPU time per call (not inflated when other jobs take the "
                             "cores, the default); wall: elapsed time")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    bench_inference.CLOCK = CLOCKS[args.clock]
    import aihwkit

    print(f"aihwkit {aihwkit.__version__}, torch {torch.__version__}, {torch.get_num_threads()} thread(s); "
          f"load average before: {os.getloadavg()[0]:.2f}")
    try:
        layer = aihwkit_copy(nn.Linear(8, 8), compiled=True)
        with torch.no_grad():
            layer(torch.randn(2, 8))
        print("compiled aihwkit tile (InferenceRPUConfig): works")
    except RuntimeError as err:
        print(f"compiled aihwkit tile (InferenceRPUConfig) fails on this torch: {err}")
    g = torch.Generator().manual_seed(0)
    cases = [("MLP 784-512-512-10", mlp(), torch.rand(256, 784, generator=g), args.calls),
             ("demo CNN", digits_cnn(), torch.rand(256, 1, 8, 8, generator=g), args.calls),
             ("Linear 512×512", nn.Linear(512, 512), torch.randn(256, 512, generator=g), args.calls),
             ("Conv2d 64→64 3×3, 16×16 (batch 64)", nn.Conv2d(64, 64, 3, padding=1),
              torch.randn(64, 64, 16, 16, generator=g), max(args.calls // 3, 5))]
    print("\n| model | PyTorch | aimc / PyTorch | aihwkit (torch tile) / PyTorch |")
    print("|---|---|---|---|")
    for name, model, x, calls in cases:
        torch.manual_seed(0)
        model = model.eval()
        variants = {"PyTorch": model, "aimc": aimc_copy(model), "aihwkit": aihwkit_copy(model)}
        res = [interleaved(variants, x, calls) for _ in range(args.rounds)]
        cells = []
        for k in ("aimc", "aihwkit"):
            r = [d[k] / d["PyTorch"] for d in res]
            cells.append(f"{statistics.median(r):.1f}× ({min(r):.1f}–{max(r):.1f})")
        base = 1e3 * statistics.median(d["PyTorch"] for d in res)
        print(f"| {name} | {base:.2f} ms | " + " | ".join(cells) + " |", flush=True)
    print(f"\n{args.clock} time, median of {args.calls} interleaved calls per round, {args.rounds} rounds "
          f"(range over rounds); load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
