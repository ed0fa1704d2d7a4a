"""Hardware-aware training: the chip's own non-idealities in the training forward pass.

While a converted model trains with HWA enabled, every analog layer computes with *noisy
weights*: the current digital weights are encoded into conductances as the tile would program
them, programmed, drifted to ``t_inference`` and read once through the chip's own device model
(``aimc.devices``), decoded back to weights and compensated for drift by the chip's own scheme:
the same programmed instance is read with the scheme's fixed calibration inputs right after
programming and at ``t_inference`` (DAC levels, array split, per-vector read noise, ADC), and the
ratio of the two mean |codes| rescales the digital output, as the tile's GDC does
(:func:`calibration_readout`). The factor therefore carries the calibration read's own noise and,
like the chip, leaves a global scale error of programming uncorrected (an earlier version divided
by the true weights instead, an oracle no chip has). A chip without compensation gets none. The
noise is drawn fresh at every step; gradients pass to the digital weights unchanged
(straight-through estimator), so the network learns weights whose function survives the noise.
Inputs go through the DAC's quantisation with a straight-through gradient as well; the matrix
is split over arrays as the tile splits it, and each array's partial sum is scaled to ADC codes,
given the ADC's input noise, rounded and clipped at the ADC's range (straight-through inside the
range), then added digitally. After every optimizer step the trainer clips each layer's weights
to ``weight_clip`` standard deviations, so that fewer outliers set the per-column conductance
scale. This is the recipe of Joshi et al., Nature Communications 11, 2473 (2020) and Rasch et
al., Nature Communications 14, 5282 (2023), with the noise taken from the simulated chip itself.
Input ranges are calibrated per vector by the DAC's abs-max scaling (``dac.scaling``); for a
fixed-range DAC, :func:`aimc.calibrate_input_ranges` sets each layer's range from data, and
``HWAConfig(learn_input_range=True)`` trains it with the weights from there (PACT, Choi et al.
2018: the inputs it clips pass their gradient to the range, straight-through inside), after
which :func:`sync_input_ranges` (called by the trainer) writes it into the chip.

Sequences. A recurrent layer reads its recurrent matrix once per time step; on a chip all
those reads hit one programmed array, whose programming error and drift are the same at every
step, while each read has its own noise. So the recurrent layers of :mod:`aimc.nn.recurrent`
ask each matrix's hook once per forward call (one sequence) for :meth:`HWAHook.sequence`: one
programmed, drifted and compensated instance (and its read-noise variance) is drawn then and
serves every step, and each step adds fresh read noise per input vector (variance
``x² @ σ²``, the read noise of the tile's read model). An analog embedding table
(:class:`aimc.nn.AnalogEmbedding`) likewise draws one instance per forward call and reads each
looked-up row with fresh noise (:func:`hwa_lookup`). Other layers are called once per forward
and draw one instance with one read per call: the same noisy weight serves every vector of the
call (all tokens and the batch).

Outside training mode (``model.eval()``) the layers run on their programmed tiles as usual.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
from pydantic import BaseModel, ConfigDict, Field
from torch import nn

from ..encoding import Encoded
from ..nn import AnalogLayer, set_input_range


class HWAConfig(BaseModel):
    """What the training forward injects."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    t_inference: float = Field(30 * 86400.0, ge=0, description="drift time trained for (s)")
    noise_scale: float = Field(1.0, ge=0, description="multiplies the weight error")
    compensate: bool = Field(True, description="run the chip's drift compensation (its calibration "
                             "read at programming and at t_inference); no effect on a chip without one")
    quantize_inputs: bool = Field(True, description="DAC quantisation with straight-through gradient")
    quantize_outputs: bool = Field(True, description="per-array ADC noise, rounding and clipping "
                                   "with straight-through gradient (finite-resolution ADCs)")
    weight_clip: float | None = Field(2.5, gt=0, description="clip weights to this many standard "
                                      "deviations of their layer after every step; None = off")
    learn_input_range: bool = Field(False, description="train the range of every fixed-range DAC "
                                    "with the weights (PACT clipping gradient)")


def noisy_weight(layer: AnalogLayer, config: HWAConfig, generator: torch.Generator) -> torch.Tensor:
    """The layer's weight as one programmed, drifted and read chip instance would realise it;
    forward value noisy, gradient that of the digital weight."""
    return _realised(layer, config, generator)[0]


