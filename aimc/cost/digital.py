"""Digital baseline: the same network on an INT8 weight-stationary systolic array.

A ``rows x cols`` grid of INT8 multiply / 32-bit accumulate units at the analog chip's node
(TPU-like; Jouppi et al., ISCA 2017). Each weight layer is cut into ``⌈R/rows⌉·⌈C/cols⌉`` weight
tiles; every tile is loaded once per inference (batch 1) and all the layer's input vectors
stream through it, which takes ``vectors + rows + cols`` cycles (fill and drain). Traffic per
inference: weights from SRAM when all of them fit in the buffer, otherwise from DRAM; inputs
read once per column tile; 32-bit partial sums written and read back between row tiles;
8-bit outputs written. Energies and areas per operation come from :mod:`aimc.cost.technology`.

A recurrent matrix (``W_hh``, ``W_hr``) cannot stream its vectors: the vector of step ``t+1`` is
the state after step ``t``, so every step goes through fill and drain alone
(``1 + rows + cols`` cycles per weight tile), and a matrix of several weight tiles reloads them
every step. An embedding table reads only the looked-up rows (``SRAM_PORT_BITS`` per cycle) from
the buffer, or from DRAM when it does not fit beside the other weights; it has no MACs.
"""

from __future__ import annotations

import math

from pydantic import BaseModel, ConfigDict, Field, PositiveInt

from ..compiler import Mapping
from .technology import DRAM_J_PER_BIT, technology

SRAM_PORT_BITS = 128  # bits read from the buffer per cycle for an embedding row


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
    weight_bits = sum(layer.rows * layer.cols for layer in mapping.layers if not layer.lookup) * 8
    weights_in_dram = weight_bits > array.sram_bytes * 8
    layers: dict[str, dict[str, float]] = {}
    cycles_total = 0
    for layer in mapping.layers:
        row_tiles = math.ceil(layer.rows / array.rows)
        col_tiles = math.ceil(layer.cols / array.cols)
        w_bits = layer.rows * layer.cols * 8
        if layer.lookup:  # the looked-up rows only, from wherever the table is
            read = layer.vectors * layer.cols * 8
            cycles = layer.vectors * math.ceil(layer.cols * 8 / SRAM_PORT_BITS)
            table_in_dram = weight_bits + w_bits > array.sram_bytes * 8
            layers[layer.name] = {
                "mac": 0.0,
                "sram": (read * (1 if table_in_dram else 2)) * t.sram_j_per_bit,
                "dram": read * array.dram_j_per_bit if table_in_dram else 0.0,
                "latency_s": cycles / array.clock_hz,
            }
            cycles_total += cycles
            continue
        tiles = row_tiles * col_tiles
        reloads = 1
        if layer.recurrent:  # one step at a time through fill and drain, weights reloaded per step
            cycles = tiles * layer.vectors * (1 + array.rows + array.cols)
            reloads = layer.vectors if tiles > 1 else 1
        else:
            cycles = tiles * (layer.vectors + array.rows + array.cols)
        cycles_total += cycles
        sram_bits = (layer.vectors * layer.rows * 8 * col_tiles
                     + layer.vectors * layer.cols * 32 * 2 * (row_tiles - 1)
                     + layer.vectors * layer.cols * 8
                     + (0 if weights_in_dram else reloads * w_bits))
        layers[layer.name] = {
            "mac": layer.macs * t.mac8_j,
            "sram": sram_bits * t.sram_j_per_bit,
            "dram": reloads * w_bits * array.dram_j_per_bit if weights_in_dram else 0.0,
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
