"""A GPT-2-small-sized decoder (124 M parameters) on analog tiles on one CPU: memory, s/token, chips.

Command: ``python benchmarks/gpt2_scale.py`` (about 5 min on one core of a quiet machine; peak
resident memory about 6.5 GB).

What it does, in one process: builds :func:`aimc.models.gpt.gpt2_small` (Radford et al. 2019:
50,257 tokens, context 1,024, 12 layers, 12 heads, 768 features, tied head; 124,439,808
parameters) with random N(0, 0.02) weights (seed 0; nothing is downloaded), generates 32 tokens
greedily from a 128-token prompt of random token ids (seed 1) with the digital model, converts it
to the 64-core PCM preset ``ibm-hermes-pcm`` (every ``nn.Linear``: 12 x (c_attn, c_proj, c_fc,
mlp c_proj) and the 50,257 x 768 output head, 124 M weights on tiles; token and position
embeddings stay digital lookups), programs one chip instance (seed 0), drifts it to 1 day with
global drift compensation, and generates the same 32 tokens' worth with the analog model. Both
use the key/value cache of :meth:`aimc.models.gpt.GPT.generate`: the prompt is run once (prefill,
128 positions in one forward), then each new token is one single-position forward, so each
weight matrix is read once per generated token. Greedy decoding (argmax) makes the two runs
comparable token by token; with random weights the logits are nearly flat, so the analog read
noise soon picks other tokens (the agreement printed is no measure of model quality).

Timing: wall-clock seconds with ``torch.set_num_threads(1)`` (one core: the machine's two cores
are shared), prefill and each generated token separately (mean and range over the 32), with the
load average printed beside. Programming and drift are timed tile by tile (grouped by matrix
kind) with the same seeds as ``aimc.program(model, seed)`` and ``aimc.drift(model, t)``.

Memory: the resident set of the process. Per phase, the peak resident set (``VmHWM`` of
``/proc/self/status``) after resetting it by writing ``5`` to ``/proc/self/clear_refs`` at the
start of the phase (Linux >= 4.0; if the reset is refused the column holds the running peak),
and the resident set ``VmRSS`` at the end of the phase. The whole run's peak is the largest of
the phase peaks (``resource.getrusage(RUSAGE_SELF).ru_maxrss`` reads the same kernel counter,
so it is reset with it; without the reset it is the whole run's peak itself). ``tracemalloc``
is not used: it sees Python objects only, not the tensors' C++ allocations. Also printed: aimc's
own estimate of what the analog model holds (``aimc.nn.lifecycle.estimate_bytes``) and the bytes
its tensors really hold (``held_bytes``).

Cost: ``aimc.compile`` on the digital model with a 1-token example (the cost of one generated
token on the KV-cached path: every matrix read once; attention's QKᵀ and AV over the cache are
digital and not in the figure) and with the 128-token prompt (the prefill), then
``aimc.cost.estimate``: arrays, chips needed, energy and latency per token.
"""

from __future__ import annotations

import argparse
import os
import resource
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch

import aimc
from aimc.cost import estimate
from aimc.models.gpt import GPT, gpt2_small
from aimc.nn.lifecycle import analog_tiles, check_fits, estimate_bytes, held_bytes

DAY = 86400.0
GB = 1e9