def _decoded_variance(encoded: Encoded, sigma: torch.Tensor) -> torch.Tensor:
    """Variance in weight units ``[in, out]`` of the decoded weight when each device plane has
    independent noise of standard deviation ``sigma`` (as :meth:`Encoded.decode` combines them)."""
    var = torch.zeros(sigma.shape[1:], dtype=sigma.dtype)
    for s, a, grp in zip(sigma, encoded.alpha, encoded.group, strict=True):
        var += (encoded.beta[grp] * a) ** 2 * s * s
    if encoded.reference_column:
        var = var[:, :-1] + var[:, -1:]
    return var * encoded.weight_per_siemens**2


def calibration_readout(layer: AnalogLayer, config: HWAConfig, encoded: Encoded, state: dict,
                        t: float, generator: torch.Generator) -> float:
    """The drift-compensation reading of one chip instance (programmed ``state``) at ``t``, as
    the tile takes it (:meth:`aimc.calibration.GlobalDriftCompensation.readout`): the scheme's
    fixed calibration inputs through the DAC's levels, the array split, per-vector read noise and
    (with ``quantize_outputs``) each array's ADC noise, rounding and clipping; mean |codes|."""
    tile, device = layer.tile, layer.chip.device
    if not hasattr(tile.compensation, "calibration_inputs"):
        raise NotImplementedError(f"hardware-aware training models global drift compensation (gdc) "
                                  f"only, not {type(tile.compensation).__name__}: use "
                                  "HWAConfig(compensate=False) or a chip with gdc")
    inputs = tile.compensation.calibration_inputs(tile.in_features)
    if tile.dac.scaling == "fixed":
        inputs = inputs * tile.dac.input_range
    levels, _ = tile.dac.to_levels(inputs)
    g = device.conductance(state, t)
    sigma = device.read_noise_std(state, g, t)
    # one ADC code per DAC level in weight units, per column (as hwa_forward's lsb with step 1)
    per_level = tile.adc.unit_current(device.g_max, tile.dac.v_read) * tile.dac.full_scale_levels
    lsb = encoded.weight_per_siemens * (per_level / tile.dac.v_read)
    mean = encoded.decode(g - device.g_min) / lsb
    var = None if sigma is None else _decoded_variance(encoded, sigma) / lsb**2
    rows, total = tile.rows_per_array, 0.0
    for start in range(0, tile.in_features, rows):
        v = levels[:, start:start + rows]
        codes = v @ mean[start:start + rows]
        if var is not None:
            std = ((v * v) @ var[start:start + rows]).sqrt()
            codes = codes + std * torch.randn(codes.shape, generator=generator, dtype=codes.dtype)
        if config.quantize_outputs and tile.adc.levels is not None:
            normal = lambda shape: torch.randn(shape, generator=generator)  # noqa: E731
            codes = tile.adc.digitize(codes, normal)
        total = total + codes
    return float(total.abs().mean())


def _programmed(layer: AnalogLayer, generator: torch.Generator) -> tuple[torch.Tensor, Encoded, dict]:
    """The digital weight ``[in, out]``, its encoding and one programmed chip instance."""
    weight, device = layer.weight, layer.chip.device
    w = weight.detach().reshape(weight.shape[0], -1).T.to(torch.float32)  # [in, out]
    encoded = layer.tile.encoding.encode(w, device.g_max - device.g_min)
    return w, encoded, device.program(encoded.g_target + device.g_min, generator)


def _realised(layer: AnalogLayer, config: HWAConfig,
              generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor, float]:
    """(noisy, drift-compensated weight with straight-through gradient, weight units per siemens
    of each column, drift-compensation factor): one chip instance (:func:`_instance`) and one read
    of it, the read noise of every device drawn once into the weight (drawn before the
    compensation's calibration reads, so a seed gives the draws it gave before sequences had
    their own reader)."""
    weight, _, per_siemens, scale = _instance(layer, config, generator, read=True)
    return weight, per_siemens, scale


def _round_ste(x: torch.Tensor) -> torch.Tensor:
    return x + (torch.round(x) - x).detach()


