"""aimc and IBM aihwkit 1.2 timed side by side in one process, with each one's output error.

Commands (aihwkit is never a dependency of aimc; it lives in its own venv, which also gets aimc):

    bash benchmarks/peers/build_aihwkit.sh                          # once, ~5 min on 2 cores
    .peers/aihwkit-venv/bin/python benchmarks/peers/side_by_side.py  # the table
    .venv/bin/python benchmarks/peers/side_by_side.py                # aimc side only (no aihwkit)

Workloads (random weights, seeded): Linear 512×512 batch 1024, MLP 784-512-512-10 batch 256,
the demo digits CNN batch 256 (8×8 inputs), Conv2d 64→64 3×3 on 64×64×16×16.

Contestants, all at 1 day after programming:
- aimc, ``ibm-hermes-pcm`` preset (GDC on): read noise all fresh at every read
  (``read_window=None``; normal numbers from the default counter-based sampler); the same with
  the noise variance computed in bfloat16 (``aimc.nn.set_noise_precision``); all fresh with
  PyTorch's normal sampler (``aimc.nn.set_noise_sampler(model, "torch")``); banded
  1/f noise with a read window of 1 ms (the band below 1 kHz frozen per evaluation, the rest
  fresh at every read); all frozen (``read_window = 2 t_read``, aihwkit's behaviour); the
  preset's own read window (only when the preset sets one); and read noise off
  (``read_noise_scale=0``; programming noise and drift stay).
- aihwkit, its PCM inference setup (``PCMLikeNoiseModel(g_max=25)``, global drift compensation,
  default forward I/O): the tile in PyTorch (``TorchInferenceRPUConfig``) and the C++ tile
  (``InferenceRPUConfig``), each with the default mapping and with ``weight_scaling_omega=1``.
  aihwkit draws its read noise once per ``drift_analog_weights`` call and freezes it for the
  evaluation; aimc's fresh noise is drawn at every read.

Timing: every forward of one workload is timed call by call in alternation (``--calls`` calls per
round, the median per contestant and round), ``--rounds`` rounds; a cell is the median over rounds
of the per-round ratio to plain PyTorch, with its range. Process CPU time by default (not inflated
by other jobs on the cores; ``--clock wall`` for elapsed time). torch threads pinned (``--threads``,
1 by default; aihwkit's C++ tile uses OpenBLAS, pinned by OPENBLAS_NUM_THREADS set here before
import). The error column is ``‖y − y_digital‖ / ‖y_digital‖`` over the workload's batch.

Pulsed training step (``--no-pulsed`` skips it): 784-256-10 ReLU MLP, batch 64 (seeded random
data), learning rate 0.1, constant-step and soft-bounds devices with each tool's defaults; blocks of
``--steps`` steps per contestant alternate, ``--rounds`` rounds, after 20 warm-up steps each; the
cell is the median per-round ratio to a digital ``torch.optim.SGD`` step.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

if __name__ == "__main__":  # pin BLAS threads before numpy/torch load OpenBLAS
    _threads = "1"
    for i, a in enumerate(sys.argv):
        if a == "--threads" and i + 1 < len(sys.argv):
            _threads = sys.argv[i + 1]
        elif a.startswith("--threads="):
            _threads = a.split("=", 1)[1]
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, _threads)

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # aimc from this checkout

import torch  # noqa: E402
from torch import nn  # noqa: E402

import aimc  # noqa: E402
from aimc.models import digits_cnn, mlp  # noqa: E402

DAY = 86400.0
CLOCKS = {"cpu": time.process_time, "wall": time.perf_counter}


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} / {five:.2f} / {fifteen:.2f} (1 / 5 / 15 min)"


def workloads(seed: int = 0) -> list[tuple[str, nn.Module, torch.Tensor]]:
    """The four workloads of issue 13: (name, digital model, input batch), seeded."""
    g = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)  # the models' default initialisation
    return [("Linear 512×512, batch 1024", nn.Linear(512, 512), torch.randn(1024, 512, generator=g)),
            ("MLP 784-512-512-10, batch 256", mlp(), torch.rand(256, 784, generator=g)),
            ("demo digits CNN, batch 256", digits_cnn(), torch.rand(256, 1, 8, 8, generator=g)),
            ("Conv2d 64→64 3×3, 64×64×16×16", nn.Conv2d(64, 64, 3, padding=1),
             torch.randn(64, 64, 16, 16, generator=g))]


#: the read window of the banded contestant: a batch's worth of reads on the chip
BANDED_WINDOW = 1e-3


def aimc_copy(model: nn.Module, noise: str) -> nn.Module:
    """``noise``: "fresh" (all fresh), "fresh bf16" (all fresh, noise variance in bfloat16),
    "fresh torch" (all fresh, float32 variances, normal numbers from PyTorch's sampler),
    "banded" (``read_window = BANDED_WINDOW``), "frozen" (``read_window = 2 t_read``), "preset"
    (the preset's read window), "off" (read noise off)."""
    chip = aimc.load_chip()
    dev = chip.device
    window = {"fresh": None, "fresh bf16": None, "fresh torch": None,
              "banded": BANDED_WINDOW, "frozen": 2 * dev.t_read}
    if noise in window:
        dev = dev.model_copy(update={"read_window": window[noise]})
    elif noise == "off":
        dev = dev.model_copy(update={"read_noise_scale": 0.0})
    chip = chip.model_copy(update={"device": dev})
    analog, _ = aimc.convert(model, chip)
    if noise == "fresh bf16":
        aimc.nn.set_noise_precision(analog, torch.bfloat16)
    if noise == "fresh torch":
        aimc.nn.set_noise_sampler(analog, "torch")
    aimc.program(analog, seed=0)
    aimc.drift(analog, DAY)
    return analog.eval()


def aihwkit_copy(model: nn.Module, compiled: bool, omega: float | None) -> nn.Module:
    from aihwkit.inference import PCMLikeNoiseModel
    from aihwkit.nn.conversion import convert_to_analog
    from aihwkit.simulator.configs import InferenceRPUConfig, TorchInferenceRPUConfig

    config = InferenceRPUConfig() if compiled else TorchInferenceRPUConfig()
    config.noise_model = PCMLikeNoiseModel(g_max=25.0)
    if omega is not None:
        config.mapping.weight_scaling_omega = omega
    analog = convert_to_analog(model, config).eval()
    torch.manual_seed(0)
    analog.program_analog_weights()
    analog.drift_analog_weights(DAY)
    return analog


def contestants(model: nn.Module, with_aihwkit: bool) -> dict[str, Callable]:
    out: dict[str, Callable] = {"PyTorch": model, "aimc fresh": aimc_copy(model, "fresh"),
                                "aimc fresh, bf16 variance": aimc_copy(model, "fresh bf16"),
                                "aimc fresh, PyTorch sampler": aimc_copy(model, "fresh torch")}
    if aimc.load_chip().device.read_window is not None:  # banded 1/f noise: the preset's window
        out["aimc preset window"] = aimc_copy(model, "preset")
    out[f"aimc banded (T_w = {BANDED_WINDOW * 1e3:g} ms)"] = aimc_copy(model, "banded")
    out["aimc all frozen (T_w = 2 t_read)"] = aimc_copy(model, "frozen")
    out["aimc noise off"] = aimc_copy(model, "off")
    if with_aihwkit:
        for compiled, tile in ((False, "torch"), (True, "C++")):
            out[f"aihwkit {tile}"] = aihwkit_copy(model, compiled, None)
            out[f"aihwkit {tile} ω=1"] = aihwkit_copy(model, compiled, 1.0)
    return out


def interleaved(variants: dict[str, Callable], x: torch.Tensor, calls: int,
                clock: Callable[[], float]) -> dict[str, float]:
    """Median seconds per call of each variant, timed call by call in alternation."""
    times: dict[str, list[float]] = {k: [] for k in variants}
    with torch.no_grad():
        for f in variants.values():
            f(x)  # warm-up
        for _ in range(calls):
            for name, f in variants.items():
                start = clock()
                f(x)
                times[name].append(clock() - start)
    return {k: statistics.median(v) for k, v in times.items()}


def rel_error(f: Callable, model: nn.Module, x: torch.Tensor) -> float:
    with torch.no_grad():
        ref = model(x)
        return float((f(x) - ref).norm() / ref.norm())


def pulsed_contestants(device: str, with_aihwkit: bool) -> dict[str, tuple[nn.Module, torch.optim.Optimizer]]:
    """784-256-10 ReLU MLP trained at learning rate 0.1: digital SGD, aimc's pulsed layers with
    ``AnalogSGD`` (``aimc.training.to_pulsed``) and aihwkit's pulsed ``SingleRPUConfig`` tile with
    its ``AnalogSGD``, on a constant-step or soft-bounds device (each tool's default parameters)."""
    from aimc.devices import ConstantStep, SoftBounds
    from aimc.training import AnalogSGD, to_pulsed

    def net() -> nn.Module:
        torch.manual_seed(0)
        return nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 10))

    digital = net()
    out = {"digital SGD": (digital, torch.optim.SGD(digital.parameters(), lr=0.1))}
    pulsed = to_pulsed(net(), ConstantStep() if device == "constant" else SoftBounds(), seed=0)
    out["aimc pulsed"] = (pulsed, AnalogSGD(pulsed.parameters(), lr=0.1))
    if with_aihwkit:
        from aihwkit.nn.conversion import convert_to_analog
        from aihwkit.optim import AnalogSGD as KitSGD
        from aihwkit.simulator.configs import ConstantStepDevice, SingleRPUConfig, SoftBoundsDevice

        kit_dev = ConstantStepDevice() if device == "constant" else SoftBoundsDevice()
        kit = convert_to_analog(net(), SingleRPUConfig(device=kit_dev))
        opt = KitSGD(kit.parameters(), lr=0.1)
        opt.regroup_param_groups(kit)
        out["aihwkit pulsed"] = (kit, opt)
    return out


