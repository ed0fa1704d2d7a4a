"""Hardware-aware training: the chip's own non-idealities in the training forward pass.

While a converted model trains with HWA enabled, every analog layer computes with *noisy
weights*: the current digital weights are encoded into conductances as the tile would program
them, programmed, drifted to ``t_inference`` and read once through the chip's own device model
(``aimc.devices``), compensated globally for drift as GDC would, and decoded back to weights. The
noise is drawn fresh at every step; gradients pass to the digital weights unchanged
(straight-through estimator), so the network learns weights whose function survives the noise.
Inputs go through the DAC's quantisation with a straight-through gradient as well. This is the
noise-injection recipe of Joshi et al., Nature Communications 11, 2473 (2020) and Rasch et al.,
Nature Communications 14, 5282 (2023), with the noise taken from the simulated chip itself.

Outside training mode (``model.eval()``) the layers run on their programmed tiles as usual.
"""

from __future__ import annotations

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field
from torch import nn

from ..nn import AnalogLayer


class HWAConfig(BaseModel):
    """What the training forward injects."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    t_inference: float = Field(30 * 86400.0, ge=0, description="drift time trained for (s)")
    noise_scale: float = Field(1.0, ge=0, description="multiplies the weight error")
    compensate: bool = Field(True, description="remove the global drift scale (as GDC does)")
    quantize_inputs: bool = Field(True, description="DAC quantisation with straight-through gradient")


def noisy_weight(layer: AnalogLayer, config: HWAConfig, generator: torch.Generator) -> torch.Tensor:
    """The layer's weight as one programmed, drifted and read chip instance would realise it;
    forward value noisy, gradient that of the digital weight."""
    weight = layer.weight
    tile, device = layer.tile, layer.chip.device
    with torch.no_grad():
        w = weight.reshape(weight.shape[0], -1).T.to(torch.float32)  # [in, out]
        encoded = tile.encoding.encode(w, device.g_max - device.g_min)
        state = device.program(encoded.g_target + device.g_min, generator)
        g = device.conductance(state, config.t_inference)
        sigma = device.read_noise_std(state, g, config.t_inference)
        if sigma is not None:
            g = g + sigma * torch.randn(g.shape, generator=generator, dtype=g.dtype)
        realised = encoded.decode(g - device.g_min)
        if config.compensate:  # one global factor per layer, as a drift compensation would find
            realised *= w.abs().sum() / realised.abs().sum().clamp(min=torch.finfo(w.dtype).tiny)
        error = (realised - w) * config.noise_scale
    return weight + error.T.reshape(weight.shape).to(weight.dtype)


def quantize_inputs(layer: AnalogLayer, x: torch.Tensor) -> torch.Tensor:
    """DAC quantisation of ``x`` with a straight-through gradient."""
    dims = -1 if x.dim() <= 2 or not hasattr(layer, "kernel_size") else tuple(range(1, x.dim()))
    with torch.no_grad():
        levels, step = layer.tile.dac.to_levels(x.to(torch.float32), dims=dims)
        quantized = (levels * step).to(x.dtype)
    return x + (quantized - x).detach()


class HWAHook:
    """What an analog layer calls in its training forward (kept duck-typed so that ``aimc.nn``
    does not import the training package)."""

    def __init__(self, config: HWAConfig, generator: torch.Generator) -> None:
        self.config, self.generator = config, generator

    def weight(self, layer: AnalogLayer) -> torch.Tensor:
        return noisy_weight(layer, self.config, self.generator)

    def inputs(self, layer: AnalogLayer, x: torch.Tensor) -> torch.Tensor:
        return quantize_inputs(layer, x) if self.config.quantize_inputs else x


def enable_hwa(model: nn.Module, config: HWAConfig | None = None, seed: int = 0) -> nn.Module:
    """Turn on hardware-aware training for every analog layer of ``model`` (seeded noise)."""
    config = config or HWAConfig()
    layers = [m for m in model.modules() if isinstance(m, AnalogLayer)]
    if not layers:
        raise ValueError("model has no analog layers: convert it with aimc.convert first")
    for layer, child in zip(layers, np.random.SeedSequence(seed).spawn(len(layers)), strict=True):
        layer.hwa = HWAHook(config, torch.Generator().manual_seed(int(child.generate_state(1)[0])))
        layer.weight.requires_grad_(True)
    return model


def disable_hwa(model: nn.Module) -> nn.Module:
    """Back to plain analog layers (the programmed tiles are used in every mode)."""
    for layer in model.modules():
        if isinstance(layer, AnalogLayer):
            layer.hwa = None
    return model