def _pact(x: torch.Tensor, alpha: torch.Tensor, levels: int | None, quantize: bool) -> torch.Tensor:
    """A fixed-range DAC with a trained range ``alpha``: clip to ``±alpha`` (gradient to ``alpha``
    where an input is clipped, ``±1``; to ``x`` inside) and quantise with a straight-through
    gradient (PACT, J. Choi et al., arXiv:1805.06085, 2018, Eqs. 1-3)."""
    a = alpha.abs().to(x.dtype)
    y = torch.minimum(torch.maximum(x, -a), a)
    if not quantize or levels is None:
        return y
    step = (a / levels).detach()
    return y + (torch.round(y.detach() / step) * step - y).detach()


def learned_range(layer: AnalogLayer) -> torch.Tensor | None:
    """The trained DAC range of ``layer`` (an ``nn.Parameter``) while its HWA config learns it,
    else None."""
    alpha = getattr(layer, "input_range", None)
    learning = layer.hwa is not None and layer.hwa.config.learn_input_range
    fixed = layer.tile.dac.scaling == "fixed"
    return alpha if learning and fixed and isinstance(alpha, nn.Parameter) else None


def sync_input_ranges(model: nn.Module) -> None:
    """Write every trained DAC range into its layer's converter, for the programmed chip (the
    trainer does this after training; call it after a training loop of your own)."""
    for layer in model.modules():
        if isinstance(layer, AnalogLayer) and (alpha := learned_range(layer)) is not None:
            set_input_range(layer, float(alpha.detach().abs()))


def _instance(layer: AnalogLayer, config: HWAConfig, generator: torch.Generator,
              read: bool = False) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor, float]:
    """One programmed and drifted chip instance of ``layer`` without its read noise: (its mean
    weight after drift compensation, shaped as ``layer.weight``, straight-through gradient; the
    variance of one read of each weight ``[out, in]`` in weight units (a convolution's kernel
    flattened), or None; weight units per siemens of each column; the drift-compensation
    factor). With ``read`` the instance is read once instead: every device's read noise is drawn
    into the weight and the variance is None (:func:`_realised`)."""
    weight = layer.weight
    tile, device = layer.tile, layer.chip.device
    with torch.no_grad():
        w, encoded, state = _programmed(layer, generator)
        g = device.conductance(state, config.t_inference)
        sigma = device.read_noise_std(state, g, config.t_inference)
        if read and sigma is not None:
            g = g + sigma * torch.randn(g.shape, generator=generator, dtype=g.dtype)
        mean = encoded.decode(g - device.g_min)
        scale = 1.0
        if config.compensate and tile.compensation is not None:
            reference = calibration_readout(layer, config, encoded, state, 0.0, generator)
            now = calibration_readout(layer, config, encoded, state, config.t_inference, generator)
            scale = reference / max(now, torch.finfo(torch.float32).tiny)
        error = (mean * scale - w) * config.noise_scale
        var = None
        if sigma is not None and not read:
            var = (_decoded_variance(encoded, sigma) * (scale * config.noise_scale) ** 2).T.contiguous()
    return weight + error.T.reshape(weight.shape).to(weight.dtype), var, encoded.weight_per_siemens, scale


def _read_noise(x: torch.Tensor, var: torch.Tensor | None,
                generator: torch.Generator) -> torch.Tensor | float:
    """Fresh read noise of every vector of ``x [N, in]`` through weights of variance
    ``var [out, in]``: normal with variance ``x² @ varᵀ`` (no gradient)."""
    if var is None:
        return 0.0
    with torch.no_grad():
        std = F.linear(x.detach() * x.detach(), var.to(x.dtype)).clamp_(min=0.0).sqrt_()
        return std * torch.randn(std.shape, generator=generator, dtype=std.dtype)


def hwa_forward(layer: AnalogLayer, x: torch.Tensor, config: HWAConfig,
                generator: torch.Generator) -> torch.Tensor:
    """Training forward of an analog layer (bias included): DAC, noisy weights, per-array
    partial sums through the ADC (noise, rounding, clipping), digital accumulation."""
    weight, per_siemens, gdc_scale = _realised(layer, config, generator)
    return _forward(layer, x, weight, per_siemens, gdc_scale, None, config, generator)


