"""Chip-instance operations on a converted model: program, drift, inspect its tiles and the
memory they take.

Memory. :func:`program` first estimates, layer by layer, the bytes each tile will hold once
programmed and the transient while its devices are drawn (:meth:`aimc.tile.Tile.memory_estimate`),
and refuses with a :class:`MemoryError` naming the layer, the estimate and the available memory
when the model will not fit, instead of failing inside the allocator part way through.
:func:`held_bytes` measures what a model really holds.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..tile import Tile, check_drift_time, check_seed


def analog_tiles(model: nn.Module) -> Iterator[tuple[str, Tile]]:
    """``(name, tile)`` for every tile of a converted model, in module order."""
    for name, module in model.named_modules():
        if isinstance(module, Tile):
            yield name, module


def _tiles(model: nn.Module) -> list[tuple[str, Tile]]:
    tiles = list(analog_tiles(model))
    if not tiles:
        raise ValueError("model has no analog layers: convert it with aimc.convert(model, chip) first")
    return tiles


def _layer_name(tile_name: str) -> str:
    """The analog layer that owns a tile (``"features.0"`` for ``"features.0.tile"``)."""
    name = "" if tile_name == "tile" else tile_name.removesuffix(".tile")
    return name or "(model)"


def held_bytes(obj: object) -> int:
    """Bytes of every tensor storage reachable from ``obj`` (a model, a tile) through attributes,
    dicts, lists and tuples (parameters, buffers, programmed state, read matrices, caches), each
    storage counted once however many views share it. A measurement, not an estimate."""
    storages: dict[int, int] = {}
    seen: set[int] = set()
    stack = [obj]
    while stack:
        item = stack.pop()
        if id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, torch.Tensor):
            storage = item.untyped_storage()
            storages[storage.data_ptr()] = max(storages.get(storage.data_ptr(), 0), storage.nbytes())
        elif isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list | tuple | set):
            stack.extend(item)
        elif hasattr(item, "__dict__") and not isinstance(item, type):
            stack.append(vars(item))
    return sum(storages.values())


@dataclass(frozen=True)
class ModelMemory:
    """Estimated bytes of a model after :func:`program` and :func:`drift` (``held``), the most it
    holds while programming (``peak``), and ``(held, peak)`` of each analog layer's tile."""

    held: int
    peak: int
    layers: dict[str, tuple[int, int]]


def estimate_bytes(model: nn.Module, verify=None) -> ModelMemory:
    """What ``program(model)`` will need, estimated before any device is drawn.

    Example:
        >>> analog, _ = aimc.convert(nn.Sequential(nn.Linear(256, 256)))   # doctest: +SKIP
        >>> estimate_bytes(analog).held / 256**2                           # doctest: +SKIP
        16.0...
    """
    tiles = _tiles(model)
    layers = {_layer_name(name): tile.memory_estimate(verify) for name, tile in tiles}
    # parameters and buffers are already held; the tiles' own mapped weights are among them
    base = held_bytes([*model.parameters(), *model.buffers()])
    held = base + sum(e.held - tile.target_weight.numel() * 4 for (name, tile), e
                      in zip(tiles, layers.values(), strict=True))
    peak = held + max(e.peak - e.held for e in layers.values())
    return ModelMemory(held, peak, {name: (e.held, e.peak) for name, e in layers.items()})


def available_memory() -> int | None:
    """Bytes that can be allocated without swapping: ``MemAvailable`` of ``/proc/meminfo``
    (else the free physical pages), capped by the cgroup (container) limit; None if unknown."""
    available = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                available = int(line.split()[1]) * 1024
                break
    except OSError:
        pass
    if available is None:
        try:
            available = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        except (ValueError, OSError, AttributeError):
            return None
    try:  # cgroup v2 limit of this process's container, if any
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        if limit != "max":
            used = int(Path("/sys/fs/cgroup/memory.current").read_text())
            available = min(available, max(int(limit) - used, 0))
    except (OSError, ValueError):
        pass
    return available


def _gib(n: float) -> str:
    return f"{n / 2**30:.2f} GiB" if n >= 2**28 else f"{n / 2**20:.1f} MiB"


def _programmed_bytes(tile: Tile) -> int:
    """Bytes of the tile's current chip instance (freed when it is programmed again)."""
    return held_bytes([tile._state, tile._read, tile._layouts, tile.fault_maps])


def check_fits(model: nn.Module, verify=None) -> ModelMemory:
    """Raise :class:`MemoryError` naming the first layer whose programming would exceed the
    available memory (with the estimate and what is available); return the estimate."""
    estimate = estimate_bytes(model, verify)
    available = available_memory()
    if available is None:
        return estimate
    growth = 0  # bytes the tiles programmed so far add to what the model holds now
    for name, tile in _tiles(model):
        name = _layer_name(name)
        held, peak = estimate.layers[name]
        new = held - tile.target_weight.numel() * 4 - _programmed_bytes(tile)
        need = growth + new + (peak - held)
        if need > available:
            raise MemoryError(
                f"not enough memory to program layer '{name}' ({tile.out_features}x"
                f"{tile.in_features} on {math.prod(tile.array_grid)} arrays): it needs an "
                f"estimated {_gib(need)} more while its devices are drawn ({_gib(held)} held "
                f"afterwards), {_gib(available)} available; use a smaller model or more memory "
                f"(aimc.program(..., check_memory=False) skips this check)")
        growth += new
    return estimate


