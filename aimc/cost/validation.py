"""The cost model against published chips: peak figures as predictions with intervals.

For every preset with a published throughput or efficiency figure, :func:`validate` gives the
model's nominal value, its central 90 % interval over the parameter ranges
(:mod:`aimc.cost.uncertainty`), the published number, whether the published number falls inside
the interval, and the figure's basis:

* **calibrated** — a published measurement of that chip (or of its own single-core version) went
  into a parameter the figure depends on, so agreement is partly by construction;
* **predicted** — no published performance figure of that chip went in: the figure follows from
  its architecture (array size, bits, clock) and generic survey parameters;
* **assumed** — the figure is set by an assumed parameter, not predicted (Mythic publishes no
  tile timing): shown for information, not counted as a pass or a fail.

``benchmarks/bench_cost.py`` prints these rows; the README's validation table is
:func:`markdown_rows` verbatim (a test checks that).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..chips import ChipSpec, load_chip
from .report import Peak, num, peak, span
from .uncertainty import Interval


@dataclass(frozen=True)
class Published:
    chip: str
    phases: int | None  # read phases to set, None: the preset's own
    figure: str  # "TOPS" or "TOPS/W"
    value: tuple[float, float]  # published number (low == high) or published range
    basis: str  # calibrated / predicted / assumed
    source: str
    note: str = ""


PUBLISHED = [
    Published("ibm-hermes-pcm", 1, "TOPS", (63.1, 63.1), "predicted", "Le Gallo 2023, Table I",
              "from the published 1 ns/LSB, 8-bit PWM clock"),
    Published("ibm-hermes-pcm", 1, "TOPS/W", (9.76, 9.76), "calibrated", "Le Gallo 2023, Table I",
              "ADC power from the single-core chip's measured 10.5 TOPS/W"),
    Published("ibm-hermes-pcm", 4, "TOPS", (16.1, 16.1), "predicted", "Le Gallo 2023, Table I",
              "from the published clock"),
    Published("ibm-hermes-pcm", 4, "TOPS/W", (2.48, 2.48), "calibrated", "Le Gallo 2023, Table I",
              "same calibrated ADC power, 4x the window"),
    Published("ibm-speech-pcm", None, "TOPS/W", (20.0, 20.0), "predicted",
              "Ambrogio 2023 (peak analog tile, secondary)", "generic survey converters"),
    Published("mythic-m1076", None, "TOPS", (25.0, 25.0), "assumed", "M1076 product brief",
              "no timing published; assumption 3 µs per tile product gives the model value"),
    Published("mythic-m1076", None, "TOPS/W", (25 / 4, 25 / 3), "predicted",
              "M1076 brief: 25 TOPS at 3-4 W (whole chip)", "model counts arrays and converters only"),
]


@dataclass(frozen=True)
class Row:
    published: Published
    interval: Interval

    @property
    def scored(self) -> bool:
        """Counted as a pass or a fail (not for figures set by an assumption)."""
        return self.published.basis != "assumed"

    @property
    def inside(self) -> bool:
        """The published number (or part of its published range) lies in the model's interval."""
        low, high = self.published.value
        return low <= self.interval.high and high >= self.interval.low

    @property
    def deviation(self) -> float:
        """Model nominal / published (middle of a published range) - 1."""
        return self.interval.nominal / (sum(self.published.value) / 2) - 1

    @property
    def label(self) -> str:
        p = self.published
        return p.chip + ("" if p.phases is None else f", {p.phases}-phase")

    @property
    def verdict(self) -> str:
        if not self.scored:
            return "not scored"
        return "inside" if self.inside else "OUTSIDE"

    def published_text(self) -> str:
        low, high = self.published.value
        return num(low) if low == high else f"{num(low)}-{num(high)}"


def chip_for(p: Published) -> ChipSpec:
    chip = load_chip(p.chip)
    if p.phases is None or p.phases == chip.timing.phases:
        return chip
    data = chip.model_dump()
    data["timing"]["phases"] = p.phases
    return ChipSpec.model_validate(data)


def validate() -> list[Row]:
    """Every published figure against the model's peak figures (see module docstring)."""
    peaks: dict[tuple[str, int | None], Peak] = {}
    rows = []
    for p in PUBLISHED:
        key = (p.chip, p.phases)
        if key not in peaks:
            peaks[key] = peak(chip_for(p))
        rows.append(Row(p, peaks[key].intervals["tops" if p.figure == "TOPS" else "tops_per_w"]))
    return rows


def markdown_rows(rows: list[Row] | None = None) -> list[str]:
    """The README's validation table, one markdown line per row (header first)."""
    lines = ["| chip | figure | model | 90 % interval | published | inside? | basis |",
             "|---|---|---|---|---|---|---|"]
    for r in rows or validate():
        lines.append(f"| {r.label} | {r.published.figure} | {num(r.interval.nominal)} | "
                     f"{span(r.interval)} | {r.published_text()} | {r.verdict} | {r.published.basis} |")
    return lines


__all__ = ["PUBLISHED", "Published", "Row", "markdown_rows", "validate"]
