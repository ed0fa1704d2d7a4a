"""Calibrated input ranges for DACs with a fixed range.

A DAC with ``scaling="fixed"`` maps the digital interval ``[-r, r]`` onto its levels and clips
beyond it (:class:`aimc.periphery.DAC`). A range that is too small clips the large inputs; one
that is too large spends levels on values that never occur. :func:`calibrate_input_ranges` sets
``r`` of every such layer from the inputs the layer sees on representative data: the
``quantile`` of ``|x|`` (percentile calibration, H. Wu et al., "Integer quantization for deep
learning inference: principles and empirical evaluation", arXiv:2004.09602, 2020, §4.2, where
99.9-99.999 % percentiles served best). The inputs come from the model's digital forward (the
reference network), so a layer's range does not depend on the clipping of the layers before it.
Layers with per-vector abs-max scaling (every built-in preset) have no range to set.

The calibrated DAC becomes part of the layer's chip spec (``layer.chip``), so it survives
:meth:`AnalogLayer.remap` and is what hardware-aware training quantises with (and starts from,
when it learns the range). Global drift compensation reads at full scale whatever the range, so
calibrating a programmed chip leaves its compensation valid.
"""

from __future__ import annotations

import math
from contextlib import contextmanager

import torch
from torch import nn

from .layers import AnalogLayer


@contextmanager
def _digital(model: nn.Module, layers: list[AnalogLayer]):
    """Every analog layer computes its exact digital result, the model in eval mode."""
    modes = [m.training for m in model.modules()]
    model.eval()
    try:
        for layer in layers:
            layer.forward = layer.digital_forward  # instance attribute: shadows the class method
        yield
    finally:
        for layer in layers:
            del layer.forward
        for m, mode in zip(model.modules(), modes, strict=True):
            m.training = mode


def calibrate_input_ranges(
    model: nn.Module,
    data: torch.Tensor | tuple[torch.Tensor, ...],
    quantile: float = 0.9999,
    batch_size: int = 256,
    max_samples: int = 1 << 22,
    seed: int = 0,
) -> dict[str, float]:
    """Set the input range of every analog layer whose DAC has ``scaling="fixed"`` to the
    ``quantile`` of ``|inputs|`` seen on ``data`` (inputs, or an ``(inputs, labels)`` tuple).

    The range is the ``ceil(quantile · n)``-th smallest of the ``n`` magnitudes kept per layer;
    beyond ``max_samples`` values per layer, each batch contributes a random subset (``seed``).
    Returns ``{layer name: range}`` of the layers it set.

    Example:
        >>> from aimc.chips import load_chip
        >>> from aimc.periphery import DAC
        >>> chip = load_chip("ideal").model_copy(update={"dac": DAC(bits=8, scaling="fixed")})
        >>> analog, _ = aimc.convert(nn.Sequential(nn.Linear(4, 3)), chip)   # doctest: +SKIP
        >>> calibrate_input_ranges(analog, torch.randn(1000, 4))            # doctest: +SKIP
        {'0': 3.7...}
    """
    if not 0.0 < quantile <= 1.0:
        raise ValueError(f"quantile must be in (0, 1], got {quantile}")
    if batch_size < 1 or max_samples < 1:
        raise ValueError("batch_size and max_samples must be >= 1")
    x = data[0] if isinstance(data, tuple) else data
    if not torch.is_tensor(x) or len(x) == 0:
        raise ValueError("calibration needs a non-empty tensor of inputs, or an (inputs, labels) tuple")
    layers = {name: m for name, m in model.named_modules() if isinstance(m, AnalogLayer)}
    if not layers:
        raise ValueError("model has no analog layers: convert it with aimc.convert(model, chip) first")
    fixed = {name: m for name, m in layers.items() if m.tile.dac.scaling == "fixed"}
    if not fixed:
        return {}
    generator = torch.Generator().manual_seed(seed)
    kept: dict[str, list[torch.Tensor]] = {name: [] for name in fixed}
    share = {"rows": 0}  # rows of the batch being run: each batch keeps its share of max_samples

    def hook(name):
        def record(_module, inputs):
            values = inputs[0].detach().abs().reshape(-1).float()
            # this batch's share of max_samples, rounded at random (unbiased for short batches)
            cap = int(max_samples * share["rows"] / len(x) + float(torch.rand((), generator=generator)))
            if values.numel() > cap:  # a random subset, without replacement
                values = values[torch.randperm(values.numel(), generator=generator)[:cap]]
            kept[name].append(values)
        return record

    handles = [m.register_forward_pre_hook(hook(name)) for name, m in fixed.items()]
    try:
        with torch.no_grad(), _digital(model, list(layers.values())):
            for start in range(0, len(x), batch_size):
                batch = x[start:start + batch_size]
                share["rows"] = len(batch)
                model(batch)
    finally:
        for handle in handles:
            handle.remove()
    ranges = {}
    for name in fixed:
        values = torch.cat(kept[name])
        if values.numel() == 0:
            raise ValueError(f"max_samples={max_samples} kept no input of layer {name!r}: raise it")
        k = min(max(math.ceil(quantile * values.numel() - 1e-9), 1), values.numel())  # no float creep
        r = float(torch.kthvalue(values, k).values)
        if not (r > 0 and math.isfinite(r)):
            raise ValueError(f"layer {name!r}: calibration inputs give no usable range ({r})")
        ranges[name] = r
    for name, r in ranges.items():  # all or nothing
        set_input_range(fixed[name], r)
    return ranges


def set_input_range(layer: AnalogLayer, input_range: float) -> None:
    """Give the fixed-range DAC of ``layer`` the range ``input_range`` (> 0), in its tile, in
    its chip spec (so that a new tile keeps it) and in its trainable range if it has one
    (``aimc.training.HWAConfig.learn_input_range``)."""
    if not (input_range > 0 and math.isfinite(input_range)):
        raise ValueError(f"an input range must be positive and finite, got {input_range}")
    dac = layer.tile.dac.model_copy(update={"input_range": float(input_range)})
    layer.chip = layer.chip.model_copy(update={"dac": dac})
    layer.tile.dac = dac
    trained = getattr(layer, "input_range", None)
    if isinstance(trained, nn.Parameter):
        with torch.no_grad():
            trained.fill_(float(input_range))