def status(key: str) -> int:
    """A ``/proc/self/status`` memory line in bytes."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) * 1024
    raise KeyError(key)


class Phases:
    """Wall time, peak resident set (reset per phase when the kernel allows) and resident set."""

    def __init__(self) -> None:
        self.rows: list[tuple[str, float, int, int]] = []
        self.reset_ok = True

    def start(self) -> float:
        try:
            Path("/proc/self/clear_refs").write_text("5")
        except OSError:
            self.reset_ok = False
        return time.perf_counter()

    def stop(self, label: str, started: float) -> float:
        seconds = time.perf_counter() - started
        self.rows.append((label, seconds, status("VmHWM"), status("VmRSS")))
        print(f"  {label}: {seconds:.1f} s, peak RSS {status('VmHWM') / GB:.2f} GB "
              f"(load average {os.getloadavg()[0]:.1f})", flush=True)
        return seconds


@torch.no_grad()
def greedy(model: GPT, prompt: torch.Tensor, new: int,
           ) -> tuple[torch.Tensor, float, list[float], torch.Tensor]:
    """Greedy KV-cached generation, timed: (tokens, prefill seconds, seconds per new token,
    logits of the prefill's last position). The same tokens as ``model.generate(prompt, new,
    temperature=0)``."""
    model.eval()
    cache: list = []
    t = time.perf_counter()
    logits = model(prompt, cache)[:, -1]
    prefill = time.perf_counter() - t
    first = logits.clone()
    out, per_token = [], []
    nxt = logits.argmax(-1, keepdim=True)
    out.append(nxt)
    for _ in range(new - 1):
        t = time.perf_counter()
        nxt = model(nxt, cache)[:, -1].argmax(-1, keepdim=True)
        per_token.append(time.perf_counter() - t)
        out.append(nxt)
    return torch.cat(out, 1), prefill, per_token, first


def kind(tile_name: str) -> str:
    name = tile_name.removesuffix(".tile")
    return "lm_head" if name == "lm_head" else name.split(".", 2)[-1]  # e.g. attn.c_attn


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompt", type=int, default=128, help="prompt tokens")
    parser.add_argument("--new", type=int, default=32, help="generated tokens")
    parser.add_argument("--chip", default="ibm-hermes-pcm")
    parser.add_argument("--drift", type=float, default=DAY, help="seconds after programming")
    args = parser.parse_args()
    torch.set_num_threads(1)
    start = time.perf_counter()
    phases = Phases()
    print(f"GPT-2 small on {args.chip}: 1 torch thread, {os.cpu_count()} CPUs, load average "
          f"{os.getloadavg()[0]:.1f}", flush=True)

    t = phases.start()
    model = GPT(gpt2_small(), generator=torch.Generator().manual_seed(0))
    phases.stop("build digital model (random init)", t)
    n_params = sum(p.numel() for p in model.parameters())
    prompt = torch.randint(0, model.config.vocab, (1, args.prompt),
                           generator=torch.Generator().manual_seed(1))

    t = phases.start()
    d_tokens, d_prefill, d_steps, d_logits = greedy(model, prompt, args.new)
    phases.stop(f"digital: prefill {args.prompt} + {args.new} tokens", t)

    chip = aimc.load_chip(args.chip)
    t = phases.start()
    analog, report = aimc.convert(model, chip)
    t_convert = phases.stop("convert", t)
    tiles = list(analog_tiles(analog))
    analog_weights = sum(tile.target_weight.numel() for _, tile in tiles)
    predicted = estimate_bytes(analog)

    t = phases.start()
    check_fits(analog)  # aimc.program's memory check, then the same per-tile seeds
    per_kind: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0, 0])
    for (name, tile), child in zip(tiles, np.random.SeedSequence(0).spawn(len(tiles)), strict=True):
        t_tile = time.perf_counter()
        tile.program(child)
        per_kind[kind(name)][0] += time.perf_counter() - t_tile
        per_kind[kind(name)][2] += tile.target_weight.numel()
    t_program = phases.stop("program (seed 0)", t)

    t = phases.start()
    for name, tile in tiles:
        t_tile = time.perf_counter()
        tile.drift_to(args.drift, compensate=True)
        per_kind[kind(name)][1] += time.perf_counter() - t_tile
    t_drift = phases.stop(f"drift to {args.drift:g} s, GDC", t)
    held = held_bytes(analog)

    t = phases.start()
    a_tokens, a_prefill, a_steps, a_logits = greedy(analog, prompt, args.new)
    phases.stop(f"analog: prefill {args.prompt} + {args.new} tokens", t)

    t = phases.start()
    one = aimc.compile(model, chip, torch.zeros(1, 1, dtype=torch.long))
    cost_one = estimate(one)
    prefill_map = aimc.compile(model, chip, prompt, tokens=args.prompt)
    cost_prefill = estimate(prefill_map)
    phases.stop("compile + cost (1-token and prefill examples)", t)

    agree = (a_tokens == d_tokens)[0]
    first_diff = int((~agree).nonzero()[0]) if not bool(agree.all()) else None
    rel = float((a_logits - d_logits).norm() / d_logits.norm())
    print(f"\n{n_params:,} parameters; {analog_weights:,} weights on tiles ({report.summary()}); "
          f"digital: {', '.join(report.digital)}")
    print(f"prefill logits, analog vs digital: relative error {rel:.3f}; greedy tokens equal to "
          f"digital: {int(agree.sum())} of {args.new} (first difference at token "
          f"{first_diff if first_diff is not None else '-'})")

    print(f"\nseconds per token, 1 torch thread, load average {os.getloadavg()[0]:.1f} "
          f"(1/5/15 min: {', '.join(f'{v:.1f}' for v in os.getloadavg())})\n")
    print("| | digital | analog (1 day, GDC) | analog / digital |\n|---|---|---|---|")
    print(f"| prefill, {args.prompt} tokens (s) | {d_prefill:.2f} | {a_prefill:.2f} | "
          f"{a_prefill / d_prefill:.1f} |")
    print(f"| prefill, per prompt token (s) | {d_prefill / args.prompt:.4f} | "
          f"{a_prefill / args.prompt:.4f} | |")
    dm, am = float(np.mean(d_steps)), float(np.mean(a_steps))
    print(f"| per generated token (s), mean of {len(d_steps)} [min-max] | {dm:.3f} [{min(d_steps):.3f}-"
          f"{max(d_steps):.3f}] | {am:.3f} [{min(a_steps):.3f}-{max(a_steps):.3f}] | {am / dm:.1f} |")
    total_d, total_a = d_prefill + sum(d_steps), a_prefill + sum(a_steps)
    print(f"| {args.prompt}-token prompt + {args.new} tokens (s) | {total_d:.1f} | {total_a:.1f} | "
          f"{total_a / total_d:.1f} |")

    print("\nmemory (GB = 1e9 bytes): peak resident set of each phase (VmHWM"
          f"{', reset per phase' if phases.reset_ok else '; reset refused: running peak'}) and "
          "resident set at its end (VmRSS)\n")
    print("| phase | seconds | peak RSS (GB) | RSS after (GB) |\n|---|---|---|---|")
    for label, seconds, hwm, rss in phases.rows:
        print(f"| {label} | {seconds:.1f} | {hwm / GB:.2f} | {rss / GB:.2f} |")
    peak = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024, *(r[2] for r in phases.rows))
    print(f"| whole run (largest peak) | {time.perf_counter() - start:.0f} | {peak / GB:.2f} | |")
    print(f"\nanalog model: aimc's estimate {predicted.held / GB:.2f} GB held, {predicted.peak / GB:.2f} GB "
          f"peak while programming; its tensors hold {held / GB:.2f} GB after drift "
          f"({held / analog_weights:.1f} B per analog weight); digital weights "
          f"{n_params * 4 / GB:.2f} GB")

    print(f"\nwhere conversion ({t_convert:.1f} s), programming ({t_program:.1f} s) and drift "
          f"({t_drift:.1f} s) go, by matrix kind (12 of each per model, 1 lm_head)\n")
    print("| matrix | weights (M) | program (s) | drift + GDC (s) | program (ns/weight) |")
    print("|---|---|---|---|---|")
    for name, (prog, dr, n) in per_kind.items():
        print(f"| {name} | {n / 1e6:.1f} | {prog:.1f} | {dr:.1f} | {1e9 * prog / n:.0f} |")

    print(f"\ncost on {args.chip} (aimc.compile + aimc.cost.estimate; analog layers only, batch 1)\n")
    print("| example | arrays | chips needed | energy per token | latency per token | "
          "digital baseline, energy per token |")
    print("|---|---|---|---|---|---|")
    examples = (("1 generated token (KV cache)", one, cost_one, 1),
                (f"prefill, {args.prompt} tokens", prefill_map, cost_prefill, args.prompt))
    for label, mapping, cost, n in examples:
        assert mapping.tokens == n
        d_energy = sum(cost.digital["energy_j"].values()) / n
        print(f"| {label} | {mapping.arrays_needed} | {mapping.chips_needed} | "
              f"{cost.energy_per_token_j * 1e6:.2f} µJ | {cost.latency_per_token_s * 1e6:.3f} µs | "
              f"{d_energy * 1e3:.3f} mJ |")
    print(f"\n{(time.perf_counter() - start) / 60:.1f} min, load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
