"""Effective number of bits of each analog layer, from the SINAD of its outputs.

For every analog layer the model is run on real inputs; each layer's analog output is compared
with the exact digital result of the same layer on the same input (its ``digital_forward``):
``SINAD = 10 log10(P_signal / P_error)`` with ``P_signal`` the mean square of the exact *analog
part* of the output (the matrix product, without the layer's bias, which is added digitally
after the ADC and would otherwise inflate the signal: in the test a bias of -100 took a layer
from 6.4 to 15.3 bits) and ``P_error`` the mean square of the difference between analog and
exact outputs. Every error
source between the layer's input and its output counts: DAC and ADC resolution, device noise and
drift, IR drop.

Which definition: IEEE Std 1241-2010 (the ADC test standard) defines effective bits against the
ideal quantisation error of a full-scale N-bit converter, ``ENOB = N - log2(rms(NAD) /
rms(ideal quantisation error))``; for a full-scale sine wave this equals the SINAD form
``ENOB = (SINAD - 1.76 dB) / 6.02 dB`` (W. Kester, "Understand SINAD, ENOB, SNR, THD, THD + N,
and SFDR", Analog Devices MT-003). A layer has neither one N nor one full scale (its outputs
combine several ADC reads, scaled per column), and its test signal is data, not a sine, so aimc
uses the signal-referenced SINAD form with the signal measured on the data. It rates the layer's
computation on that data; it is not a datasheet ENOB of the ADC (for signals with a higher crest
factor than a sine it reads lower than the full-scale figure).
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
    """SINAD and ENOB of every analog layer of a programmed ``model`` on ``inputs`` (signal:
    the analog part of each layer's output, bias excluded; see the module docstring).

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
                    ideal = mod.digital_forward(args[0]).double()
                    # the layers are affine: their output at zero input is the digital bias
                    bias = mod.digital_forward(torch.zeros_like(args[0])).double()
                    acc = sums.setdefault(name, [0.0, 0.0])
                    acc[0] += float((ideal - bias).pow(2).sum())
                    acc[1] += float((output.double() - ideal).pow(2).sum())
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
