"""A chip's life: a deployed analog model through months of drift, heat, calibration and refresh.

:func:`simulate_lifetime` takes a converted model, a chip temperature profile
(``aimc.devices.temperature``) and a policy (:data:`POLICIES`: how the outputs are compensated
and when the weights are re-programmed) and follows ``repeats`` chip instances from programming
(``t = 0``) to ``duration_s``, reading the test set at every time of ``times``:

* **time and temperature** — each tile is read at ``T(t)`` and aged by the equivalent time since
  its last programming (``EquivalentClock``; devices' Arrhenius drift acceleration and read
  conductance temperature factor, ``Device.drift_acceleration`` /
  ``Device.conductance_temperature_factor``). Programming targets are reached at the device's
  reference temperature (program-and-verify under a known temperature; an assumption): the
  programming, the reference cells' baselines and the GDC reference are all taken at the
  device's reference temperature (300 K for PCM) even when the profile is hot at that moment,
  as if the chip were cooled for every (re)programming (the read temperature acts from ``t+``);
* **compensation** — ``none``; ``global``: the chip's global drift compensation (GDC,
  ``aimc.calibration.drift_compensation``, through the real read path); ``per_array`` /
  ``per_column``: from the reference cells (``aimc.calibration.reference_cells``);
  ``closed_loop``: the per-column correction updated every ``controller.period_s`` with gain
  ``controller.gain``. Calibrations run every ``calibration_period_s`` (closed loop: every
  ``controller.period_s``), so a read at ``t`` uses the calibration of the last period boundary
  (or of the last programming); the energy of every calibration over the whole life is counted;
* **refresh** (``aimc.calibration.refresh``) — none, periodic, or when the reference cells'
  cell-read spread passes a threshold (checked every ``check_period_s``); a refresh programs every
  tile again (new chip-instance draw of the programming noise, open loop or program-and-verify),
  restarts drift, costs energy and downtime (``aimc.cost.programming_cost``) and endurance
  cycles: devices past their technology's budget become stuck (``aimc.calibration.aging``);
* **downtime** — re-programming, the threshold policy's reference-cell checks (single-cell reads)
  and every calibration's reads (GDC vectors, reference-column reads), by the rule of
  ``aimc.cost.calibration`` (one array at a time, the rows of an array in parallel), by kind in
  ``LifetimeResult.downtime_by_kind``.

The caller's model is not modified: the simulation runs on a copy of it.

Results (:class:`LifetimeResult`): accuracy ``[repeats, times]``, temperature at each time,
refresh times of every instance, energy overhead by kind (refresh, calibration reads) over the
whole duration, downtime and worn-out devices per instance; a plot (:func:`plot_lifetime`) and
JSON.

Checkpoints. With ``checkpoint_dir`` the simulation writes, after every evaluated time of every
instance, ``lifetime-<step>.safetensors`` (the current instance's endurance counts and controller
scales) and then ``lifetime.json`` (the configuration, how far it got, every result so far and
the name of its tensors file; strict JSON, ``null`` for a time not measured yet), each through a
temporary file and a rename, then removes older tensors files: a kill at any moment leaves a JSON
and the tensors it names. Never pickle. The configuration holds the whole chip specification, a
SHA-256 of the model's weights and of the test data, and the training epochs when given: called
again with the same ``checkpoint_dir`` and configuration it resumes where it stopped, with the
same numbers as an uninterrupted run (the programmed devices are drawn again from their seeds;
every read is seeded by the instance, the time and the temperature); with anything else it
raises an error naming what differs (``fresh=True`` starts over).
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import time as _time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field, PositiveInt
from rich.progress import Progress
from safetensors.torch import load_file, save_file
from torch import nn

from ..calibration import ClosedLoop, Endurance, NoRefresh, ReferenceBank, ReferenceCells, Refresh, Wear
from ..calibration.refresh import PeriodicRefresh, ThresholdRefresh
from ..chips import ChipSpec
from ..cost.calibration import (
    array_reads_time,
    cell_read_energy,
    cell_reads_time,
    matrix_read_energy,
    programming_cost,
    reference_column_read_energy,
)
from ..devices.temperature import (
    ConstantTemperature,
    EquivalentClock,
    TemperatureProfile,
    device_at,
    device_time,
)
from ..nn import analog_tiles, program
from ..tile import split_seed
from .over_time import Data, accuracy

DAY = 86400.0
YEAR = 365 * DAY


class LifetimePolicy(BaseModel):
    """How a deployed chip is kept accurate: output compensation and refresh.

    Example:
        >>> POLICIES["threshold"].refresh.kind
        'threshold'
    """

    model_config = ConfigDict(frozen=True, extra="forbid")
    name: str = "custom"
    compensation: Literal["none", "global", "per_array", "per_column", "closed_loop"] = "global"
    refresh: Refresh = Field(default_factory=NoRefresh)
    calibration_period_s: float = Field(3600.0, gt=0, description="time between calibrations (s)")
    controller: ClosedLoop = Field(default_factory=ClosedLoop)

    @property
    def uses_reference_cells(self) -> bool:
        return (self.compensation in ("per_array", "per_column", "closed_loop")
                or self.refresh.kind == "threshold")


POLICIES: dict[str, LifetimePolicy] = {
    "none": LifetimePolicy(name="none", compensation="none"),
    "global": LifetimePolicy(name="global", compensation="global"),
    "per-array": LifetimePolicy(name="per-array", compensation="per_array"),
    "per-column": LifetimePolicy(name="per-column", compensation="per_column"),
    "closed-loop": LifetimePolicy(name="closed-loop", compensation="closed_loop"),
    "threshold": LifetimePolicy(name="threshold", compensation="per_column", refresh=ThresholdRefresh()),
    "periodic": LifetimePolicy(name="periodic", compensation="per_column",
                               refresh=PeriodicRefresh(period_s=30 * DAY)),
}


def get_policy(name: str | LifetimePolicy) -> LifetimePolicy:
    if isinstance(name, LifetimePolicy):
        return name
    if name not in POLICIES:
        raise ValueError(f"unknown lifetime policy {name!r}; known: {', '.join(POLICIES)}")
    return POLICIES[name]


class LifetimeConfig(BaseModel):
    """Everything that determines a lifetime simulation's numbers (checked on resume)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    chip: dict  # ChipSpec.model_dump(mode="json"): every parameter, not only the name
    model_sha256: str = Field(description="SHA-256 of the model's weights (model_fingerprint)")
    data_sha256: str | None = Field(None, description="SHA-256 of the test data (None: not a tensor pair)")
    training_epochs: int | None = Field(None, description="epochs the model was trained for, when known")
    policy: LifetimePolicy
    profile: TemperatureProfile = Field(default_factory=ConstantTemperature)
    duration_s: float = Field(YEAR, gt=0)
    times: list[float]
    repeats: PositiveInt = 1
    seed: int = 0
    reference_cells: ReferenceCells = Field(default_factory=ReferenceCells)
    endurance: Endurance = Field(default_factory=Endurance)
    clock_step_s: float = Field(900.0, gt=0, description="grid of the equivalent-time integral (s)")


