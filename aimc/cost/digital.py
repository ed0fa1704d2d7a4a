"""Digital baseline: the same network on an INT8 weight-stationary systolic array.

A ``rows x cols`` grid of INT8 multiply / 32-bit accumulate units at the analog chip's node
(TPU-like; Jouppi et al., ISCA 2017). Each weight layer is cut into ``⌈R/rows⌉·⌈C/cols⌉`` weight
tiles; every tile is loaded once per inference (batch 1) and all the layer's input vectors
stream through it, which takes ``vectors + rows + cols`` cycles (fill and drain). Traffic per
inference: weights from SRAM when all of them fit in the buffer, otherwise from DRAM; inputs
read once per column tile; 32-bit partial sums written and read back between row tiles;
8-bit outputs written. Energies and areas per operation come from :mod:`aimc.cost.technology`.
"""

from __future__ import annotations

import math

from pydantic import BaseModel, ConfigDict, Field, PositiveInt

from ..compiler import Mapping
from .technology import DRAM_J_PER_BIT, technology


class SystolicArray(BaseModel):
    """The digital accelerator compared against."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    rows: PositiveInt = 128
    cols: PositiveInt = 128
    clock_hz: float = Field(1e9, gt=0)
    sram_bytes: PositiveInt = Field(24 * 2**20, description="on-chip weight and activation buffer "
                                    "(TPU v1's unified buffer: 24 MiB)")
    dram_j_per_bit: float = Field(DRAM_J_PER_BIT, gt=0)


def digital_baseline(mapping: Mapping, array: SystolicArray | None = None) -> dict:
    """Energy (J) by component and per layer, latency (s) and area (m²) of ``mapping``'s network
    on a :class:`SystolicArray` at the same node as the chip."""
    array = array or SystolicArray()
    chip = mapping.chip
    t = technology(chip.node_nm, chip.cost.vdd)
    weight_bits = sum(layer.rows * layer.cols for layer in mapping.layers) * 8
    weights_in_dram = weight_bits > array.sram_bytes * 8
    layers: dict[str, dict[str, float]] = {}
    cycles_total = 0
    for layer in mapping.layers:
        row_tiles = math.ceil(layer.rows / array.rows)
        col_tiles = math.ceil(layer.cols / array.cols)
        cycles = row_tiles * col_tiles * (layer.vectors + array.rows + array.cols)
        cycles_total += cycles
        w_bits = layer.rows * layer.cols * 8
        sram_bits = (layer.vectors * layer.rows * 8 * col_tiles
                     + layer.vectors * layer.cols * 32 * 2 * (row_tiles - 1)
                     + layer.vectors * layer.cols * 8
                     + (0 if weights_in_dram else w_bits))
        layers[layer.name] = {
            "mac": layer.macs * t.mac8_j,
            "sram": sram_bits * t.sram_j_per_bit,
            "dram": w_bits * array.dram_j_per_bit if weights_in_dram else 0.0,
            "latency_s": cycles / array.clock_hz,
        }
    energy = {k: sum(v[k] for v in layers.values()) for k in ("mac", "sram", "dram")}
    area = array.rows * array.cols * t.mac8_m2 + array.sram_bytes * 8 * t.sram_m2_per_bit
    return {
        "energy_j": energy,
        "layers": layers,
        "latency_s": cycles_total / array.clock_hz,
        "area_m2": area,
        "weights_in_dram": weights_in_dram,
        "config": array.model_dump(),
    }
