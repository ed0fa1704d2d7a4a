"""Program-and-verify: closed-loop programming of every device to its target.

Algorithm (the iterative program-and-verify of multilevel PCM, N. Papandreou et al., "Programming
algorithms for multilevel phase-change memory", ISCAS 2011; used with target correction on IBM's
chips, Le Gallo et al., Nat. Electron. 2023): program every device aiming at its target; read it
back (with the device's read noise at ``t_verify``); devices within ``tolerance`` of the target
are done; the others are programmed again (``Device.reprogram``: the same devices, so their
device-to-device properties stay and only the event's noise is new), up to ``max_iterations``
rounds, aiming at the target corrected by ``gain`` times the read error
(``aim += gain * (target - read)``). With unbiased, independent write noise (PCM, flash here) the
residual error is set by the tolerance and the read noise rather than by one write's noise, and
the best correction gain is 0 — a correction adds the last write's noise to the next aim — so 0
is the default; a positive gain pays off when writes are biased: a device's own offset, such as
RRAM's device-to-device part (``RRAM.d2d_fraction``), which rewrites alone cannot remove.

Costs per device: one write pulse and one verify read per round it takes part in; time and
energy per pulse and read are parameters (assumed, typical PCM values: 100 ns / 10 pJ writes,
1 us verify reads; rows of an array are written in parallel).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from pydantic import BaseModel, ConfigDict, Field, PositiveInt

from ..devices import Device, State


@dataclass
class VerifyHistory:
    """Residual error after each round (round 0 = one-shot programming); plot it with
    :func:`aimc.evaluation.plot_program_verify`."""

    rms_error: list[float] = field(default_factory=list)  # S, over all devices
    converged: list[float] = field(default_factory=list)  # fraction within tolerance
    pulses: int = 0  # write pulses over all devices
    reads: int = 0  # verify reads over all devices
    pulses_per_device: torch.Tensor | None = None  # write pulses of each device (track_pulses)


class ProgramVerify(BaseModel):
    """Closed-loop programming parameters.

    Example:
        >>> from aimc.devices import PCM
        >>> g = torch.full((1000,), 10e-6)
        >>> state, hist = ProgramVerify().program(PCM(), g, torch.Generator().manual_seed(0))
        >>> hist.rms_error[-1] < hist.rms_error[0]
        True
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_iterations: PositiveInt = Field(10, description="verify rounds after the first write")
    tolerance: float = Field(0.02, gt=0, description="accepted |read - target| as a fraction of g_max")
    gain: float = Field(0.0, ge=0, le=2, description="correction of the aim per round")
    t_verify: float = Field(1e-6, ge=0, description="time after a write at which it is verified (s)")
    write_time_s: float = Field(100e-9, gt=0, description="one write pulse (s)")
    read_time_s: float = Field(1e-6, gt=0, description="one verify read (s)")
    write_energy_j: float = Field(10e-12, ge=0, description="one write pulse (J)")
    track_pulses: bool = Field(False, description="keep each device's pulse count in the history "
                               "(VerifyHistory.pulses_per_device: endurance; one float per device)")

    def program(self, device: Device, g_target: torch.Tensor, generator: torch.Generator,
                ) -> tuple[State, VerifyHistory]:
        """Program ``g_target`` (S) closed-loop; the final state and the error history."""
        target = device.snap(g_target)
        tolerance = self.tolerance * device.g_max
        state = device.program(target, generator)
        aim = target.clone()
        history = VerifyHistory(pulses=target.numel(),
                                pulses_per_device=torch.ones_like(target) if self.track_pulses else None)
        active = torch.ones_like(target, dtype=torch.bool)
        for round_ in range(self.max_iterations + 1):
            g_now = device.conductance(state, self.t_verify)
            sigma = device.read_noise_std(state, g_now, self.t_verify)
            read = g_now if sigma is None else g_now + sigma * torch.randn(
                g_now.shape, generator=generator, dtype=g_now.dtype)
            history.reads += int(active.sum())
            error = read - target
            ok = error.abs() <= tolerance
            history.rms_error.append(float((g_now - target).pow(2).mean().sqrt()))
            history.converged.append(float(ok.double().mean()))
            active = ~ok
            if round_ == self.max_iterations or not active.any():
                break
            aim = torch.where(active, (aim - self.gain * error).clamp(device.g_min, device.g_max), aim)
            fresh = device.reprogram(state, aim, generator)  # all draw; only the active keep it
            for key in state:
                if key == "g_target":
                    continue  # the device's target (its drift and noise law) stays the real one
                state[key] = torch.where(active, fresh[key], state[key])
            history.pulses += int(active.sum())
            if history.pulses_per_device is not None:
                history.pulses_per_device += active
        return state, history

    def time_s(self, history: VerifyHistory, rows_in_parallel: int = 1) -> float:
        """Programming time when ``rows_in_parallel`` devices are written at once."""
        return (history.pulses * self.write_time_s + history.reads * self.read_time_s) / rows_in_parallel

    def energy_j(self, history: VerifyHistory) -> float:
        return history.pulses * self.write_energy_j
