"""Aging: every (re)programming costs the devices endurance cycles; worn-out devices get stuck.

Model. A device survives ``N_i`` write cycles, ``N_i = budget * exp(spread * xi_i)`` with
``xi_i ~ N(0, 1)`` drawn once per device (``spread = 0``: every device fails exactly at the
budget). Each programming of a tile adds to every device's count the write pulses it took:
one for open-loop programming, each device's own pulses in a program-and-verify run
(``VerifyHistory.pulses_per_device``: the rounds it was rewritten in, plus the first write). A
device whose count reaches ``N_i`` is stuck from then on, in the state its technology fails in,
through the chip's fault model (``aimc.array.Faults`` maps: stuck at ``g_max`` or at ``g_min``).

Endurance budgets (write cycles; order-of-magnitude values of the literature, conservative end):

* PCM ``1e8``: G. W. Burr et al., "Phase change memory technology", J. Vac. Sci. Technol. B 28,
  223 (2010) (endurance of 1e8 and more in PCM arrays); worn-out PCM cells fail stuck-RESET
  (void formation: open, ``g_min``) or stuck-SET, A. Pirovano et al., "Reliability study of
  phase-change nonvolatile memories", IEEE TDMR 4, 422 (2004); stuck-RESET here;
* RRAM ``1e6``: D. Ielmini, "Resistive switching memories based on metal oxides: mechanisms,
  reliability and scaling", Semicond. Sci. Technol. 31, 063002 (2016) (1e6-1e12 cycles, the low
  end for multi-level 1T1R arrays); worn filaments fail in the low-resistance state (``g_max``);
* flash ``1e5``: the program/erase endurance to which NOR flash is qualified (JEDEC JESD47,
  100k cycles); worn cells lose their window (``g_min`` here).

The spread (default 0) is an assumption: the budgets are the cycles *at* which devices fail.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import torch
from pydantic import BaseModel, ConfigDict, Field

from ..array import Faults

if TYPE_CHECKING:
    from ..tile import Tile

#: write cycles a device of each technology survives, and the state it fails in (module docstring)
ENDURANCE: dict[str, tuple[float, Literal["on", "off"]]] = {
    "pcm": (1e8, "off"),
    "rram": (1e6, "on"),
    "flash": (1e5, "off"),
}


class Endurance(BaseModel):
    """Endurance of a chip's devices; ``budget`` / ``stuck`` default to the technology's
    (:data:`ENDURANCE`; None for technologies without wear, e.g. ideal devices).

    Example:
        >>> Endurance().resolve("pcm")
        (100000000.0, 'off')
    """

    model_config = ConfigDict(frozen=True, extra="forbid")
    budget: float | None = Field(None, gt=0, description="write cycles a device survives (median)")
    spread: float = Field(0.0, ge=0, description="log-normal spread of the per-device budget")
    stuck: Literal["on", "off"] | None = Field(None, description="state a worn device is stuck in")

    def resolve(self, technology: str) -> tuple[float | None, Literal["on", "off"]]:
        budget, stuck = ENDURANCE.get(technology, (None, "off"))
        return (self.budget if self.budget is not None else budget,
                self.stuck if self.stuck is not None else stuck)


class Wear:
    """Write cycles and worn-out devices of one tile (``[planes, arrays, rows, columns]``).

    Example:
        >>> wear = Wear(tile, Endurance(budget=3), seed=0)           # doctest: +SKIP
        >>> for _ in range(3): wear.add(1.0)                          # doctest: +SKIP
        >>> int(wear.worn.sum()) == tile.device_shape.numel()         # doctest: +SKIP
        True
    """

    def __init__(self, tile: Tile, endurance: Endurance, seed: int) -> None:
        self.budget, self.stuck = endurance.resolve(tile.device_model.name)
        shape = tile.device_shape
        self.cycles = torch.zeros(shape, dtype=torch.float64)  # float32 stops counting at 2**24
        if self.budget is None:
            self.limit = None
        else:
            limit = torch.full(shape, float(self.budget), dtype=torch.float32)
            if endurance.spread > 0:
                g = torch.Generator().manual_seed(int(seed))
                limit = limit * torch.exp(endurance.spread * torch.randn(shape, generator=g))
            self.limit = limit

    def add(self, cycles_per_device: float | torch.Tensor) -> None:
        """Count one programming of the tile: ``cycles_per_device`` pulses each (a number, or
        a tensor of the device shape: program-and-verify's ``VerifyHistory.pulses_per_device``)."""
        self.cycles += cycles_per_device

    @property
    def worn(self) -> torch.Tensor:
        if self.limit is None:
            return torch.zeros(self.cycles.shape, dtype=torch.bool)
        return self.cycles >= self.limit

    @property
    def worn_count(self) -> int:
        return int(self.worn.sum())

    def apply(self, tile: Tile) -> None:
        """Make the worn devices of the freshly programmed ``tile`` stuck (adds them to its
        fault maps; takes effect at the tile's next ``drift_to``)."""
        worn = self.worn
        if not worn.any():
            return
        if tile.faults is None:
            tile.faults = Faults()  # zero rates: the maps below hold all the faults
        maps = tile.fault_maps or {k: torch.zeros(worn.shape, dtype=torch.bool)
                                   for k in ("stuck_on", "stuck_off", "dead")}
        key, other = ("stuck_on", "stuck_off") if self.stuck == "on" else ("stuck_off", "stuck_on")
        maps = dict(maps)
        maps[key] = maps[key] | worn
        maps[other] = maps[other] & ~worn
        tile.fault_maps = maps
