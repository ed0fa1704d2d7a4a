"""Chip-instance operations on a converted model: program, drift, inspect its tiles."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
from torch import nn

from ..tile import Tile, check_seed


def analog_tiles(model: nn.Module) -> Iterator[tuple[str, Tile]]:
    """``(name, tile)`` for every tile of a converted model, in module order."""
    for name, module in model.named_modules():
        if isinstance(module, Tile):
            yield name, module


def _tiles(model: nn.Module) -> list[Tile]:
    tiles = [tile for _, tile in analog_tiles(model)]
    if not tiles:
        raise ValueError("model has no analog layers: convert it with aimc.convert(model, chip) first")
    return tiles


def program(model: nn.Module, seed: int = 0, verify=None) -> nn.Module:
    """Program every tile: a fresh chip instance. Same seed, same chip; tile ``i`` gets the
    ``i``-th child of ``numpy.random.SeedSequence(seed)``. Leaves the chip at t = 0.
    ``verify`` (``aimc.calibration.ProgramVerify``) programs closed-loop."""
    check_seed(seed)
    tiles = _tiles(model)
    for tile, child in zip(tiles, np.random.SeedSequence(seed).spawn(len(tiles)), strict=True):
        tile.program(child, verify=verify)
    return model


def drift(model: nn.Module, t_seconds: float, compensate: bool = True) -> nn.Module:
    """Move every tile to ``t_seconds`` after programming; ``compensate`` runs the chip's
    drift compensation (if it has one)."""
    for tile in _tiles(model):
        tile.drift_to(t_seconds, compensate=compensate)
    return model