def sequence_reader(layer: AnalogLayer, config: HWAConfig,
                    generator: torch.Generator) -> Callable[[torch.Tensor], torch.Tensor]:
    """The training forward of a linear ``layer`` for one sequence: one programmed, drifted and
    compensated chip instance, drawn now, serves every call of the returned function (every
    time step), and each call reads it with fresh read noise per input vector, as a chip reads
    one programmed array again and again. The rest is :func:`hwa_forward`'s (DAC, per-array
    partial sums through the ADC, straight-through gradients)."""
    if layer.weight.dim() != 2:
        raise TypeError(f"per-sequence reads are for linear layers, got a weight of shape "
                        f"{tuple(layer.weight.shape)}")
    weight, var, per_siemens, gdc_scale = _instance(layer, config, generator)

    def read(x: torch.Tensor) -> torch.Tensor:
        return _forward(layer, x, weight, per_siemens, gdc_scale, var, config, generator)

    return read


def hwa_lookup(layer: AnalogLayer, index: torch.Tensor, config: HWAConfig, generator: torch.Generator,
               padding_idx: int | None = None) -> torch.Tensor:
    """Training forward of an embedding table on a tile (``layer`` holds ``W = table.T``, see
    :class:`aimc.nn.AnalogEmbedding`): one programmed, drifted and compensated chip instance
    (:func:`_instance`), drawn per call, and for every index ``[N]`` a one-hot read of its row
    (``[N, dim]``) with fresh read noise (the row's variance: the one-hot input is 1 at full
    scale), through one array's ADC (noise, rounding, clipping, straight-through) with the DAC
    step ``1 / full_scale_levels``, as :func:`hwa_forward` converts a read. The gradient reaches
    the table's rows straight through (``F.embedding`` on the realised table; none to
    ``padding_idx``, as ``nn.Embedding``)."""
    weight, var, per_siemens, gdc_scale = _instance(layer, config, generator)
    rows = F.embedding(index, weight.T, padding_idx)
    if var is not None:
        with torch.no_grad():
            std = var.T[index].clamp(min=0.0).sqrt()
            noise = std * torch.randn(std.shape, generator=generator, dtype=std.dtype)
        rows = rows + noise.to(rows.dtype)
    tile, adc = layer.tile, layer.tile.adc
    if not config.quantize_outputs or adc.levels is None:
        return rows
    top = tile.dac.full_scale_levels
    per_level = adc.unit_current(layer.chip.device.g_max, tile.dac.v_read) * top
    lsb = per_siemens.to(rows.dtype) * (per_level / tile.dac.v_read * gdc_scale / top)
    codes = rows / lsb
    if adc.noise:
        codes = codes + adc.noise * torch.randn(codes.shape, generator=generator, dtype=codes.dtype)
    return _round_ste(codes).clamp(-adc.levels, adc.levels) * lsb


def _forward(layer: AnalogLayer, x: torch.Tensor, weight: torch.Tensor, per_siemens: torch.Tensor,
             gdc_scale: float, var: torch.Tensor | None, config: HWAConfig,
             generator: torch.Generator) -> torch.Tensor:
    """:func:`hwa_forward` with a given realised ``weight``; ``var`` (linear layers only) adds
    fresh read noise of that variance to every vector's partial sums."""
    tile = layer.tile
    conv = weight.dim() > 2
    dims = tuple(range(1, x.dim())) if conv else -1
    alpha = learned_range(layer)
    if alpha is not None:
        x = _pact(x, alpha, tile.dac.levels, config.quantize_inputs)
        step = float(alpha.detach().abs()) / tile.dac.full_scale_levels
    else:
        with torch.no_grad():
            levels, step = tile.dac.to_levels(x.to(torch.float32), dims=dims)
        if config.quantize_inputs:
            x = x + ((levels * step).to(x.dtype) - x).detach()
    adc = tile.adc
    if not config.quantize_outputs or adc.levels is None:
        if conv:
            return layer.digital_forward(x, weight)
        return F.linear(x, weight, layer.bias) + _read_noise(x, var, generator)
    # one ADC code in output units: weight/siemens x (A per code) / (V per DAC level) x DAC step
    per_level = adc.unit_current(layer.chip.device.g_max, tile.dac.v_read) * tile.dac.full_scale_levels
    # the ADC sees the drifted currents; the compensation factor rescales its digital output
    lsb = per_siemens.to(x.dtype) * (per_level / tile.dac.v_read * gdc_scale)
    lsb = lsb.view(1, -1, *([1] * (x.dim() - 2))) * torch.as_tensor(step, dtype=x.dtype)
    granule = weight[0, 0].numel() if conv else 1
    per_array = tile.rows_per_array // granule  # channels (conv) or rows (linear) per array
    total = 0.0
    for start in range(0, weight.shape[1], per_array):
        part_w, part_x = weight[:, start:start + per_array], x[:, start:start + per_array]
        if conv:
            part = layer.digital_forward(part_x, part_w, bias=False)
        else:
            part_var = None if var is None else var[:, start:start + per_array]
            part = F.linear(part_x, part_w) + _read_noise(part_x, part_var, generator)
        codes = part / lsb
        if adc.noise:
            codes = codes + adc.noise * torch.randn(codes.shape, generator=generator, dtype=codes.dtype)
        total = total + _round_ste(codes).clamp(-adc.levels, adc.levels)
    y = total * lsb
    if layer.bias is not None:
        y = y + layer.bias.view(1, -1, *([1] * (x.dim() - 2)))
    return y