def pulsed_rounds(device: str, with_aihwkit: bool, rounds: int, steps: int,
                  clock: Callable[[], float]) -> str:
    """Median over rounds of the per-round ratio of one training step to digital SGD's."""
    pairs = pulsed_contestants(device, with_aihwkit)
    g = torch.Generator().manual_seed(1)
    x, y = torch.rand(64 * 16, 784, generator=g), torch.randint(0, 10, (64 * 16,), generator=g)

    def block(model: nn.Module, opt: torch.optim.Optimizer, n: int) -> float:
        total = 0.0
        for i in range(n):
            j = 64 * (i % 16)
            start = clock()
            opt.zero_grad()
            nn.functional.cross_entropy(model(x[j:j + 64]), y[j:j + 64]).backward()
            opt.step()
            total += clock() - start
        return total / n

    for model, opt in pairs.values():
        block(model, opt, 20)  # warm-up, and gradients of real training
    results = [{k: block(m, o, steps) for k, (m, o) in pairs.items()} for _ in range(rounds)]
    base = 1e3 * statistics.median(d["digital SGD"] for d in results)
    cells = []
    for k in pairs:
        if k == "digital SGD":
            continue
        ratios = [d[k] / d["digital SGD"] for d in results]
        cells.append(f"{k} {statistics.median(ratios):.2f}× ({min(ratios):.2f}–{max(ratios):.2f})")
    return f"| pulsed step 784-256-10, batch 64, {device} | {base:.2f} ms | " + "; ".join(cells) + " |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15, help="interleaved rounds (median of ratios)")
    parser.add_argument("--calls", type=int, default=5, help="timed calls per contestant and round")
    parser.add_argument("--threads", type=int, default=1, help="torch and BLAS threads (pinned)")
    parser.add_argument("--clock", choices=sorted(CLOCKS), default="cpu")
    parser.add_argument("--no-aihwkit", action="store_true", help="time the aimc side only")
    parser.add_argument("--no-pulsed", action="store_true", help="skip the pulsed training step")
    parser.add_argument("--steps", type=int, default=5, help="pulsed steps per contestant and round")
    parser.add_argument("--only", default=None, help="run only workloads whose name contains this")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    clock = CLOCKS[args.clock]
    with_aihwkit = not args.no_aihwkit
    version = "not used"
    if with_aihwkit:
        try:
            import aihwkit
            version = aihwkit.__version__
        except ImportError:
            print("aihwkit is not importable here (build it: bash benchmarks/peers/build_aihwkit.sh, "
                  "then run with .peers/aihwkit-venv/bin/python); timing the aimc side only")
            with_aihwkit = False
    chip = aimc.load_chip()
    print(f"aimc (chip {chip.name}, read_window of the preset: {chip.device.read_window}), aihwkit "
          f"{version}, torch {torch.__version__}, {torch.get_num_threads()} torch thread(s), "
          f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS')}; {args.clock} clock, "
          f"{args.rounds} rounds × {args.calls} calls; load before: {load()}", flush=True)
    rows = []
    names: list[str] = []
    by_contestant: dict[str, list[str]] = {}
    workload_names: list[str] = []
    for name, model, x in workloads():
        if args.only and args.only not in name:
            continue
        model = model.eval()
        variants = contestants(model, with_aihwkit)
        names = [k for k in variants if k != "PyTorch"]
        errors = {k: rel_error(f, model, x) for k, f in variants.items() if k != "PyTorch"}
        results = []
        for r in range(args.rounds):
            results.append(interleaved(variants, x, args.calls, clock))
            if sys.stderr.isatty():
                print(f"  {name}: round {r + 1}/{args.rounds}, load {load()}", end="\r",
                      file=sys.stderr, flush=True)
        base = 1e3 * statistics.median(d["PyTorch"] for d in results)
        workload_names.append(name)
        by_contestant.setdefault("PyTorch", []).append(f"{base:.2f} ms")
        cells = []
        for k in names:
            ratios = [d[k] / d["PyTorch"] for d in results]
            cells.append(f"{statistics.median(ratios):.2f}× ({min(ratios):.2f}–{max(ratios):.2f}), "
                         f"err {errors[k]:.3f}")
            by_contestant.setdefault(k, []).append(cells[-1])
        rows.append(f"| {name} | {base:.2f} ms | " + " | ".join(cells) + " |")
        print(rows[-1], flush=True)
    print("\n| workload | PyTorch | " + " | ".join(f"{k} / PyTorch" for k in names) + " |")
    print("|---|---|" + "---|" * len(names))
    print("\n".join(rows))
    print("\nThe same, one row per contestant:\n\n| contestant | " + " | ".join(workload_names) + " |")
    print("|---|" + "---|" * len(workload_names))
    for k, cells in by_contestant.items():
        print(f"| {k} | " + " | ".join(cells) + " |")
    if not args.no_pulsed:
        print("\n| pulsed training | digital SGD step | step / digital SGD step |\n|---|---|---|")
        for device in ("constant", "softbounds"):
            print(pulsed_rounds(device, with_aihwkit, args.rounds, args.steps, clock), flush=True)
    print(f"\nCells: median over {args.rounds} rounds of the per-round ratio of medians ({args.calls} "
          f"interleaved calls), range over rounds; err = ‖y − y_digital‖ / ‖y_digital‖. "
          f"Load after: {load()}")


if __name__ == "__main__":
    main()
