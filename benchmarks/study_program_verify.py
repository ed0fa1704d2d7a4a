"""Study: program-and-verify against one-shot programming, PCM and RRAM.

Programs ``--devices`` devices (default 10^5) with targets drawn uniformly in [0, g_max] (seed 1)
once one-shot and then closed-loop with :class:`aimc.calibration.ProgramVerify` at its defaults
(verify read 1 us after each write with the device's read noise, rewrite the devices outside
±2 % of g_max, up to 10 rounds, no aim correction), for the default ``PCM()`` and ``RRAM()``
device models, and for RRAM once more with an aim correction of gain 0.5 (a rewrite keeps
RRAM's device-to-device offset, which only a corrected aim removes), and
prints the rms conductance error (true conductance at the verify time against the target),
the fraction of devices within tolerance and the writes and reads per device. With ``--plot``
it saves the error against the iteration to ``docs/img/program_verify.png``. The README's
program-and-verify figures come from here.

Run: ``python benchmarks/study_program_verify.py [--devices 100000] [--plot]``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from aimc.calibration import ProgramVerify
from aimc.devices import PCM, RRAM

PLOT = Path(__file__).resolve().parent.parent / "docs" / "img" / "program_verify.png"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=100_000)
    parser.add_argument("--plot", action="store_true", help=f"save the error per iteration to {PLOT}")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (pinned)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    start = time.perf_counter()
    verify = ProgramVerify()
    print(f"{args.devices} devices, uniform targets in [0, g_max]; ProgramVerify(tolerance="
          f"{verify.tolerance:g} g_max, max_iterations={verify.max_iterations}, gain={verify.gain:g}, "
          f"t_verify={verify.t_verify:g} s)\n")
    print("| device | g_max | rms error one-shot | after verify | ratio | within tolerance at the "
          "verify read (one-shot → verified) | writes per device | verify reads per device |")
    print("|---|---|---|---|---|---|---|---|")
    histories = {}
    arms = (("PCM", PCM(), verify), ("RRAM", RRAM(), verify),
            ("RRAM, gain 0.5", RRAM(), verify.model_copy(update={"gain": 0.5})))
    for name, device, verify in arms:
        uniform = torch.rand(args.devices, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
        g = uniform * device.g_max
        _, hist = verify.program(device, g, torch.Generator().manual_seed(0))
        histories[name] = hist
        n = args.devices
        e0, e1 = 1e6 * hist.rms_error[0], 1e6 * hist.rms_error[-1]
        print(f"| {name} | {1e6 * device.g_max:g} µS | {e0:.3f} µS | {e1:.3f} µS | {e1 / e0:.2f} | "
              f"{100 * hist.converged[0]:.1f} % → {100 * hist.converged[-1]:.1f} % | "
              f"{hist.pulses / n:.2f} | {hist.reads / n:.2f} |")
    print("\nrms error (µS) per iteration (0 = one-shot):")
    for name, hist in histories.items():
        print(f"  {name}: " + " ".join(f"{1e6 * e:.3f}" for e in hist.rms_error))
    if args.plot:
        from matplotlib.figure import Figure

        fig = Figure(figsize=(5.6, 3.8))
        ax = fig.add_subplot()
        for name, hist in histories.items():
            ax.semilogy(range(len(hist.rms_error)), [1e6 * e for e in hist.rms_error], marker="o", label=name)
        ax.set_xlabel("iteration (0 = one-shot programming)")
        ax.set_ylabel("rms conductance error (µS)")
        ax.set_title(f"program-and-verify, {args.devices} devices, uniform targets")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend()
        fig.tight_layout()
        PLOT.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(PLOT, dpi=110)
        print(f"\nplot: {PLOT.relative_to(PLOT.parent.parent.parent)}")
    print(f"\n{torch.get_num_threads()} torch thread(s), {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