def clip_weights(model: nn.Module) -> None:
    """Clip the weights of every HWA-trained analog layer to ``weight_clip`` standard deviations
    of that layer (called by the trainer after each optimizer step)."""
    with torch.no_grad():
        for layer in model.modules():
            hook = getattr(layer, "hwa", None)
            if isinstance(layer, AnalogLayer) and hook is not None and hook.config.weight_clip:
                bound = hook.config.weight_clip * layer.weight.std()
                layer.weight.clamp_(-bound, bound)


class HWAHook:
    """What an analog layer calls in its training forward (kept duck-typed so that ``aimc.nn``
    does not import the training package)."""

    def __init__(self, config: HWAConfig, generator: torch.Generator) -> None:
        self.config, self.generator = config, generator

    def forward(self, layer: AnalogLayer, x: torch.Tensor) -> torch.Tensor:
        return hwa_forward(layer, x, self.config, self.generator)

    def sequence(self, layer: AnalogLayer) -> Callable[[torch.Tensor], torch.Tensor]:
        """A training forward bound to one chip instance for a whole sequence (recurrent layers
        ask for it once per forward call; see :func:`sequence_reader`)."""
        return sequence_reader(layer, self.config, self.generator)

    def lookup(self, layer: AnalogLayer, index: torch.Tensor, padding_idx: int | None = None) -> torch.Tensor:
        """Training forward of an embedding table's lookups (see :func:`hwa_lookup`;
        :class:`aimc.nn.AnalogEmbedding` asks for it)."""
        return hwa_lookup(layer, index, self.config, self.generator, padding_idx)


def enable_hwa(model: nn.Module, config: HWAConfig | None = None, seed: int = 0) -> nn.Module:
    """Turn on hardware-aware training for every analog layer of ``model`` (seeded noise)."""
    config = config or HWAConfig()
    layers = [m for m in model.modules() if isinstance(m, AnalogLayer)]
    if not layers:
        raise ValueError("model has no analog layers: convert it with aimc.convert first")
    for layer, child in zip(layers, np.random.SeedSequence(seed).spawn(len(layers)), strict=True):
        layer.hwa = HWAHook(config, torch.Generator().manual_seed(int(child.generate_state(1)[0])))
        layer.weight.requires_grad_(True)
        if config.learn_input_range and layer.tile.dac.scaling == "fixed":
            layer.input_range = nn.Parameter(torch.tensor(float(layer.tile.dac.input_range)))
        elif isinstance(getattr(layer, "input_range", None), nn.Parameter):
            del layer.input_range  # not learned in this run: the DAC's own range holds
    return model


def disable_hwa(model: nn.Module) -> nn.Module:
    """Back to plain analog layers (the programmed tiles are used in every mode); trained DAC
    ranges are written into the converters first."""
    sync_input_ranges(model)
    for layer in model.modules():
        if isinstance(layer, AnalogLayer):
            layer.hwa = None
    return model


def compensation_factors(layer: AnalogLayer, config: HWAConfig,
                         generator: torch.Generator) -> tuple[float, float]:
    """For one fresh chip instance of ``layer`` at ``config.t_inference``: (the drift-compensation
    factor the training forward uses, i.e. the chip's calibration read; the true-weight factor
    ``sum |w| / sum |realised|`` that earlier versions used, an oracle), to measure the difference."""
    with torch.no_grad():
        noisy, _, scale = _realised(layer, config.model_copy(update={"noise_scale": 1.0}), generator)
        oracle = layer.weight.abs().sum() / (noisy / scale).abs().sum()
    return scale, float(oracle)
