"""Cost model: validation against published chips, and the speed of compile + cost.

    python benchmarks/bench_cost.py

Prints (1) the peak MVM figures of the IBM 64-core PCM preset (one- and four-phase read) and the
Mythic M1076 preset next to the published numbers, and (2) the wall time of
``aimc.compile`` + ``aimc.cost.estimate`` for ResNet-18 (goal: under 5 s).
"""

from __future__ import annotations

import statistics
import time

import torch
from rich.console import Console
from rich.table import Table

import aimc
from aimc.chips import ChipSpec, load_chip
from aimc.cost import estimate, peak
from aimc.models import resnet18

# (preset, phases, published TOPS, published TOPS/W or None, published power range in W or None, source)
PUBLISHED = [
    ("ibm-hermes-pcm", 1, 63.1, 9.76, None, "Le Gallo 2023, Table I"),
    ("ibm-hermes-pcm", 4, 16.1, 2.48, None, "Le Gallo 2023, Table I"),
    ("mythic-m1076", 1, 25.0, None, (3.0, 4.0), "M1076 product brief"),
]


def with_phases(name: str, phases: int) -> ChipSpec:
    data = load_chip(name).model_dump()
    data["timing"]["phases"] = phases
    return ChipSpec.model_validate(data)


def deviation(model: float, published: float) -> str:
    return f"{100 * (model / published - 1):+.1f} %"


def main() -> None:
    console = Console()
    table = Table(title="peak MVM figures: aimc vs published (nothing fitted to these numbers)")
    for column in ("chip", "phases", "TOPS", "published", "dev.", "TOPS/W", "published", "dev.",
                   "power W", "published"):
        table.add_column(column, justify="left" if column == "chip" else "right")
    for name, phases, tops, tops_w, power, _ in PUBLISHED:
        p = peak(with_phases(name, phases))
        table.add_row(
            name, str(phases), f"{p.tops:.1f}", f"{tops:g}", deviation(p.tops, tops),
            f"{p.tops_per_w:.2f}", "-" if tops_w is None else f"{tops_w:g}",
            "-" if tops_w is None else deviation(p.tops_per_w, tops_w), f"{p.power_w:.2f}",
            "-" if power is None else f"{power[0]:g}-{power[1]:g}")
    console.print(table)

    example = torch.zeros(1, 3, 32, 32)
    times = []
    for _ in range(5):
        start = time.perf_counter()
        report = estimate(aimc.compile(resnet18(), "ibm-hermes-pcm", example))
        times.append(time.perf_counter() - start)
    console.print(f"ResNet-18 compile + cost: median {statistics.median(times):.2f} s "
                  f"(range {min(times):.2f}-{max(times):.2f} s over 5 runs; goal < 5 s); "
                  f"{report.total_j * 1e6:.1f} µJ and {report.tops_per_w:.2f} TOPS/W per inference")


if __name__ == "__main__":
    main()
