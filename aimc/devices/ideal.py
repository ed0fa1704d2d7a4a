"""Ideal device: programs exactly, never drifts, reads without noise.

The reference against which every non-ideal model is measured; with ideal converters it makes
an analog layer reproduce the digital layer to float precision.
"""

from __future__ import annotations

from typing import ClassVar, Literal

import torch

from .base import Device, State, check_time


class Ideal(Device):
    """Exact conductances: ``g(t) = g_target`` for all ``t``, no read noise.

    Example:
        >>> Ideal(g_max=25e-6).name
        'ideal'
    """

    name: Literal["ideal"] = "ideal"
    #: no read noise at all; ``read_window`` is ignored
    noise_spectrum: ClassVar[Literal["1/f", "white"]] = "white"

    def _program(self, g_target: torch.Tensor, generator: torch.Generator) -> State:
        return {"g_prog": g_target.clone()}

    def conductance(self, state: State, t: float) -> torch.Tensor:
        check_time(t)
        return state["g_prog"]
