"""The cost report of a mapped network: energy breakdown, latency, throughput, TOPS, TOPS/W,
area and TOPS/mm² per layer and per inference, beside the digital INT8 baseline.

Also :func:`peak`, the chip's own peak figures for an MVM workload with every core busy (the
numbers chip papers quote: the energy counts the arrays, DACs and ADCs, as in Le Gallo et al.,
Nat. Electron. 2023, Methods).

Both give each headline figure (energy per inference, latency, throughput, TOPS, TOPS/W, area)
as a nominal value with an interval: the central 90 % (5th-95th percentile) of the figure over
4096 seeded Monte Carlo draws of the uncertain parameters within their ranges
(:mod:`aimc.cost.uncertainty`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import reduce

import numpy as np
from rich.console import Group
from rich.table import Table

from ..chips import ChipSpec
from ..compiler import LayerMap, Mapping
from .digital import SystolicArray, digital_baseline
from .energy import COMPONENTS, core_footprint, digital_layer_energy, layer_energy, mvm_energy
from .timing import critical_path, mvm_time, peak_ops, stage_time
from .uncertainty import Interval, interval, samples

UNIFORM_FILL = 0.5  # mean |w| / max |w| of uniformly distributed weights


@dataclass
class LayerCost:
    name: str
    analog: bool
    macs: int
    energy_j: dict[str, float]
    stage_s: float
    area_m2: float  # cores the layer occupies (0 for layers on the digital unit)

    @property
    def total_j(self) -> float:
        return sum(self.energy_j.values())

    @property
    def tops(self) -> float:
        """Operations per second of this stage while it runs (0 for a stage without time: a
        digital embedding lookup has no MACs)."""
        return 2 * self.macs / self.stage_s / 1e12 if self.stage_s else 0.0

    @property
    def tops_per_w(self) -> float:
        return 2 * self.macs / self.total_j / 1e12

    @property
    def tops_per_mm2(self) -> float | None:
        return self.tops / (self.area_m2 * 1e6) if self.area_m2 else None


@dataclass
class CostReport:
    """Per-inference cost of a mapped network (batch 1, pipelined layers); an inference of a
    sequence model is one sequence of :attr:`tokens` tokens, also costed per token."""

    mapping: Mapping
    layers: list[LayerCost]
    area_m2: float  # silicon of the chips the model needs
    digital: dict = field(default_factory=dict)
    intervals: dict[str, Interval] = field(default_factory=dict)  # headline figures, see estimate
    timing: tuple[float, float] = (0.0, 0.0)  # (latency_s, latency_per_token_s): critical path
    ranges: dict[str, tuple[float, float, float]] = field(default_factory=dict)  # (nominal, low, high)

    @property
    def energy_j(self) -> dict[str, float]:
        keys = dict.fromkeys(k for layer in self.layers for k in layer.energy_j)
        return {k: sum(layer.energy_j.get(k, 0.0) for layer in self.layers) for k in keys}

    @property
    def total_j(self) -> float:
        return sum(self.energy_j.values())

    @property
    def ops(self) -> int:
        return 2 * sum(layer.macs for layer in self.layers)

    @property
    def recurrent(self) -> bool:
        """The model has a recurrent layer (its headline throughput is that of one stream)."""
        return any(layer.recurrent for layer in self.mapping.layers)

    @property
    def latency_s(self) -> float:
        """One inference along its critical path (:mod:`aimc.cost.timing`): stages one after
        another, the projections of an attention layer in parallel, a recurrent layer's reads
        as a wavefront over its layers and time steps."""
        return self.timing[0]

    @property
    def pipelined_throughput(self) -> float:
        """Inferences per second with the pipeline full: ``1 / (slowest stage)``, reached with
        :attr:`streams` independent inferences in flight."""
        return 1.0 / max(layer.stage_s for layer in self.layers)

    @property
    def streams(self) -> int:
        """Independent inferences in flight that :attr:`pipelined_throughput` needs:
        ``ceil(latency_s * pipelined_throughput)``."""
        return max(1, math.ceil(self.latency_s * self.pipelined_throughput - 1e-9))

    @property
    def throughput(self) -> float:
        """Inferences per second: with a recurrent layer one stream, ``1 / latency_s`` (as the
        digital baseline); otherwise the pipelined figure (:attr:`pipelined_throughput`)."""
        return 1.0 / self.latency_s if self.recurrent else self.pipelined_throughput

    @property
    def tokens(self) -> int:
        """Tokens (time steps) per inference (:attr:`aimc.compiler.Mapping.tokens`)."""
        return self.mapping.tokens

    @property
    def energy_per_token_j(self) -> float:
        return self.total_j / self.tokens

    @property
    def latency_per_token_s(self) -> float:
        """Latency of one token through every block (:mod:`aimc.cost.timing`): with a recurrent
        layer one step through its layers plus the other layers' time per token, the latency of
        one streaming frame (and of a one-token compile); otherwise ``latency_s / tokens``."""
        return self.timing[1]

    @property
    def tokens_per_s(self) -> float:
        """Tokens per second: :attr:`throughput` times tokens; with a recurrent layer one stream,
        ``tokens / latency_s``."""
        return self.throughput * self.tokens

    @property
    def pipelined_tokens_per_s(self) -> float:
        """Tokens per second with :attr:`streams` independent sequences in flight."""
        return self.pipelined_throughput * self.tokens

    @property
    def tops(self) -> float:
        return self.ops * self.throughput / 1e12

    @property
    def tops_per_w(self) -> float:
        return self.ops / self.total_j / 1e12

    @property
    def tops_per_mm2(self) -> float:
        return self.tops / (self.area_m2 * 1e6)

    def summary(self) -> dict[str, dict[str, float]]:
        """Analog chip and digital baseline side by side, like for like: latency of one inference
        and per token, and throughput of one stream for the digital array (layers in turn) and,
        with a recurrent layer, for the chip (its pipelined figures under ``pipelined_*``)."""
        d = self.digital
        d_energy = sum(d["energy_j"].values())
        d_tput = 1.0 / d["latency_s"]  # one systolic array, layers in turn
        n = self.tokens
        return {
            "analog": {"energy_j": self.total_j, "latency_s": self.latency_s,
                       "inferences_per_s": self.throughput, "tops": self.tops,
                       "tops_per_w": self.tops_per_w, "area_mm2": self.area_m2 * 1e6,
                       "tops_per_mm2": self.tops_per_mm2, "energy_per_token_j": self.energy_per_token_j,
                       "latency_per_token_s": self.latency_per_token_s, "tokens_per_s": self.tokens_per_s,
                       "pipelined_inferences_per_s": self.pipelined_throughput,
                       "pipelined_tokens_per_s": self.pipelined_tokens_per_s, "streams": self.streams},
            "digital": {"energy_j": d_energy, "latency_s": d["latency_s"],
                        "inferences_per_s": d_tput, "tops": self.ops * d_tput / 1e12,
                        "tops_per_w": self.ops / d_energy / 1e12, "area_mm2": d["area_m2"] * 1e6,
                        "tops_per_mm2": self.ops * d_tput / 1e12 / (d["area_m2"] * 1e6),
                        "energy_per_token_j": d_energy / n, "latency_per_token_s": d["latency_s"] / n,
                        "tokens_per_s": d_tput * n},
        }

    def to_dict(self) -> dict:
        return {
            "energy_j": self.energy_j, "total_j": self.total_j, "ops": self.ops,
            "latency_s": self.latency_s, "throughput": self.throughput, "tops": self.tops,
            "tops_per_w": self.tops_per_w, "area_m2": self.area_m2, "tops_per_mm2": self.tops_per_mm2,
            "tokens": self.tokens, "energy_per_token_j": self.energy_per_token_j,
            "latency_per_token_s": self.latency_per_token_s, "tokens_per_s": self.tokens_per_s,
            "pipelined_throughput": self.pipelined_throughput,
            "pipelined_tokens_per_s": self.pipelined_tokens_per_s, "streams": self.streams,
            "layers": [{"name": c.name, "analog": c.analog, "macs": c.macs, "energy_j": c.energy_j,
                        "total_j": c.total_j, "stage_s": c.stage_s, "tops": c.tops,
                        "tops_per_w": c.tops_per_w, "area_m2": c.area_m2,
                        "tops_per_mm2": c.tops_per_mm2} for c in self.layers],
            "summary": self.summary(), "digital_baseline": self.digital,
            "intervals": {k: v.to_dict() for k, v in self.intervals.items()},
            "uncertainty": {"method": "Monte Carlo, 4096 draws (seed 0), each parameter log-uniform "
                                      "in its range; intervals are the 5th-95th percentiles",
                            "parameters": {k: dict(zip(("nominal", "low", "high"), v, strict=True))
                                           for k, v in self.ranges.items()}},
        }

    def __rich__(self) -> Group:
        unit, scale = ("µJ", 1e6) if self.total_j > 1e-5 else ("nJ", 1e9)
        e = self.intervals.get("energy_j")
        caption = None if e is None else f"total, 90 % range: {span(e, scale)} {unit}"
        per = "" if self.tokens == 1 else f" ({self.tokens} tokens)"
        parts = Table(title=f"energy per inference{per} on {self.mapping.chip.name}", caption=caption)
        for column in ("component", unit, "share"):
            parts.add_column(column, justify="left" if column == "component" else "right")
        for k, v in self.energy_j.items():
            parts.add_row(k, f"{scale * v:.4g}", f"{100 * v / self.total_j:.1f} %")
        parts.add_row("total", f"{scale * self.total_j:.4g}", "100 %", style="bold")
        layers = Table(title="per layer (pipelined stages)")
        for column in ("layer", "MACs", f"energy {unit}", "largest part", "stage µs", "TOPS/W"):
            layers.add_column(column, justify="left" if column in ("layer", "largest part") else "right")
        for c in self.layers:
            top = max(c.energy_j, key=c.energy_j.get)
            layers.add_row(c.name, f"{c.macs:,}", f"{scale * c.total_j:.3g}",
                           f"{top} {100 * c.energy_j[top] / c.total_j:.0f} %", f"{1e6 * c.stage_s:.3g}",
                           f"{c.tops_per_w:.3g}")
        compare = Table(title="per inference: analog chip vs digital INT8 systolic array, same node",
                        caption="range: central 90 % over the cost parameters (Monte Carlo)")
        # label, summary key, scale, interval key (the interval of the area is in m², not mm²)
        rows = (("energy (µJ)", "energy_j", 1e6, "energy_j"), ("latency (µs)", "latency_s", 1e6, "latency_s"),
                ("inferences/s", "inferences_per_s", 1, "throughput"), ("TOPS", "tops", 1, "tops"),
                ("TOPS/W", "tops_per_w", 1, "tops_per_w"), ("area (mm²)", "area_mm2", 1, "area_m2"),
                ("TOPS/mm²", "tops_per_mm2", 1, "tops_per_mm2"))
        if self.tokens > 1:
            rows += (("energy/token (µJ)", "energy_per_token_j", 1e6, "energy_per_token_j"),
                     ("latency/token (µs)", "latency_per_token_s", 1e6, "latency_per_token_s"),
                     ("tokens/s", "tokens_per_s", 1, "tokens_per_s"))
        s = self.summary()
        for column in ("", "analog", "range", "digital", "analog advantage"):
            compare.add_column(column, justify="left" if not column else "right",
                               no_wrap=column in ("", "analog advantage"))
        for label, key, scale, interval_key in rows:
            a, d = s["analog"][key] * scale, s["digital"][key] * scale
            lower = key in ("energy_j", "latency_s", "area_mm2", "energy_per_token_j", "latency_per_token_s")
            better = d / a if lower else a / d
            i = self.intervals.get(interval_key)
            i_scale = scale * (1e6 if interval_key == "area_m2" else 1)
            compare.add_row(label, num(a, 4), "-" if i is None else span(i, i_scale), num(d, 4),
                            f"{better:.2f}x")
        if self.recurrent:
            key, label = (("pipelined_tokens_per_s", "tokens/s") if self.tokens > 1
                          else ("pipelined_inferences_per_s", "inferences/s"))
            compare.add_row(f"{label} pipelined", num(s["analog"][key], 4), f"≥ {self.streams} streams",
                            "-", "-")
            compare.caption += ("; with a recurrent layer inferences/s and tokens/s are one "
                                "stream's, as the digital column's")
        return Group(parts, layers, compare)


def num(x: float, digits: int = 3) -> str:
    """``x`` to ``digits`` significant digits, thousands separated, without exponent when
    ``1e-3 <= |x| < 1e9``."""
    if x == 0 or not np.isfinite(x):
        return f"{x:g}"
    if not 1e-3 <= abs(x) < 1e9:
        return f"{x:.{digits - 1}e}"
    decimals = digits - 1 - int(np.floor(np.log10(abs(x))))
    return f"{round(x, decimals):,.{max(decimals, 0)}f}"


def span(i: Interval, scale: float = 1.0, digits: int = 3) -> str:
    """``low-high`` of an interval, scaled."""
    return f"{num(i.low * scale, digits)}-{num(i.high * scale, digits)}"


def _layer_parts(chip: ChipSpec, layer: LayerMap, t_mvm: float) -> tuple[dict[str, float], float]:
    """Energy by component and stage time of one layer, analog or kept digital."""
    energy = layer_energy(chip, layer) if layer.analog else digital_layer_energy(chip, layer)
    return energy, stage_time(layer, t_mvm, chip.cost.digital_macs_per_s)


def _figures(chip: ChipSpec, mapping: Mapping, shape: tuple[int, int]):
    """Energy per inference, latency, latency per token, headline throughput and area of
    ``mapping`` on ``chip`` (floats, or arrays over parameter draws)."""
    t_mvm = mvm_time(chip)
    energy, stages = 0.0, []
    for layer in mapping.layers:
        parts, stage = _layer_parts(chip, layer, t_mvm)
        energy = energy + sum(parts.values())
        stages.append(stage)
    area = mapping.chips_needed * chip.cores * core_footprint(chip, *shape)
    latency, per_token = critical_path(mapping.layers, t_mvm, chip.cost.digital_macs_per_s, mapping.tokens)
    recurrent = any(layer.recurrent for layer in mapping.layers)
    throughput = 1.0 / latency if recurrent else 1.0 / reduce(np.maximum, stages)
    return energy, latency, per_token, throughput, area


def estimate(mapping: Mapping, baseline: SystolicArray | None = None) -> CostReport:
    """Cost of one inference of ``mapping``'s network on its chip (and the digital baseline).

    An inference of a sequence model is one sequence of ``mapping.tokens`` tokens (time steps);
    the report also gives the cost per token: ``energy_per_token_j`` (the sequence's energy over
    its tokens), ``latency_per_token_s`` (one token through every layer, see
    :attr:`CostReport.latency_per_token_s`) and ``tokens_per_s`` (with a recurrent layer one
    stream's, ``tokens / latency_s``; ``pipelined_tokens_per_s`` needs ``streams`` sequences in
    flight). For a model whose every layer runs once per token (a streaming model), the energy
    and latency per token equal those of compiling it on a one-token example.

    ``report.intervals`` holds each headline figure (``energy_j``, ``latency_s``, ``throughput``,
    ``tops``, ``tops_per_w``, ``area_m2``, ``tops_per_mm2``) as an :class:`Interval`: the nominal
    value and the central 90 % (5th-95th percentile) over 4096 seeded Monte Carlo draws of the
    uncertain parameters, each log-uniform within its range (see :mod:`aimc.cost.uncertainty`);
    ``report.ranges`` lists those ranges.

    Example:
        >>> import torch, aimc
        >>> from aimc.models import mlp
        >>> report = estimate(aimc.compile(mlp(), "ibm-hermes-pcm", torch.zeros(1, 784)))
        >>> report.ops
        1337344
        >>> i = report.intervals["tops_per_w"]
        >>> i.low <= i.nominal <= i.high
        True
    """
    chip = mapping.chip
    shape = encoding_shape(chip)
    t_mvm = mvm_time(chip)
    costs = []
    for layer in mapping.layers:
        area = layer.arrays * core_footprint(chip, layer.devices, layer.adc_groups) if layer.analog else 0.0
        costs.append(LayerCost(layer.name, layer.analog, layer.macs, *_layer_parts(chip, layer, t_mvm), area))
    area = mapping.chips_needed * chip.cores * core_footprint(chip, *shape)
    report = CostReport(mapping, costs, area, digital_baseline(mapping, baseline))
    latency, per_token = critical_path(mapping.layers, t_mvm, chip.cost.digital_macs_per_s, mapping.tokens)
    report.timing = (float(latency), float(per_token))
    varied, report.ranges = samples(chip)
    energy, latency, per_token, throughput, area_c = _figures(varied, mapping, shape)
    tops = report.ops * throughput / 1e12
    report.intervals = {
        "energy_j": interval(report.total_j, energy), "latency_s": interval(report.latency_s, latency),
        "throughput": interval(report.throughput, throughput), "tops": interval(report.tops, tops),
        "tops_per_w": interval(report.tops_per_w, report.ops / energy / 1e12),
        "area_m2": interval(report.area_m2, area_c),
        "tops_per_mm2": interval(report.tops_per_mm2, tops / (area_c * 1e6)),
        "energy_per_token_j": interval(report.energy_per_token_j, energy / report.tokens),
        "latency_per_token_s": interval(report.latency_per_token_s, per_token),
        "tokens_per_s": interval(report.tokens_per_s, throughput * report.tokens),
    }
    return report


@dataclass
class Peak:
    """Peak MVM figures of a chip: every core reads a full array of uniform random weights.
    ``intervals`` holds ``tops``, ``tops_per_w``, ``power_w``, ``tops_per_mm2``, ``energy_j``
    (one MVM of one core) and ``area_m2`` (all cores): central 90 % over the parameter ranges."""

    chip: ChipSpec
    mvm_s: float
    energy_per_mvm_j: dict[str, float]  # one core, one MVM: array, dac, adc
    core_area_m2: float
    intervals: dict[str, Interval] = field(default_factory=dict)

    @property
    def tops(self) -> float:
        return peak_ops(self.chip) / 1e12

    @property
    def tops_per_w(self) -> float:
        ops = 2 * self.chip.array.rows * self.chip.array.cols
        return ops / sum(self.energy_per_mvm_j.values()) / 1e12

    @property
    def power_w(self) -> float:
        return self.tops / self.tops_per_w

    @property
    def tops_per_mm2(self) -> float:
        return self.tops / (self.chip.cores * self.core_area_m2 * 1e6)

    def to_dict(self) -> dict:
        return {"mvm_s": self.mvm_s, "tops": self.tops, "tops_per_w": self.tops_per_w,
                "power_w": self.power_w, "tops_per_mm2": self.tops_per_mm2,
                "energy_per_mvm_j": self.energy_per_mvm_j,
                "intervals": {k: v.to_dict() for k, v in self.intervals.items()}}

    def describe(self) -> str:
        """One line: peak TOPS, TOPS/W and power, each with its range."""
        i = self.intervals
        return (f"chip peak {self.tops:.1f} TOPS ({span(i['tops'])}), {self.tops_per_w:.2f} TOPS/W "
                f"({span(i['tops_per_w'])}), {self.power_w:.2f} W ({span(i['power_w'])})")


def _peak_figures(chip: ChipSpec, shape: tuple[int, int]):
    devices, groups = shape
    fill = UNIFORM_FILL + devices * chip.device.g_min / chip.device.g_max
    energy = mvm_energy(chip, chip.array.rows, chip.array.cols, fill, devices, groups)
    return mvm_time(chip), energy, core_footprint(chip, devices, groups)


def peak(chip: ChipSpec) -> Peak:
    """Peak throughput, energy efficiency and area efficiency of ``chip`` (8-bit MVM workload
    with uniformly distributed weights and input magnitudes ``cost.input_activity``), each with
    its central 90 % interval over Monte Carlo draws of the parameter ranges
    (:mod:`aimc.cost.uncertainty`).

    Example:
        >>> from aimc.chips import load_chip
        >>> p = peak(load_chip("ibm-hermes-pcm"))
        >>> round(p.tops, 1), p.intervals["tops"].contains(63.1)   # Le Gallo 2023: 63.1 TOPS
        (65.5, True)
    """
    shape = encoding_shape(chip)
    mvm_s, energy, area = _peak_figures(chip, shape)
    p = Peak(chip, mvm_s, energy, area)
    v_s, v_energy, v_area = _peak_figures(samples(chip)[0], shape)
    ops = 2 * chip.array.rows * chip.array.cols
    e = sum(v_energy.values())
    tops, tops_per_w = chip.cores * ops / v_s / 1e12, ops / e / 1e12
    p.intervals = {
        "tops": interval(p.tops, tops), "tops_per_w": interval(p.tops_per_w, tops_per_w),
        "power_w": interval(p.power_w, tops / tops_per_w),
        "tops_per_mm2": interval(p.tops_per_mm2, tops / (chip.cores * v_area * 1e6)),
        "energy_j": interval(sum(energy.values()), e),
        "area_m2": interval(chip.cores * area, chip.cores * v_area),
    }
    return p


def encoding_shape(chip: ChipSpec) -> tuple[int, int]:
    """Devices per weight and ADC groups of the chip's weight encoding."""
    import torch

    encoded = chip.encoding.encode(torch.ones(1, 1), 1.0)
    return int(encoded.g_target.shape[0]), encoded.groups


__all__ = ["COMPONENTS", "CostReport", "LayerCost", "Peak", "estimate", "peak"]
