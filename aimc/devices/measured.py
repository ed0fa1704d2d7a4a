"""A device model interpolated from a user's own measurements (a CSV file).

This is how a device engineer puts wafer data into aimc: measure, at a grid of target
conductances, the statistics of the PCM-type model (Nandakumar et al., ICECS 2019, see
``aimc.devices.pcm``) and aimc interpolates them linearly between grid points:

=====================  ======================================================================
column                 meaning
=====================  ======================================================================
``g_target``           target conductance (S), strictly increasing, >= 0
``sigma_prog``         programming noise std (S) at that target
``nu_mean``            mean drift exponent (before folding), ``g(t) = g_prog ((t+t0)/t0)^-nu``
``nu_std``             drift-exponent spread; ``nu = |N(nu_mean, nu_std)|`` per device
``read_noise_q``       1/f read-noise amplitude Q: ``sigma_read = g(t) Q sqrt(ln((t+t_read)/(2 t_read)))``
=====================  ======================================================================

Lines starting with ``#`` are comments. Targets outside the grid take the nearest grid value's
statistics. Conductances are in siemens: a table whose ``g_target`` reaches far above the
device's ``g_max`` (more than :data:`GRID_OVERSHOOT` times) or whose ``sigma_prog`` exceeds
``g_max`` is refused, naming the likely unit (a table in uS has values 1e6 times too large).
:func:`write_device_csv` writes the same table from any PCM-type model, e.g.
``write_device_csv(PCM(), "pcm.csv")``, which loads back to the PCM statistics (tested).
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import ClassVar, Literal

import numpy as np
import torch
from pydantic import Field, PrivateAttr, model_validator

from .base import Device, State, check_time
from .pcm import PCM

COLUMNS = ("g_target", "sigma_prog", "nu_mean", "nu_std", "read_noise_q")
# the grid may extend a little past g_max (those statistics are never used); beyond this
# factor the conductances or g_max are in the wrong unit
GRID_OVERSHOOT = 1.5
_UNITS = ((1e3, "mS", "1e3"), (1e6, "uS", "1e6"), (1e9, "nS", "1e9"), (1e12, "pS", "1e12"))


class DeviceCSVError(ValueError):
    """A measured-device CSV that cannot be used, with the reason."""


def read_device_csv(path: str | Path) -> dict[str, np.ndarray]:
    """Read and validate a measured-device table; raises :class:`DeviceCSVError`."""
    path = Path(path)
    if not path.is_file():
        raise DeviceCSVError(f"device CSV {path} does not exist")
    with path.open(newline="") as handle:
        rows = [r for r in csv.reader(handle) if r and not r[0].lstrip().startswith("#")]
    if not rows:
        raise DeviceCSVError(f"{path}: no header line")
    header = [h.strip() for h in rows[0]]
    missing = [c for c in COLUMNS if c not in header]
    if missing:
        raise DeviceCSVError(f"{path}: missing column(s) {', '.join(missing)}; "
                             f"needed: {', '.join(COLUMNS)}")
    if len(rows) < 3:
        raise DeviceCSVError(f"{path}: need at least 2 data rows, got {len(rows) - 1}")
    try:
        data = np.array([[float(r[header.index(c)]) for c in COLUMNS] for r in rows[1:]])
    except (ValueError, IndexError) as err:
        raise DeviceCSVError(f"{path}: every row needs a number in each column ({err})") from err
    if not np.isfinite(data).all():
        raise DeviceCSVError(f"{path}: NaN or infinite values")
    table = dict(zip(COLUMNS, data.T, strict=True))
    if (table["g_target"] < 0).any():
        raise DeviceCSVError(f"{path}: negative conductance in g_target")
    if (np.diff(table["g_target"]) <= 0).any():
        raise DeviceCSVError(f"{path}: g_target must be strictly increasing (a monotone grid)")
    for c in ("sigma_prog", "nu_std", "read_noise_q"):
        if (table[c] < 0).any():
            raise DeviceCSVError(f"{path}: negative values in {c}")
    return table


def _unit_hint(ratio: float, what: str = "g_target and sigma_prog") -> str:
    """The unit a table is probably in when its values are ``ratio`` times too large."""
    for factor, unit, divide in _UNITS:
        if factor / 30 <= ratio <= factor * 30:
            return f"values look like {unit}, not S: divide {what} by {divide}"
    return "conductances must be in siemens (S)"


def check_plausible(table: dict[str, np.ndarray], g_max: float, source: str) -> None:
    """Refuse a table whose conductances cannot be siemens for a device with ``g_max`` (S)."""
    if g_max > 1e-2:  # 10 mS is a 100-ohm cell: no analog memory cell conducts that much
        raise DeviceCSVError(
            f"{source}: g_max = {g_max:.3g} S is not a memory cell's conductance; g_max and the "
            f"table are in siemens ({_unit_hint(g_max / 25e-6, 'g_max')})")
    top = float(table["g_target"][-1])
    if top > GRID_OVERSHOOT * g_max:
        raise DeviceCSVError(
            f"{source}: g_target reaches {top:.3g}, {top / g_max:.3g} times g_max = {g_max:.3g} S; "
            f"{_unit_hint(top / g_max)} (or set g_max to the device's real maximum)")
    sigma = float(table["sigma_prog"].max())
    if sigma > g_max:
        raise DeviceCSVError(
            f"{source}: sigma_prog reaches {sigma:.3g}, more than g_max = {g_max:.3g} S; "
            f"{_unit_hint(sigma / (0.05 * g_max))}")


def write_device_csv(device: PCM, path: str | Path, points: int = 64) -> Path:
    """Tabulate a PCM-type model's statistics on ``points`` targets from 0 to ``g_max``."""
    g = torch.linspace(0.0, device.g_max, points, dtype=torch.float64)
    mu, sigma = device.drift_exponent_stats(g)
    table = {"g_target": g, "sigma_prog": device.programming_std(g), "nu_mean": mu,
             "nu_std": sigma, "read_noise_q": device.read_noise_q(g)}
    path = Path(path)
    with path.open("w", newline="") as handle:
        handle.write(f"# statistics of the {device.name} model, g_max = {device.g_max} S\n")
        writer = csv.writer(handle)
        writer.writerow(COLUMNS)
        for i in range(points):
            writer.writerow([f"{float(table[c][i]):.9g}" for c in COLUMNS])
    return path


