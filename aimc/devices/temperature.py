"""The chip's temperature over time, and what it does to a device's clock.

A profile says the chip temperature ``T(t)`` (K) at every time ``t`` (s) of a deployment:
constant (:class:`ConstantTemperature`), a daily cycle (:class:`DailyCycle`) or a table read from
a user CSV (:class:`TemperatureTable`). All are validated pydantic models; a bad profile
(negative or zero kelvin, unsorted times, NaN, a gap wider than ``max_gap_s``) is refused with a
message that says what is wrong.

Devices whose drift or retention loss is thermally activated (``Device.drift_acceleration``:
PCM, RRAM, flash) age faster when hot. Under a varying temperature the device has aged, ``t``
seconds after programming at ``t_p``, as much as at the reference temperature after the
*equivalent time*

    ``tau = int_{t_p}^{t} A(T(s)) ds``,  ``A(T) = exp(Ea / k_B (1/T_ref - 1/T))``,

the time-temperature superposition of thermally activated relaxation (for PCM: D. Ielmini et
al., Appl. Phys. Lett. 92, 193511 (2008)). :class:`EquivalentClock` tabulates the integral once
(trapezoid rule on a grid of ``step_s``, 15 min by default: for the 25-85 °C daily cycle and
PCM's 1 eV, within 0.1 % of the exact integral, tested). A device model takes the time since
programming at its own temperature, ``device.conductance(state, t)`` ages it by
``t * A(temperature_k)``: :func:`device_time` gives the ``t`` that makes it age ``tau`` at the
temperature ``T`` of the read (``tau / A(T)``). The read conductance's own temperature factor
(``Device.conductance_temperature_factor``) is taken at ``T``. Approximation: a device's read
noise, which depends on the time since programming, sees that ``t`` too (PCM's 1/f noise grows
with ``sqrt(ln t)``: a factor 500 on ``t`` changes it by less than 10 % after one hour).
"""

from __future__ import annotations

import csv
import math
import re
from pathlib import Path
from typing import Annotated, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from .base import Device

ZERO_C = 273.15
DAY = 86400.0


def celsius(c: float) -> float:
    """Kelvin of ``c`` degrees Celsius."""
    return c + ZERO_C


class ConstantTemperature(BaseModel):
    """The same temperature all the time.

    Example:
        >>> ConstantTemperature(kelvin=300.0).at(np.array([0.0, 1e6]))
        array([300., 300.])
    """

    model_config = ConfigDict(frozen=True, extra="forbid")
    kind: Literal["constant"] = "constant"
    kelvin: float = Field(300.0, gt=0, allow_inf_nan=False, description="chip temperature (K)")

    def at(self, t_s: np.ndarray) -> np.ndarray:
        return np.full(np.shape(t_s), self.kelvin, dtype=np.float64)

    @property
    def label(self) -> str:
        return f"constant {self.kelvin - ZERO_C:g} °C"

    def check_covers(self, duration_s: float) -> None:
        """Raise if the profile does not reach ``duration_s`` (only tables end)."""


class DailyCycle(BaseModel):
    """A sinusoidal cycle between ``low_k`` and ``high_k`` with period ``period_s`` (a day), its
    peak at ``peak_s`` into each period: ``T = mid + amp * cos(2 pi (t - peak_s) / period)``.

    Example:
        >>> cycle = DailyCycle(low_k=celsius(25), high_k=celsius(85))
        >>> float(cycle.at(np.array([0.0]))[0]) - ZERO_C   # the peak at t = 0 (default)
        85.0
    """

    model_config = ConfigDict(frozen=True, extra="forbid")
    kind: Literal["daily"] = "daily"
    low_k: float = Field(celsius(25.0), gt=0, allow_inf_nan=False, description="coolest (K)")
    high_k: float = Field(celsius(85.0), gt=0, allow_inf_nan=False, description="hottest (K)")
    period_s: float = Field(DAY, gt=0, allow_inf_nan=False, description="period of the cycle (s)")
    peak_s: float = Field(0.0, ge=0, allow_inf_nan=False, description="time of the peak in each period (s)")

    @model_validator(mode="after")
    def _ordered(self) -> DailyCycle:
        if self.low_k > self.high_k:
            raise ValueError(f"low_k ({self.low_k} K) must not exceed high_k ({self.high_k} K)")
        return self

    def at(self, t_s: np.ndarray) -> np.ndarray:
        mid, amp = 0.5 * (self.low_k + self.high_k), 0.5 * (self.high_k - self.low_k)
        return mid + amp * np.cos(2.0 * math.pi * (np.asarray(t_s, dtype=np.float64) - self.peak_s)
                                  / self.period_s)

    @property
    def label(self) -> str:
        return f"daily {self.low_k - ZERO_C:g}-{self.high_k - ZERO_C:g} °C"

    def check_covers(self, duration_s: float) -> None:
        """Raise if the profile does not reach ``duration_s`` (only tables end)."""


