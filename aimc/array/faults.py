"""Hard faults of a crossbar: stuck cells and dead lines.

Model: each device is independently stuck-at-ON (reads ``g_max`` whatever was programmed: a
filament or crystalline path that cannot be reset) with probability ``stuck_on``, or stuck-at-OFF
(reads ``g_min``: a cell that cannot be set) with probability ``stuck_off``; each physical row of
an array is dead (open word/bit line: no current from any of its cells) with probability
``dead_rows``, each physical column (one per device plane: G+ and G- sit on different columns)
with probability ``dead_cols``. Positions are drawn once per chip instance, from the programming
seed, and stay fixed across reads and drift. The fault model and typical rates (0.1-10 %) follow
the stuck-at-fault literature for RRAM crossbars, e.g. C.-Y. Chen et al., "RRAM defect modeling
and failure analysis based on March test and a novel squeeze-search scheme", IEEE Trans.
Computers 64 (2015), and L. Xia et al., "Fault-tolerant training ...", DAC 2017.
"""

from __future__ import annotations

import torch
from pydantic import BaseModel, ConfigDict, Field, model_validator


class Faults(BaseModel):
    """Fault rates of a chip (fractions of devices, rows and columns).

    Example:
        >>> Faults(stuck_on=0.01, stuck_off=0.02).any
        True
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    stuck_on: float = Field(0.0, ge=0, le=1, description="fraction of devices stuck at g_max")
    stuck_off: float = Field(0.0, ge=0, le=1, description="fraction of devices stuck at g_min")
    dead_rows: float = Field(0.0, ge=0, le=1, description="fraction of array rows with no current")
    dead_cols: float = Field(0.0, ge=0, le=1, description="fraction of array columns with no current")

    @model_validator(mode="after")
    def _rates(self) -> Faults:
        if self.stuck_on + self.stuck_off > 1:
            raise ValueError("stuck_on + stuck_off must not exceed 1")
        return self

    @property
    def any(self) -> bool:
        return any((self.stuck_on, self.stuck_off, self.dead_rows, self.dead_cols))

    def draw(self, shape: torch.Size, generator: torch.Generator) -> dict[str, torch.Tensor]:
        """Fault maps for devices of ``shape = [planes, arrays, rows, columns]``."""
        planes, arrays, rows, columns = shape
        u = torch.rand(shape, generator=generator)
        dead = (torch.rand(1, arrays, rows, 1, generator=generator) < self.dead_rows) | (
            torch.rand(planes, arrays, 1, columns, generator=generator) < self.dead_cols)
        return {"stuck_on": u < self.stuck_on,
                "stuck_off": (u >= self.stuck_on) & (u < self.stuck_on + self.stuck_off),
                "dead": dead.expand(shape).clone()}

    @staticmethod
    def apply(g: torch.Tensor, maps: dict[str, torch.Tensor], g_on: float, g_off: float) -> torch.Tensor:
        """Conductances as read with the faults: stuck cells at ``g_on``/``g_off``, dead lines 0."""
        g = torch.where(maps["stuck_on"], g_on, g)
        g = torch.where(maps["stuck_off"], g_off, g)
        return torch.where(maps["dead"], 0.0, g)