class MeasuredDevice(Device):
    """PCM-form statistics interpolated from a CSV of measurements (see the module docstring).

    Example:
        >>> dev = MeasuredDevice(csv="my_wafer.csv", g_max=25e-6)   # doctest: +SKIP
    """

    name: Literal["measured"] = "measured"
    #: 1/f read noise (the Nandakumar law with measured Q): split over ``read_window``
    noise_spectrum: ClassVar[Literal["1/f", "white"]] = "1/f"
    csv: str = Field(description="path of the measured-statistics CSV")
    t0: float = Field(20.0, gt=0, description="drift reference time t0 (s)")
    t_read: float = Field(250e-9, gt=0, description="duration of one read (s)")
    _table: dict[str, np.ndarray] = PrivateAttr()

    @model_validator(mode="after")
    def _load(self) -> MeasuredDevice:
        self._table = read_device_csv(self.csv)
        if self._table["g_target"][-1] < self.g_max * (1 - 1e-6):
            raise DeviceCSVError(
                f"{self.csv}: the grid ends at {self._table['g_target'][-1]:.3g} S, below "
                f"g_max = {self.g_max:.3g} S; measure up to g_max or lower g_max")
        check_plausible(self._table, self.g_max, self.csv)
        return self

    def stat(self, column: str, g_target: torch.Tensor) -> torch.Tensor:
        """Linear interpolation of one measured column at ``g_target``."""
        values = np.interp(g_target.detach().cpu().double().numpy(), self._table["g_target"],
                           self._table[column])
        return torch.from_numpy(values).to(g_target.dtype)

    def _program(self, g_target: torch.Tensor, generator: torch.Generator) -> State:
        noise = torch.randn(g_target.shape, generator=generator, dtype=g_target.dtype)
        g_prog = (g_target + self.stat("sigma_prog", g_target) * noise).clamp(min=0.0)
        nu_noise = torch.randn(g_target.shape, generator=generator, dtype=g_target.dtype)
        nu = (self.stat("nu_mean", g_target) + self.stat("nu_std", g_target) * nu_noise).abs()
        return {"g_target": g_target.clone(), "g_prog": g_prog, "nu": nu,
                "q": self.stat("read_noise_q", g_target)}

    def conductance(self, state: State, t: float) -> torch.Tensor:
        t = check_time(t)
        if t == 0.0:
            return state["g_prog"]
        return state["g_prog"] * torch.exp(-state["nu"] * float(np.log((t + self.t0) / self.t0)))

    def read_noise_std(self, state: State, g_t: torch.Tensor, t: float) -> torch.Tensor | None:
        factor = float(np.sqrt(max(np.log((check_time(t) + self.t_read) / (2 * self.t_read)), 0.0)))
        if factor == 0.0:
            return None
        return g_t * state["q"] * factor
