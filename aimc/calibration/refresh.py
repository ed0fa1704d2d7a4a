"""Refresh policies: when to program a deployed chip's weights again.

A refresh programs every tile again from the digital weights (open loop, or program-and-verify
with ``verify``), which restarts drift, costs write pulses and verify reads (energy and time
from ``aimc.calibration.ProgramVerify``'s pulse and read parameters and ``aimc.cost``) and takes
the chip out of service while it lasts (downtime), and wears the devices
(``aimc.calibration.aging``).

* :class:`NoRefresh` — never;
* :class:`PeriodicRefresh` — every ``period_s``;
* :class:`ThresholdRefresh` — every ``check_period_s`` the reference cells are read cell by
  cell (``ReferenceBank.cell_spread``: the spread of single devices' drift factors, the error no
  output scaling removes); when it passes ``threshold`` in any tile, the chip is refreshed.

Example:
    >>> PeriodicRefresh(period_s=86400).due(0.0, 86400.0)
    [86400.0]
"""

from __future__ import annotations

import math
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from .program_verify import ProgramVerify


class NoRefresh(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    kind: Literal["none"] = "none"
    verify: ProgramVerify | None = None


class PeriodicRefresh(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    kind: Literal["periodic"] = "periodic"
    period_s: float = Field(30 * 86400.0, gt=0, description="time between refreshes (s)")
    verify: ProgramVerify | None = Field(None, description="program-and-verify the refresh (None: open loop)")

    def due(self, t0: float, t1: float) -> list[float]:
        """Refresh times in ``(t0, t1]``."""
        k0 = math.floor(t0 / self.period_s) + 1
        return [k * self.period_s for k in range(k0, math.floor(t1 / self.period_s) + 1)]


class ThresholdRefresh(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    kind: Literal["threshold"] = "threshold"
    threshold: float = Field(0.2, gt=0, description="reference-cell spread that triggers a refresh")
    check_period_s: float = Field(86400.0, gt=0, description="time between reference-cell checks (s)")
    verify: ProgramVerify | None = Field(None, description="program-and-verify the refresh (None: open loop)")

    def checks(self, t0: float, t1: float) -> list[float]:
        """Check times in ``(t0, t1]``."""
        k0 = math.floor(t0 / self.check_period_s) + 1
        return [k * self.check_period_s for k in range(k0, math.floor(t1 / self.check_period_s) + 1)]


Refresh = Annotated[NoRefresh | PeriodicRefresh | ThresholdRefresh, Field(discriminator="kind")]
