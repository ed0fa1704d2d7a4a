"""The interface every device technology implements.

A device model answers three questions about one non-volatile conductance, all batched over
tensors of devices and all in SI units (siemens, seconds):

1. ``program(g_target, generator)``: what conductance does a write aimed at ``g_target`` leave,
   and which per-device random properties (e.g. a drift exponent) are fixed at that moment?
   Returns a dict of tensors, the *programmed state*; it is plain tensors so that a programmed
   chip can be saved with safetensors.
2. ``conductance(state, t)``: the noise-free conductance ``t`` seconds after programming (drift,
   relaxation, retention loss).
3. ``read_noise_std(state, g_t, t)``: the standard deviation of the conductance seen by one read
   at time ``t`` (fresh at every read), or ``None`` when reads are exact.

To add a technology: subclass :class:`Device` in a new module of this package, give it a
``name: Literal["…"]`` field (the tag used in chip YAML files), cite the source of the model in the
module docstring, and register it in ``aimc.devices.DEVICES``.
"""

from __future__ import annotations

import torch
from pydantic import BaseModel, ConfigDict, Field

State = dict[str, torch.Tensor]


class Device(BaseModel):
    """Base class of device models: validated, immutable parameters plus the physics methods."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    g_max: float = Field(25e-6, gt=0, description="largest target conductance (S)")

    def program(self, g_target: torch.Tensor, generator: torch.Generator) -> State:
        """Program devices to ``g_target`` (S); return the programmed state (``g_prog`` at least)."""
        raise NotImplementedError

    def conductance(self, state: State, t: float) -> torch.Tensor:
        """Noise-free conductance (S) ``t`` seconds after programming."""
        raise NotImplementedError

    def read_noise_std(self, state: State, g_t: torch.Tensor, t: float) -> torch.Tensor | None:
        """Standard deviation (S) of one read at time ``t``, or ``None`` for noiseless reads."""
        return None


def check_time(t: float) -> float:
    """Validate a time since programming (s)."""
    t = float(t)
    if not t >= 0.0:  # also rejects NaN
        raise ValueError(f"time since programming must be >= 0 s, got {t}")
    return t