class TemperatureTable(BaseModel):
    """Measured temperatures ``kelvin`` at ``times_s`` (strictly increasing, the first at 0 s),
    interpolated linearly; asking past the last time is an error. Two consecutive points more
    than ``max_gap_s`` apart are refused as a gap in the record.

    Example:
        >>> TemperatureTable(times_s=[0, 3600], kelvin=[300, 320]).at(np.array([1800.0]))
        array([310.])
    """

    model_config = ConfigDict(frozen=True, extra="forbid")
    kind: Literal["table"] = "table"
    times_s: list[float] = Field(description="times of the measurements (s), from 0, increasing")
    kelvin: list[float] = Field(description="temperatures (K)")
    max_gap_s: float = Field(DAY, gt=0, description="largest allowed spacing of two points (s)")
    source: str = Field("", description="where the table came from (a file name)")

    @model_validator(mode="after")
    def _valid(self) -> TemperatureTable:
        t, k = np.asarray(self.times_s, dtype=float), np.asarray(self.kelvin, dtype=float)
        where = f" in {self.source}" if self.source else ""
        if len(t) != len(k):
            raise ValueError(f"temperature table{where}: {len(t)} times but {len(k)} temperatures")
        if len(t) < 2:
            raise ValueError(f"temperature table{where}: needs at least 2 points, got {len(t)}")
        for name, v in (("time", t), ("temperature", k)):
            bad = np.flatnonzero(~np.isfinite(v))
            if bad.size:
                raise ValueError(f"temperature table{where}: {name} at row {bad[0] + 1} is {v[bad[0]]} "
                                 f"(NaN or infinite); every row needs a number")
        if t[0] != 0.0:
            raise ValueError(f"temperature table{where}: the first time must be 0 s (programming), "
                             f"got {t[0]:g}")
        step = np.diff(t)
        if (step <= 0).any():
            i = int(np.flatnonzero(step <= 0)[0])
            raise ValueError(f"temperature table{where}: times must increase strictly; row {i + 2} "
                             f"({t[i + 1]:g} s) does not come after row {i + 1} ({t[i]:g} s)")
        if (step > self.max_gap_s).any():
            i = int(np.flatnonzero(step > self.max_gap_s)[0])
            raise ValueError(f"temperature table{where}: gap of {step[i]:g} s between {t[i]:g} s and "
                             f"{t[i + 1]:g} s exceeds max_gap_s = {self.max_gap_s:g} s")
        if (k <= 0).any():
            i = int(np.flatnonzero(k <= 0)[0])
            raise ValueError(f"temperature table{where}: temperature at row {i + 1} is {k[i]:g} K; "
                             f"kelvin must be > 0 (for °C, name the CSV column temperature_c "
                             f"instead of temperature_k)")
        return self

    @property
    def end_s(self) -> float:
        return float(self.times_s[-1])

    def at(self, t_s: np.ndarray) -> np.ndarray:
        t = np.asarray(t_s, dtype=np.float64)
        if t.size and float(t.max()) > self.end_s:
            raise ValueError(f"temperature table{' ' + self.source if self.source else ''} ends at "
                             f"{self.end_s:g} s; asked for {float(t.max()):g} s")
        return np.interp(t, self.times_s, self.kelvin)

    @property
    def label(self) -> str:
        return f"table {self.source or ''}".strip()

    def check_covers(self, duration_s: float) -> None:
        """Raise if the table ends before ``duration_s``."""
        if duration_s > self.end_s:
            raise ValueError(f"temperature table{' ' + self.source if self.source else ''} ends at "
                             f"{self.end_s:g} s, before the duration of {duration_s:g} s: extend the "
                             f"table or shorten the duration")

    @classmethod
    def from_csv(cls, path: str | Path, max_gap_s: float = DAY) -> TemperatureTable:
        """Read a CSV with a header: ``time_s`` and either ``temperature_k`` or
        ``temperature_c``; lines starting with ``#`` are comments."""
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"temperature profile {path} does not exist")
        with path.open(newline="") as f:
            rows = [r for r in csv.reader(line for line in f if not line.lstrip().startswith("#"))
                    if any(c.strip() for c in r)]
        if not rows:
            raise ValueError(f"temperature profile {path} is empty")
        header = [c.strip().lower() for c in rows[0]]
        if "time_s" not in header or not {"temperature_k", "temperature_c"} & set(header):
            raise ValueError(f"temperature profile {path}: header must name time_s and temperature_k "
                             f"or temperature_c, got {rows[0]}")
        ti = header.index("time_s")
        kelvin = "temperature_k" in header
        ki = header.index("temperature_k" if kelvin else "temperature_c")
        times, temps = [], []
        for n, r in enumerate(rows[1:], start=2):
            try:
                times.append(float(r[ti]) if r[ti].strip() else math.nan)
                temps.append(float(r[ki]) if r[ki].strip() else math.nan)
            except (ValueError, IndexError) as err:
                raise ValueError(f"temperature profile {path}, line {n}: not a number ({err})") from err
        temps = temps if kelvin else [c + ZERO_C for c in temps]
        return cls(times_s=times, kelvin=temps, max_gap_s=max_gap_s, source=path.name)