def model_fingerprint(model: nn.Module) -> str:
    """SHA-256 of a converted model's weights: its parameters and every tile's mapped weights
    (``target_weight``), by name; not its programmed state or read matrices."""
    h = hashlib.sha256()
    tensors = dict(model.named_parameters())
    tensors |= {f"{name}.target_weight": tile.target_weight for name, tile in analog_tiles(model)}
    for name in sorted(tensors):
        t = tensors[name].detach().cpu().contiguous()
        h.update(f"{name}:{t.dtype}:{tuple(t.shape)}".encode())
        h.update(t.view(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


def data_fingerprint(data: Data) -> str | None:
    """SHA-256 of ``(x, y)`` tensors or of a list/tuple of such batches; None for any other
    iterable (a loader may shuffle: not checked on resume)."""
    if isinstance(data, tuple) and len(data) == 2 and all(isinstance(v, torch.Tensor) for v in data):
        batches = [data]
    elif isinstance(data, (list, tuple)) and all(
            isinstance(b, (list, tuple)) and all(isinstance(v, torch.Tensor) for v in b) for b in data):
        batches = list(data)
    else:
        return None
    h = hashlib.sha256()
    for batch in batches:
        for t in batch:
            t = t.detach().cpu().contiguous()
            h.update(f"{t.dtype}:{tuple(t.shape)}".encode())
            h.update(t.view(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


def _differences(saved, now, prefix: str = "") -> list[str]:
    """Dotted names of the entries in which two JSON configurations differ."""
    if isinstance(saved, dict) and isinstance(now, dict):
        out = []
        for key in sorted(set(saved) | set(now)):
            name = f"{prefix}.{key}" if prefix else str(key)
            if key not in saved:
                out.append(f"{name} (not in the checkpoint)")
            elif key not in now:
                out.append(f"{name} (only in the checkpoint)")
            else:
                out += _differences(saved[key], now[key], name)
        return out
    if saved == now:
        return []
    def short(v) -> str:
        return (repr(v)[:40] + "…") if len(repr(v)) > 40 else repr(v)

    return [f"{prefix or 'configuration'} (checkpoint {short(saved)}, now {short(now)})"]


def default_times(duration_s: float, checkpoints: int = 20) -> list[float]:
    """``checkpoints`` times from 1 s to ``duration_s``, evenly spaced in log time."""
    if checkpoints < 1:
        raise ValueError(f"checkpoints must be >= 1, got {checkpoints}")
    if checkpoints == 1:
        return [float(duration_s)]
    return [float(t) for t in np.geomspace(1.0, duration_s, checkpoints)]


@dataclass
class LifetimeResult:
    """What :func:`simulate_lifetime` measured (see the module docstring)."""

    config: LifetimeConfig
    accuracy: np.ndarray  # [repeats, times]
    temperatures_k: list[float]
    refreshes: list[list[float]]  # refresh times (s) of each instance
    energy_j: list[dict[str, float]]  # per instance, by kind
    downtime_s: list[float]
    worn: list[int]  # worn-out devices of each instance at the end
    complete: bool = True
    wall_time_s: float = 0.0
    extra: dict = field(default_factory=dict)
    downtime_by_kind: list[dict[str, float]] = field(default_factory=list)  # per instance (s)

    @property
    def times(self) -> list[float]:
        return self.config.times

    @property
    def mean(self) -> np.ndarray:
        return self.accuracy.mean(axis=0)

    @property
    def sem(self) -> np.ndarray:
        """Standard error of the mean over chip instances (0 with one instance)."""
        n = self.accuracy.shape[0]
        return self.accuracy.std(axis=0, ddof=1) / math.sqrt(n) if n > 1 else np.zeros(self.accuracy.shape[1])

    def energy_total_j(self) -> np.ndarray:
        return np.array([sum(e.values()) for e in self.energy_j])

    def to_dict(self) -> dict:
        return {
            "config": self.config.model_dump(mode="json"),
            "times_s": self.times,
            "temperature_k": self.temperatures_k,
            "accuracy": self.accuracy.tolist(),
            "accuracy_mean": self.mean.tolist(),
            "accuracy_sem": self.sem.tolist(),
            "refreshes_s": self.refreshes,
            "energy_j": self.energy_j,
            "energy_total_j": self.energy_total_j().tolist(),
            "downtime_s": self.downtime_s,
            "downtime_by_kind_s": self.downtime_by_kind,
            "worn_devices": self.worn,
            "complete": self.complete,
            "wall_time_s": self.wall_time_s,
            **self.extra,
        }


# ---------------------------------------------------------------------------------------------
class _Instance:
    """One chip instance's life: its programming history, calibration state and costs."""

    def __init__(self, sim: _Simulation, index: int) -> None:
        self.sim, self.index = sim, index
        self.seed = sim.seeds[index]
        self.t_prog = 0.0
        self.programs = 0  # programmings so far (the first one included)
        self.refreshes: list[float] = []
        self.energy = {"refresh": 0.0, "calibration": 0.0, "reference_checks": 0.0}
        self.downtime = {"refresh": 0.0, "reference_checks": 0.0}  # s; calibration: at the end
        self.t_done = 0.0  # time up to which events were processed
        self.wear = [Wear(tile, sim.config.endurance, s) for tile, s in
                     zip(sim.tiles, split_seed(self.seed ^ 0xAE, len(sim.tiles)), strict=True)]
        self.scales: list[torch.Tensor | None] = [None] * len(sim.tiles)  # closed loop
        self.t_update = -1.0  # time of the controller's last update

    # -------------------------------------------------------------- programming
    def program(self, t: float, count: bool = True) -> None:
        """Program every tile (and the reference cells) at ``t``; ``count``: add its costs."""
        sim = self.sim
        for tile in sim.tiles:
            tile.device_model = sim.device  # targets are reached at the reference temperature
        # the first programming: the instance's seed itself (the chip instance of
        # aimc.evaluation.evaluate_over_time with the same seed); each refresh: a fresh draw
        seed = self.seed if self.programs == 0 else split_seed(
            np.random.SeedSequence([self.seed, self.programs]), 1)[0]
        verify = sim.verify
        program(sim.model, seed=seed, verify=verify, check_memory=False)
        pulses = reads = 0
        for tile, wear in zip(sim.tiles, self.wear, strict=True):
            devices = tile.device_shape.numel()
            if verify is None:
                p, r = devices, 0
            else:
                p, r = tile.verify_history.pulses, tile.verify_history.reads
            pulses, reads = pulses + p, reads + r
            if count:
                wear.add(1.0 if verify is None else tile.verify_history.pulses_per_device)
            wear.apply(tile)
            if wear.worn_count:  # the calibration reference of the chip as it now is
                tile.drift_to(0.0, compensate=False)
                if tile.compensation is not None:
                    tile._gdc_reference = tile.compensation.readout(tile)
        for k, bank in enumerate(sim.banks):
            if bank is not None:
                bank.program(split_seed(np.random.SeedSequence([seed, k]), 1)[0], verify)
                pulses += bank.devices
        if count and self.programs > 0:
            energy, duration = programming_cost(sim.chip, pulses, reads, verify)
            self.energy["refresh"] += energy
            self.downtime["refresh"] += duration
            self.refreshes.append(t)
        self.programs += 1
        self.t_prog = t
        self.scales = [None] * len(sim.tiles)
        self.t_update = t

    # -------------------------------------------------------------- device at a time
    def _device(self, t: float):
        sim = self.sim
        temp = sim.clock.temperature(t)
        tau = sim.clock.tau(self.t_prog, t)
        return device_at(sim.device, temp), device_time(sim.device, tau, temp)

    # -------------------------------------------------------------- events up to t
    def advance(self, t: float) -> None:
        """Process refresh events in ``(t_done, t]``."""
        refresh = self.sim.config.policy.refresh
        if isinstance(refresh, PeriodicRefresh):
            for te in refresh.due(self.t_done, t):
                self.program(te)
        elif isinstance(refresh, ThresholdRefresh):
            checks = refresh.checks(self.t_done, t)
            cell_reads = sum(b.devices for b in self.sim.banks if b is not None)
            self.energy["reference_checks"] += len(checks) * cell_reads * self.sim.cell_read_j
            self.downtime["reference_checks"] += len(checks) * cell_reads_time(self.sim.chip, cell_reads)
            for tc in checks:
                if tc <= self.t_prog:
                    continue
                dev, targ = self._device(tc)
                spread = max(b.cell_spread(dev, targ) for b in self.sim.banks if b is not None)
                if spread > refresh.threshold:
                    self.program(tc)
        self.t_done = t

    # -------------------------------------------------------------- read at t
    def evaluate(self, t: float) -> float:
        sim, policy = self.sim, self.sim.config.policy
        comp = policy.compensation
        dev, targ = self._device(t)
        period = policy.controller.period_s if comp == "closed_loop" else policy.calibration_period_s
        tc = max(self.t_prog, math.floor(t / period) * period)
        dev_c, targ_c = self._device(tc) if tc != t else (dev, targ)
        scales: list[torch.Tensor | float] = []
        if comp == "global":
            for tile in sim.tiles:
                tile.device_model = dev_c
                tile.drift_to(targ_c, compensate=True)
                scales.append(tile.gdc_scale)
        elif comp in ("per_array", "per_column"):
            for bank in sim.banks:
                scales.append(bank.column_scale(dev_c, targ_c) if comp == "per_column"
                              else bank.array_scale(dev_c, targ_c))
        elif comp == "closed_loop":
            scales = self._controller(tc)
        for k, tile in enumerate(sim.tiles):
            if comp == "global" and tc == t:
                continue  # already there
            tile.device_model = dev
            tile.drift_to(targ, compensate=False)
            tile.gdc_scale = scales[k] if scales else 1.0
        return accuracy(sim.model, sim.data)

    def _controller(self, tc: float) -> list[torch.Tensor]:
        """The closed-loop scales at ``tc`` (a controller update time): the updates since the
        last one, of which only the last ``settle`` matter ((1 - gain)^settle < 1e-4 of the
        state before them), are simulated."""
        sim, ctrl = self.sim, self.sim.config.policy.controller
        period = ctrl.period_s
        first = math.floor(self.t_update / period) + 1
        last = math.floor(tc / period)
        settle = ctrl.updates_to_settle(1e-4)
        steps = [k * period for k in range(max(first, last - settle + 1), last + 1)
                 if k * period > self.t_prog]
        if tc == self.t_prog and not steps:
            steps = [tc]
        for ts in steps:
            dev, targ = self._device(ts)
            for k, bank in enumerate(sim.banks):
                target = bank.column_scale(dev, targ)
                now = self.scales[k] if self.scales[k] is not None else torch.ones_like(target)
                self.scales[k] = ctrl.step(now, target)
        self.t_update = max(self.t_update, tc)
        return [s if s is not None else torch.ones(tile.out_features)
                for s, tile in zip(self.scales, sim.tiles, strict=True)]

    # -------------------------------------------------------------- costs of the whole life
    def calibration_cost(self, duration: float) -> tuple[float, float]:
        """(energy J, downtime s) of every calibration over ``duration``: GDC vectors through
        every array, or reference-column reads (one array read converts all of an array's
        reference columns), one array at a time (``aimc.cost.calibration``)."""
        sim, policy = self.sim, self.sim.config.policy
        comp = policy.compensation
        if comp == "none":
            return 0.0, 0.0
        period = policy.controller.period_s if comp == "closed_loop" else policy.calibration_period_s
        count = math.floor(duration / period) + len(self.refreshes) + 1
        if comp == "global":
            gdc = sim.tiles[0].compensation
            vectors = gdc.vectors if gdc is not None else 0
            arrays = sum(tile.row_arrays * tile.array_grid[1] for tile in sim.tiles)
            return count * vectors * sim.vector_j, array_reads_time(sim.chip, count * vectors * arrays)
        spec = sim.config.reference_cells
        banks = [b for b in sim.banks if b is not None]
        reads = sum(spec.reads_per_update(b.row_arrays * b.col_arrays) for b in banks)
        array_reads = sum(spec.reads * b.row_arrays * b.col_arrays for b in banks)
        return count * reads * sim.column_read_j, array_reads_time(sim.chip, count * array_reads)

    # -------------------------------------------------------------- checkpoint
    def tensors(self) -> dict[str, torch.Tensor]:
        out = {f"cycles.{k}": w.cycles.contiguous() for k, w in enumerate(self.wear)}
        out["step.id"] = torch.tensor([self.sim.step_id], dtype=torch.int64)
        out |= {f"scale.{k}": s.contiguous() for k, s in enumerate(self.scales) if s is not None}
        return out

    def state(self) -> dict:
        return {"index": self.index, "t_prog": self.t_prog, "programs": self.programs,
                "refreshes": self.refreshes, "energy": self.energy, "downtime": self.downtime,
                "t_done": self.t_done, "t_update": self.t_update}

    def restore(self, state: dict, tensors: dict[str, torch.Tensor]) -> None:
        """Back to a checkpoint: the last programming drawn again (same seed), then the
        counters and controller state."""
        for k, w in enumerate(self.wear):
            w.cycles = tensors[f"cycles.{k}"].to(torch.float64).clone()
        self.programs = state["programs"] - 1
        self.program(state["t_prog"], count=False)
        self.refreshes, self.energy = list(state["refreshes"]), dict(state["energy"])
        self.downtime = dict(state["downtime"])
        self.t_done, self.t_update = state["t_done"], state["t_update"]
        self.scales = [tensors.get(f"scale.{k}") for k in range(len(self.wear))]


class _Simulation:
    def __init__(self, model: nn.Module, data: Data, chip: ChipSpec, config: LifetimeConfig, verify) -> None:
        # program-and-verify counts each device's pulses (its endurance cycles)
        verify = None if verify is None else verify.model_copy(update={"track_pulses": True})
        self.model, self.data, self.chip, self.config, self.verify = model, data, chip, config, verify
        self.tiles = [tile for _, tile in analog_tiles(model)]
        if not self.tiles:
            raise ValueError("model has no analog layers: convert it with aimc.convert(model, chip) first")
        self.device = self.tiles[0].device_model
        if any(tile.device_model != self.device for tile in self.tiles):
            raise ValueError("a lifetime simulation needs one device model on every tile")
        if config.policy.compensation == "global" and self.tiles[0].compensation is None:
            raise ValueError(f"policy 'global' needs the chip's global drift compensation; chip "
                             f"{chip.name!r} has compensation: none")
        self.seeds = [int(s) for s in np.random.SeedSequence(config.seed).generate_state(config.repeats)]
        self.clock = EquivalentClock(self.device, config.profile, config.duration_s, config.clock_step_s)
        uses = config.policy.uses_reference_cells
        self.banks = [ReferenceBank(tile, config.reference_cells) if uses else None for tile in self.tiles]
        ref_chip = chip if chip.reference_cells is not None else chip.model_copy(
            update={"reference_cells": config.reference_cells})
        self.column_read_j = reference_column_read_energy(ref_chip)
        self.cell_read_j = cell_read_energy(chip)
        self.vector_j = sum(self._vector_energy(tile) for tile in self.tiles)
        self.step_id = 0  # measurements done so far (names the checkpoint's tensors file)

    def _vector_energy(self, tile) -> float:
        g = tile.g_target
        fill = float(g.sum()) / (self.device.g_max * tile.in_features * tile.out_features)
        return matrix_read_energy(self.chip, tile.in_features, tile.out_features, fill, len(tile.alpha),
                                  len(tile.beta), tile.row_arrays, tile.array_grid[1])


# ---------------------------------------------------------------------------------------------
def simulate_lifetime(
    model: nn.Module,
    data: Data,
    chip: ChipSpec,
    policy: str | LifetimePolicy = "global",
    profile=None,
    duration_s: float = YEAR,
    *,
    times: Sequence[float] | None = None,
    checkpoints: int = 20,
    repeats: int = 1,
    seed: int = 0,
    reference_cells: ReferenceCells | None = None,
    endurance: Endurance | None = None,
    checkpoint_dir: str | Path | None = None,
    max_steps: int | None = None,
    progress: bool | Progress = True,
    training_epochs: int | None = None,
    fresh: bool = False,
) -> LifetimeResult:
    """Follow ``repeats`` chip instances of a converted ``model`` through ``duration_s``
    (module docstring). ``times``: when to measure the accuracy (default ``checkpoints`` times
    log-spaced from 1 s); ``checkpoint_dir``: write a checkpoint after every measurement and
    resume from one found there (an error if it is of another configuration, chip, model, test
    data or ``training_epochs``; ``fresh=True``: delete it and start over); ``max_steps``: stop
    after that many measurements (the result then has ``complete=False``; call again to go on).
    The caller's ``model`` is left as it was (the simulation runs on a copy).

    Example:
        >>> analog, _ = aimc.convert(model, chip)                                   # doctest: +SKIP
        >>> res = simulate_lifetime(analog, (x, y), chip, "threshold",             # doctest: +SKIP
        ...                         DailyCycle(), 365 * 86400.0, repeats=5)
        >>> res.mean, res.refreshes                                                 # doctest: +SKIP
    """
    start = _time.perf_counter()
    policy = get_policy(policy)
    profile = profile if profile is not None else ConstantTemperature()
    times = times if times is not None else default_times(duration_s, checkpoints)
    times = sorted({float(t) for t in times})
    if not times or times[0] < 0 or times[-1] > duration_s:
        raise ValueError(f"times must lie in [0, duration_s = {duration_s:g} s], got {times}")
    profile.check_covers(duration_s)
    reference_cells = reference_cells or chip.reference_cells or ReferenceCells()
    config = LifetimeConfig(chip=chip.model_dump(mode="json"), model_sha256=model_fingerprint(model),
                            data_sha256=data_fingerprint(data), training_epochs=training_epochs,
                            policy=policy, profile=profile, duration_s=duration_s,
                            times=times, repeats=repeats, seed=seed, reference_cells=reference_cells,
                            endurance=endurance or Endurance())
    verify = policy.refresh.verify
    model = copy.deepcopy(model)  # programming, wear and hot reads change a model: not the caller's
    sim = _Simulation(model, data, chip, config, verify)
    acc = np.full((repeats, len(times)), np.nan)
    per: list[dict] = []  # finished instances' records
    cursor = (0, 0)  # (instance, time index) of the next measurement
    current: dict | None = None
    tensors_name: str | None = None
    ckpt = Path(checkpoint_dir) if checkpoint_dir is not None else None
    if ckpt is not None and fresh:
        _remove_checkpoint(ckpt)
    if ckpt is not None and (ckpt / "lifetime.json").exists():
        saved = json.loads((ckpt / "lifetime.json").read_text())
        diff = _differences(saved.get("config", {}), config.model_dump(mode="json"))
        if diff:
            raise ValueError(f"checkpoint in {ckpt} was written for another simulation; it differs in: "
                             f"{'; '.join(diff[:8])}{' …' if len(diff) > 8 else ''}. Use another folder, "
                             f"or start over with fresh=True (aimc lifetime --fresh)")
        acc = np.array([[np.nan if v is None else v for v in row] for row in saved["accuracy"]], dtype=float)
        per, cursor, current = saved["instances"], tuple(saved["cursor"]), saved.get("current")
        tensors_name = saved.get("tensors")
        sim.step_id = int(saved.get("step", 0))
    elif ckpt is not None:
        ckpt.mkdir(parents=True, exist_ok=True)

    own = progress is True
    bar = Progress(transient=True) if own else progress
    if own:
        bar.start()
    task = bar.add_task(f"lifetime ({policy.name})", total=repeats * len(times),
                        completed=cursor[0] * len(times) + cursor[1]) if bar else None
    steps = 0
    complete = True
    try:
        r, k0 = cursor
        while r < repeats:
            inst = _Instance(sim, r)
            if current is not None and k0 > 0:
                inst.restore(current, _load_tensors(ckpt, tensors_name, sim.step_id))
            else:
                inst.program(0.0)
            for k in range(k0, len(times)):
                if max_steps is not None and steps >= max_steps:
                    complete = False
                    break
                inst.advance(times[k])
                acc[r, k] = inst.evaluate(times[k])
                steps += 1
                sim.step_id += 1
                if task is not None:
                    bar.advance(task)
                last = k == len(times) - 1
                if last:
                    per.append(_record(inst, sim, duration_s))
                if ckpt is not None:
                    _save(ckpt, config, acc, per, (r + 1, 0) if last else (r, k + 1),
                          None if last else inst.state(), inst.tensors(), sim.step_id)
            if not complete:
                break
            r, k0, current = r + 1, 0, None
    finally:
        if own:
            bar.stop()
    temps = [sim.clock.temperature(t) for t in times]
    return LifetimeResult(config, acc, temps, [p["refreshes"] for p in per], [p["energy"] for p in per],
                          [sum(p["downtime"].values()) for p in per], [p["worn"] for p in per], complete,
                          _time.perf_counter() - start, downtime_by_kind=[p["downtime"] for p in per])


def _record(inst: _Instance, sim: _Simulation, duration: float) -> dict:
    energy, downtime = dict(inst.energy), dict(inst.downtime)
    energy["calibration"], downtime["calibration"] = inst.calibration_cost(duration)
    return {"refreshes": list(inst.refreshes), "energy": energy, "downtime": downtime,
            "worn": sum(w.worn_count for w in inst.wear)}


def _tensors_file(step: int) -> str:
    return f"lifetime-{step:08d}.safetensors"


def _remove_checkpoint(folder: Path) -> None:
    for path in [folder / "lifetime.json", *folder.glob("lifetime-*.safetensors"),
                 *folder.glob("lifetime*.tmp"), folder / "lifetime.safetensors"]:
        path.unlink(missing_ok=True)


def _load_tensors(folder: Path, name: str | None, step: int) -> dict[str, torch.Tensor]:
    if name is None or not (folder / name).exists():
        raise ValueError(f"checkpoint in {folder}: lifetime.json names the tensors file {name!r}, "
                         f"which is missing; start over with fresh=True (aimc lifetime --fresh)")
    tensors = load_file(str(folder / name))
    if "step.id" not in tensors or int(tensors["step.id"][0]) != step:
        raise ValueError(f"checkpoint in {folder}: {name} is not of step {step} of lifetime.json; "
                         f"start over with fresh=True (aimc lifetime --fresh)")
    return tensors


def _save(folder: Path, config: LifetimeConfig, acc: np.ndarray, per: list[dict], cursor: tuple[int, int],
          current: dict | None, tensors: dict[str, torch.Tensor], step: int) -> None:
    """Write the checkpoint: the tensors to a file of their own step, then the JSON that names
    it (each through a temporary file and a rename), then remove older tensors files: a kill
    at any moment leaves a JSON and the tensors it names. Strict JSON (``null``: not measured)."""
    name = _tensors_file(step)
    tmp = folder / (name + ".tmp")
    save_file(tensors, str(tmp))
    tmp.replace(folder / name)
    accuracy_rows = [[None if math.isnan(v) else v for v in row] for row in acc.tolist()]
    body = {"config": config.model_dump(mode="json"), "accuracy": accuracy_rows, "instances": per,
            "cursor": list(cursor), "current": current, "step": step, "tensors": name}
    tmp = folder / "lifetime.json.tmp"
    tmp.write_text(json.dumps(body, allow_nan=False))
    tmp.replace(folder / "lifetime.json")
    for old in folder.glob("lifetime-*.safetensors"):
        if old.name != name:
            old.unlink(missing_ok=True)
    (folder / "lifetime.safetensors").unlink(missing_ok=True)  # the pre-2026-12 single file


def plot_lifetime(result: LifetimeResult, path: str | Path, title: str | None = None) -> Path:
    """Accuracy (mean ± standard error over instances) vs time, refresh events marked, chip
    temperature on a second axis; written as PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t = np.asarray(result.times)
    fig, ax = plt.subplots(figsize=(7, 4))
    mean, sem = 100 * result.mean, 100 * result.sem
    ax.errorbar(t, mean, yerr=sem, marker="o", ms=3, capsize=2, label=f"policy {result.config.policy.name}")
    events = sorted({e for inst in result.refreshes for e in inst})
    for n, e in enumerate(events[:200]):
        ax.axvline(e, color="tab:red", alpha=0.25, lw=0.8, label="refresh" if n == 0 else None)
    ax.set_xscale("log")
    ax.set_xlabel("time after first programming (s)")
    ax.set_ylabel("test accuracy (%)")
    ax2 = ax.twinx()
    ax2.plot(t, np.asarray(result.temperatures_k) - 273.15, color="tab:gray", ls=":", lw=1)
    ax2.set_ylabel("chip temperature at the read (°C)", color="tab:gray")
    ax.legend(loc="lower left")
    ax.set_title(title or f"{result.config.chip.get('name', 'chip')}: {result.config.profile.label}")
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
