"""Cost model: validation against published chips, and the speed of compile + cost.

    python benchmarks/bench_cost.py

Prints (1) for every preset with a published throughput or efficiency figure: the model's peak
figure (nominal), its central 90 % interval over the cost parameters' ranges (Monte Carlo, see
``aimc.cost.uncertainty``), the published number, whether it falls inside the interval, and
whether the figure is *calibrated* (a published measurement of that chip went into a parameter)
or *predicted* (none did); then the same rows as the README's markdown table. (2) The IBM
one-phase efficiency with the generic ADC figure of merit instead of the calibrated CCO power.
(3) The wall time of ``aimc.compile`` + ``aimc.cost.estimate`` for ResNet-18 (goal: under 5 s)
and its headline figures with their intervals.
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
from aimc.cost.report import num, span
from aimc.cost.validation import markdown_rows, validate
from aimc.models import resnet18


def main() -> None:
    torch.set_num_threads(1)
    console = Console(width=120)
    rows = validate()
    table = Table(title="peak MVM figures: model (nominal, central 90 % interval) vs published")
    for column in ("chip", "figure", "model", "90 % int.", "published", "dev.", "inside?", "basis"):
        table.add_column(column, no_wrap=True,
                         justify="left" if column in ("chip", "figure", "inside?", "basis") else "right")
    for r in rows:
        table.add_row(r.label, r.published.figure, num(r.interval.nominal), span(r.interval),
                      r.published_text(),
                      f"{100 * r.deviation:+.1f} %", r.verdict, r.published.basis)
    console.print(table)
    for r in rows:
        console.print(f"  {r.label} {r.published.figure}: {r.published.source}; {r.published.note}")
    scored = [r for r in rows if r.scored]
    console.print(f"published figure inside the model's 90 % interval: {sum(r.inside for r in scored)} of "
                  f"{len(scored)} scored ({sum(r.published.basis == 'predicted' for r in scored)} predicted, "
                  f"{sum(r.published.basis == 'calibrated' for r in scored)} calibrated)")
    print("\nREADME rows:\n" + "\n".join(markdown_rows(rows)))  # plain: no wrapping

    data = load_chip("ibm-hermes-pcm").model_dump()
    data["cost"]["adc_power_w"] = None
    generic = peak(ChipSpec.model_validate(data))
    fom = data["cost"]["adc_fom_j"] * 1e15
    console.print(f"\nibm-hermes-pcm, 1-phase, generic ADC FOM ({fom:.1f} fJ/step) "
                  f"instead of the calibrated CCO power: {generic.tops_per_w:.1f} TOPS/W "
                  f"({span(generic.intervals['tops_per_w'])})")

    example = torch.zeros(1, 3, 32, 32)
    times = []
    for _ in range(5):
        start = time.perf_counter()
        report = estimate(aimc.compile(resnet18(), "ibm-hermes-pcm", example))
        times.append(time.perf_counter() - start)
    i = report.intervals
    console.print(f"\nResNet-18 compile + cost: median {statistics.median(times):.2f} s "
                  f"(range {min(times):.2f}-{max(times):.2f} s over 5 runs; goal < 5 s); per inference "
                  f"{report.total_j * 1e6:.1f} µJ ({span(i['energy_j'], 1e6)}), {report.tops:.2f} TOPS "
                  f"({span(i['tops'])}), {report.tops_per_w:.2f} TOPS/W ({span(i['tops_per_w'])}), "
                  f"{report.area_m2 * 1e6:.1f} mm² ({span(i['area_m2'], 1e6)})")


if __name__ == "__main__":
    main()
