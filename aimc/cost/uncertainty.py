"""Uncertainty of the cost figures: parameter ranges, propagated by Monte Carlo.

Every cost parameter that comes from a survey or an assumption has a low and a high value next
to its nominal one (``aimc.chips.spec.DEFAULT_RANGES`` for the generic defaults, ``cost.ranges``
of a chip for its own; reasons and sources in ``docs/cost-model-sources.md``, section 0b). A
default range holds only while the parameter keeps its default value: a value set by a preset
or a user carries no range unless ``cost.ranges`` gives one, and ``[v, v]`` marks a published,
exact value.

**Method: Monte Carlo, central 90 %.** The model is evaluated once at the nominal parameters
and, in one vectorised pass, at ``SAMPLES`` = 4096 parameter draws (seed ``SEED`` = 0, so the
same chip always gives the same interval). Each parameter is drawn independently and
log-uniformly between its low and high value (uniformly when the low value is 0): the ranges
are plausible bounds, not measured distributions, and log-uniform treats a factor of two up and
down alike. The interval of a figure is the 5th to 95th percentile of its draws; its Monte Carlo
error at 4096 draws is about 1 % of the interval's width. Worst-case stacking (every parameter
at its bad end at once, i.e. corner analysis) was rejected because with ten or more independent
ranges it spans two decades and says nothing. The nominal value can sit near or outside an end
of the interval when a parameter's nominal value is the end of its range (e.g. a readout time
of 0 s).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from pydantic import BaseModel

from ..chips import ChipSpec
from ..chips.spec import DEFAULT_RANGES, CostSpec, Timing, parameter

_DEFAULT_GROUPS = {"cost": CostSpec(), "timing": Timing()}


@dataclass(frozen=True)
class Interval:
    """A figure's nominal value and its central 90 % interval over the parameter draws.

    Example:
        >>> Interval(10.6, 9.0, 12.4).contains(9.76)
        True
    """

    nominal: float
    low: float
    high: float

    def contains(self, value: float) -> bool:
        return self.low <= value <= self.high

    def to_dict(self) -> dict[str, float]:
        return {"nominal": self.nominal, "low": self.low, "high": self.high}

    def scaled(self, factor: float) -> Interval:
        return Interval(self.nominal * factor, self.low * factor, self.high * factor)


def _in_use(chip: ChipSpec, key: str) -> bool:
    """Whether the cost model reads parameter ``key`` for this chip."""
    if key == "cost.adc_fom_j":
        return chip.adc.bits is not None and chip.cost.adc_power_w is None
    if key == "cost.adc_power_w":
        return chip.adc.bits is not None and chip.cost.adc_power_w is not None
    if key == "cost.adc_area_m2":
        return chip.adc.bits is not None
    if key == "cost.dac_j_per_step":
        return chip.dac.bits is not None
    if key == "cost.photonic_j_per_bit":
        return chip.cost.link == "photonic"
    if key == "timing.dac_lsb_s":
        return chip.dac.encoding == "pulse_width"
    if key == "timing.integration_s":
        return chip.dac.encoding == "amplitude"
    if key == "timing.adc_clock_s":
        return chip.adc.kind in ("sar", "ramp")
    if key == "timing.adc_s":
        return chip.adc.kind == "ideal"
    return True


def parameter_ranges(chip: ChipSpec) -> dict[str, tuple[float, float, float]]:
    """``(nominal, low, high)`` of every uncertain parameter the cost model uses for ``chip``
    (ranges of zero width left out).

    Example:
        >>> from aimc.chips import load_chip
        >>> parameter_ranges(load_chip("ibm-hermes-pcm"))["cost.adc_power_w"]
        (0.00031, 0.00026, 0.00044)
    """
    ranges: dict[str, tuple[float, float]] = {}
    for key, bounds in DEFAULT_RANGES.items():
        group, name = key.split(".")
        if parameter(chip, key) == getattr(_DEFAULT_GROUPS[group], name):
            ranges[key] = bounds
    ranges |= chip.cost.ranges
    out = {}
    for key, (low, high) in ranges.items():
        value = parameter(chip, key)
        if value is not None and high > low and _in_use(chip, key):
            out[key] = (float(value), float(low), float(high))
    return out


class _Varied:
    """A chip (or one of its groups) whose uncertain parameters are numpy arrays, one value per
    draw; every other attribute is the chip's own. The cost functions take it as a chip."""

    def __init__(self, obj: BaseModel, values: dict[str, np.ndarray], prefix: str = "") -> None:
        self._obj, self._values, self._prefix = obj, values, prefix

    def __getattr__(self, name: str):
        path = self._prefix + name
        if path in self._values:
            return self._values[path]
        value = getattr(self._obj, name)
        if isinstance(value, BaseModel) and any(k.startswith(path + ".") for k in self._values):
            return _Varied(value, self._values, path + ".")
        return value


SAMPLES, SEED = 4096, 0


def samples(chip: ChipSpec, n: int = SAMPLES, seed: int = SEED
            ) -> tuple[ChipSpec, dict[str, tuple[float, float, float]]]:
    """``chip`` with every uncertain parameter as an array of ``n`` independent draws within its
    range (log-uniform; uniform from 0), and the ranges used. With no uncertain parameter the
    chip itself is returned."""
    ranges = parameter_ranges(chip)
    if not ranges:
        return chip, ranges
    rng = np.random.default_rng(seed)
    values = {}
    for key, (_, low, high) in ranges.items():
        u = rng.random(n)
        values[key] = low + u * (high - low) if low == 0 else low * (high / low) ** u
    return _Varied(chip, values), ranges  # type: ignore[return-value]


def interval(nominal: float, drawn) -> Interval:
    """Interval of a figure: its nominal value and the 5th and 95th percentiles of its draws."""
    low, high = np.percentile(np.asarray(drawn, dtype=float), (5, 95))  # a scalar: both ends equal it
    return Interval(float(nominal), float(low), float(high))


__all__ = ["SAMPLES", "SEED", "Interval", "interval", "parameter_ranges", "samples"]
