"""Effective number of bits of each analog layer, from the SINAD of its outputs.

For every analog layer the model is run on real inputs; each layer's analog output is compared
with the exact digital result of the same layer on the same input (its ``digital_forward``):
``SINAD = 10 log10(P_signal / P_error)`` with ``P_signal`` the mean square of the digital output
and ``P_error`` the mean square of the difference, and ``ENOB = (SINAD - 1.76 dB) / 6.02 dB``
(IEEE Std 1241-2010, the ADC test standard; W. Kester, "Understand SINAD, ENOB, SNR, THD,
THD + N, and SFDR", Analog Devices MT-003). Every error source between the layer's input and its
output counts: DAC and ADC resolution, device noise and drift, IR drop.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from ..nn import AnalogLayer


@dataclass
class LayerENOB:
    name: str
    sinad_db: float
    enob: float


def enob(model: nn.Module, inputs: torch.Tensor) -> list[LayerENOB]:
    """SINAD and ENOB of every analog layer of a programmed ``model`` on ``inputs``.

    Example:
        >>> res = enob(analog, x_test[:256])   # doctest: +SKIP
        >>> [(r.name, round(r.enob, 1)) for r in res]   # doctest: +SKIP
    """
    sums: dict[str, list[float]] = {}
    hooks = []
    for name, module in model.named_modules():
        if isinstance(module, AnalogLayer):
            def hook(mod, args, output, name=name):
                with torch.no_grad():
                    ideal = mod.digital_forward(args[0])
                    acc = sums.setdefault(name, [0.0, 0.0])
                    acc[0] += float(ideal.double().pow(2).sum())
                    acc[1] += float((output.double() - ideal.double()).pow(2).sum())
            hooks.append(module.register_forward_hook(hook))
    if not hooks:
        raise ValueError("model has no analog layers: convert it with aimc.convert first")
    try:
        with torch.no_grad():
            model(inputs)
    finally:
        for h in hooks:
            h.remove()
    results = []
    for name, (signal, error) in sums.items():
        sinad = math.inf if error == 0 else 10 * math.log10(signal / error)
        results.append(LayerENOB(name, sinad, (sinad - 1.76) / 6.02))
    return results