TemperatureProfile = Annotated[ConstantTemperature | DailyCycle | TemperatureTable,
                               Field(discriminator="kind")]


def parse_profile(text: str) -> ConstantTemperature | DailyCycle | TemperatureTable:
    """A profile from a short text: ``"300K"``, ``"25C"`` (constant), ``"daily:25-85C"``,
    ``"daily:-10-40C"`` or ``"daily:298-358K"`` (a daily cycle, peak at programming time), or the
    path of a CSV."""
    s = text.strip()
    low = s.lower()
    try:
        if low.startswith("daily:"):
            spec = low[6:].replace(" ", "")
            unit = spec[-1:]
            # low-high, either of them may be negative: "-10--5c", "-10-40c"
            match = re.fullmatch(r"(-?\d+(?:\.\d*)?)-(-?\d+(?:\.\d*)?)", spec[:-1])
            if unit not in ("c", "k") or match is None:
                raise ValueError
            lo, hi = float(match.group(1)), float(match.group(2))
            if unit == "c":
                lo, hi = celsius(lo), celsius(hi)
            return DailyCycle(low_k=lo, high_k=hi)
        if low.endswith("k") and _number(low[:-1]):
            return ConstantTemperature(kelvin=float(low[:-1]))
        if low.endswith("c") and _number(low[:-1]):
            return ConstantTemperature(kelvin=celsius(float(low[:-1])))
    except ValueError as err:
        if "validation error" in str(err):
            raise
        raise ValueError(f"temperature {text!r}: expected e.g. 300K, 25C, daily:25-85C or a CSV "
                         f"path") from err
    if Path(s).suffix.lower() == ".csv" or Path(s).exists():
        return TemperatureTable.from_csv(s)
    raise ValueError(f"temperature {text!r}: expected e.g. 300K, 25C, daily:25-85C or a CSV path")


def _number(s: str) -> bool:
    try:
        float(s)
    except ValueError:
        return False
    return True


def acceleration(device: Device, kelvin: np.ndarray) -> np.ndarray:
    """``device.drift_acceleration(T)`` for an array of temperatures."""
    flat = np.asarray(kelvin, dtype=np.float64).ravel()
    cache: dict[float, float] = {}
    out = np.empty_like(flat)
    for i, k in enumerate(flat.tolist()):
        if k not in cache:
            cache[k] = device.drift_acceleration(k)
        out[i] = cache[k]
    return out.reshape(np.shape(kelvin))


class EquivalentClock:
    """``tau(t) = int_0^t A(T(s)) ds`` of one device model under one profile, tabulated up to
    ``end_s`` on a grid of ``step_s`` (trapezoid rule; exact for a constant temperature).

    Example:
        >>> from aimc.devices import PCM
        >>> clock = EquivalentClock(PCM(), ConstantTemperature(kelvin=300.0), 86400.0)
        >>> clock.tau(0.0, 3600.0)
        3600.0
    """

    def __init__(self, device: Device, profile, end_s: float, step_s: float = 900.0) -> None:
        self.device, self.profile, self.end_s = device, profile, float(end_s)
        self.constant = isinstance(profile, ConstantTemperature)
        if self.constant:
            self.rate = device.drift_acceleration(profile.kelvin)
            return
        n = max(2, math.ceil(self.end_s / step_s) + 1)
        grid = np.linspace(0.0, self.end_s, n)
        if isinstance(profile, TemperatureTable):  # the table's own points too (its corners)
            grid = np.union1d(grid, np.asarray(profile.times_s)[np.asarray(profile.times_s) <= self.end_s])
        rate = acceleration(device, profile.at(grid))
        self.grid = grid
        self.cum = np.concatenate([[0.0], np.cumsum(0.5 * (rate[1:] + rate[:-1]) * np.diff(grid))])

    def tau(self, t0: float, t1: float) -> float:
        """Equivalent time (s at the reference temperature) between ``t0`` and ``t1``."""
        if t1 < t0:
            raise ValueError(f"t1 ({t1}) must not precede t0 ({t0})")
        if t1 > self.end_s * (1 + 1e-12):
            raise ValueError(f"the clock is tabulated up to {self.end_s:g} s; asked for {t1:g} s")
        if self.constant:
            return (t1 - t0) * self.rate
        c0, c1 = np.interp([t0, t1], self.grid, self.cum)
        return float(c1 - c0)

    def temperature(self, t: float) -> float:
        return float(self.profile.at(np.array([t]))[0])


def device_at(device: Device, temperature_k: float) -> Device:
    """The device model at ``temperature_k`` (the same object when it is already there)."""
    if device.temperature_k == temperature_k:
        return device
    return device.model_copy(update={"temperature_k": float(temperature_k)})


def device_time(device: Device, tau: float, temperature_k: float) -> float:
    """The time since programming to hand ``device_at(device, T)`` so that it ages by the
    equivalent time ``tau``: ``tau / A(T)``."""
    return tau / device.drift_acceleration(temperature_k)