def program(model: nn.Module, seed: int = 0, verify=None, check_memory: bool = True) -> nn.Module:
    """Program every tile: a fresh chip instance. Same seed, same chip; tile ``i`` gets the
    ``i``-th child of ``numpy.random.SeedSequence(seed)``. Leaves the chip at t = 0.
    ``verify`` (``aimc.calibration.ProgramVerify``) programs closed-loop. With ``check_memory``
    a model whose estimated memory exceeds the available memory is refused before any layer
    is programmed (:class:`MemoryError` naming the layer)."""
    check_seed(seed)
    tiles = _tiles(model)
    if check_memory:
        check_fits(model, verify)
    for (_, tile), child in zip(tiles, np.random.SeedSequence(seed).spawn(len(tiles)), strict=True):
        tile.program(child, verify=verify)
    return model


def drift(model: nn.Module, t_seconds: float, compensate: bool = True) -> nn.Module:
    """Move every tile to ``t_seconds`` (finite, >= 0) after programming; ``compensate`` runs the
    chip's drift compensation (if it has one)."""
    t_seconds = check_drift_time(t_seconds)
    for _, tile in _tiles(model):
        tile.drift_to(t_seconds, compensate=compensate)
    return model


def new_read_window(model: nn.Module) -> nn.Module:
    """Start a new read window on every tile (``Tile.new_read_window``): the frozen band of 1/f
    read noise is drawn again, as it would have wandered after ``read_window`` seconds of
    streaming reads; each :func:`drift` starts a new window by itself."""
    tiles = _tiles(model)
    if not tiles or not all(tile.programmed for _, tile in tiles):
        raise RuntimeError("model is not programmed: call aimc.program(model, seed) first")
    for _, tile in tiles:
        tile.new_read_window()
    return model


def set_noise_precision(model: nn.Module, dtype: torch.dtype = torch.float32) -> nn.Module:
    """Compute the variance of every tile's read noise (``op(V*V, sigma^2)``, one product as
    large as the read itself) in ``dtype``: ``torch.bfloat16`` halves the time of that product
    on CPUs with native bfloat16 arithmetic (AVX512-BF16, AMX) and changes the noise's standard
    deviation of each output by a few thousandths at most, without bias on average (8-bit
    mantissas of the variances, of ``V*V`` and of the result, sums in float32; measured by
    ``benchmarks/study_noise_precision.py``). The mean (the signal) is always computed in
    float32. On CPUs without native bfloat16 it is slower: keep the default.

    Example:
        >>> set_noise_precision(analog, torch.bfloat16)  # doctest: +SKIP
    """
    if dtype not in (torch.float32, torch.bfloat16, torch.float16):
        raise ValueError(f"noise precision must be torch.float32, torch.bfloat16 or torch.float16, "
                         f"got {dtype}")
    for _, tile in _tiles(model):
        tile.noise_precision = dtype
        tile._layouts = {}  # rearranged in the new precision at the next read
    return model


@contextmanager
def holding_state(model: nn.Module, fraction: float = 0.25) -> Iterator[bool]:
    """Within the block, each open-loop programmed tile keeps its device state once drawn
    instead of drawing it again at every :func:`drift` (the same numbers either way; see
    ``Tile.state``): an evaluation at several times then draws each chip instance once. Only
    when all states together fit in ``fraction`` of the available memory; yields whether they
    are held. The states are released at the end of the block.

    Example:
        >>> with holding_state(analog):          # doctest: +SKIP
        ...     for t in (1, 3600, 86400):
        ...         drift(analog, t); accuracy(analog, data)
    """
    tiles = [tile for _, tile in _tiles(model)]
    need = sum(tile.state_bytes() for tile in tiles)
    available = available_memory()
    hold = available is None or need <= fraction * available
    previous = [tile.hold_state for tile in tiles]
    try:
        for tile in tiles:
            tile.hold_state = tile.hold_state or hold
        yield hold
    finally:
        for tile, before in zip(tiles, previous, strict=True):
            tile.hold_state = before
            if not before:
                tile._held_state = None


def set_noise_sampler(model: nn.Module, method: str = "counter") -> nn.Module:
    """Draw every tile's fresh read noise from ``method``'s normal numbers
    (:class:`aimc.array.NormalSource`): ``"counter"`` (default: counter-based SplitMix64 +
    Box–Muller, :mod:`aimc.array.counter_normals`, the numbers of every figure in the README;
    0.9–1.0 ns per number on the development machine) or ``"torch"`` (PyTorch's sampler, 3.6–4.2
    ns per number there; the same distribution, other numbers for the same seed). Takes effect
    from the next read; seeds and :func:`drift` work as before.

    Example:
        >>> set_noise_sampler(analog, "torch")  # doctest: +SKIP
    """
    if method not in ("torch", "counter"):
        raise ValueError(f"noise sampler must be 'torch' or 'counter', got {method!r}")
    for _, tile in _tiles(model):
        tile.normals.method = method
    return model
