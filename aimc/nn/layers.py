"""Thin analog layers over a :class:`~aimc.tile.Tile`.

Each layer keeps its digital weight (the programming target) and bias; the matrix products run on
the tile, the bias is added digitally after the ADC, as on the chip.

Convolutions: a kernel of ``C_in x k`` weights is one column of the crossbar and every image
patch one input vector (im2col). The tile keeps each input channel's kernel rows on one array, so
"apply array ``a`` to every patch" is exactly a grouped convolution over that array's channels;
the layer runs it as ``F.conv2d(..., groups=arrays)`` (same numbers as im2col + matmul, without
materialising the patches), with read noise from the same convolution of ``V*V`` and the
variances. A kernel larger than an array falls back to explicit im2col. One DAC scale is shared by
all patches of an image (``abs_max`` over the image). Gradients flow to the inputs (the DAC and
ADC rounding have zero gradient); training for the hardware is a later layer's job.
"""

from __future__ import annotations

import math
from functools import partial

import torch
import torch.nn.functional as F
from torch import nn

from ..calibration import build_compensation
from ..chips import ChipSpec
from ..tile import ReadMatrices, Tile, check_finite


def make_tile(weight: torch.Tensor, chip: ChipSpec, row_granule: int = 1) -> Tile:
    """A tile for ``weight [out, in]`` with the device, converters and arrays of ``chip``."""
    return Tile(
        weight,
        device=chip.device,
        dac=chip.dac,
        adc=chip.adc,
        array_rows=chip.array.rows,
        array_cols=chip.array.cols,
        compensation=build_compensation(chip.compensation),
        row_granule=row_granule,
        encoding=chip.encoding,
        faults=chip.faults,
        ir_drop=chip.ir_drop,
        circuit_noise=chip.circuit_noise,
    )


def _conv_bias_layout(b: torch.Tensor) -> torch.Tensor:
    """``[groups, arrays, columns]`` → ``[arrays*groups*columns, 1, 1]`` (per output channel)."""
    groups, arrays, columns = b.shape
    return b.permute(1, 0, 2).reshape(-1, 1, 1)


def _split_outputs(m: ReadMatrices, arrays: int) -> list[ReadMatrices]:
    """The matrices of a grouped convolution over ``arrays`` arrays, one per array."""
    return [ReadMatrices(*(None if t is None else t.chunk(arrays)[a] for t in m)) for a in range(arrays)]


class AnalogLayer(nn.Module):
    """Base of analog layers: a tile plus a digital bias."""

    tile: Tile

    def __init__(self, weight: torch.Tensor, bias: torch.Tensor | None, chip: ChipSpec) -> None:
        super().__init__()
        self.weight = nn.Parameter(weight.detach().clone(), requires_grad=False)
        self.bias = None if bias is None else nn.Parameter(bias.detach().clone())
        self.chip = chip
        # hardware-aware training hook (set by aimc.training.enable_hwa): .forward(layer, x) is
        # the training forward with the chip's noise and converters in the loop
        self.hwa = None
        self._granule = math.prod(weight.shape[2:])  # kernel rows of one input channel (1 for Linear)
        self.remap()

    def remap(self) -> None:
        """Map the current weights onto a new tile (after training); it must be programmed."""
        with torch.no_grad():
            w = self.weight.detach().reshape(self.weight.shape[0], -1)
            self.tile = make_tile(w, self.chip, self._granule)


class AnalogLinear(AnalogLayer):
    """``nn.Linear`` on a tile: ``y = tile(x) + b``.

    Example:
        >>> from aimc.chips import load_chip
        >>> layer = AnalogLinear.from_digital(nn.Linear(8, 4), load_chip("ideal"))
        >>> layer.tile.program(seed=0)
        >>> layer(torch.ones(2, 8)).shape
        torch.Size([2, 4])
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, *, chip: ChipSpec):
        digital = nn.Linear(in_features, out_features, bias=bias)
        super().__init__(digital.weight, digital.bias, chip)
        self.in_features, self.out_features = in_features, out_features

    @classmethod
    def from_digital(cls, module: nn.Linear, chip: ChipSpec) -> AnalogLinear:
        return cls.from_matrix(module.weight, module.bias, chip)

    @classmethod
    def from_matrix(cls, weight: torch.Tensor, bias: torch.Tensor | None, chip: ChipSpec) -> AnalogLinear:
        """An analog layer computing ``x @ weight.T + bias`` for any matrix ``weight [out, in]``
        (one of the matrices of a recurrent or attention layer, a custom layer's matrix); the
        bias stays digital."""
        layer = cls.__new__(cls)
        AnalogLayer.__init__(layer, weight, bias, chip)
        layer.out_features, layer.in_features = weight.shape
        return layer

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training and self.hwa is not None:
            return self._hwa_forward(x)
        return self.tile(x, bias=self.bias)

    def _hwa_forward(self, x: torch.Tensor) -> torch.Tensor:
        lead = x.shape[:-1]
        return self.hwa.forward(self, x.reshape(-1, self.in_features)).view(*lead, self.out_features)

    def digital_forward(self, x: torch.Tensor) -> torch.Tensor:
        """The exact digital result of this layer (reference for error and ENOB)."""
        return F.linear(x, self.weight, self.bias)

    def extra_repr(self) -> str:
        bias = self.bias is not None
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={bias}"


class _AnalogConvNd(AnalogLayer):
    """Shared im2col lowering of Conv1d/Conv2d (1-D runs as 2-D with height 1)."""

    _spatial_dims: int

    @classmethod
    def from_digital(cls, module: nn.Conv1d | nn.Conv2d, chip: ChipSpec):
        layer = cls.__new__(cls)
        AnalogLayer.__init__(layer, module.weight, module.bias, chip)
        for name in ("in_channels", "out_channels", "kernel_size", "stride", "padding", "dilation"):
            setattr(layer, name, getattr(module, name))
        layer.padding_mode = module.padding_mode
        # (left, right, top, bottom, ...) pads as F.pad wants them; covers padding='same'
        layer._pad = tuple(module._reversed_padding_repeated_twice)
        return layer

    def _as_2d(self, value: tuple[int, ...], fill: int) -> tuple[int, int]:
        return (fill, *value) if self._spatial_dims == 1 else tuple(value)

    def _conv_layout(self, m: torch.Tensor) -> torch.Tensor:
        """``[groups, arrays, channels*kh*kw, columns]`` → grouped-conv weight
        ``[arrays*groups*columns, channels, kh, kw]``."""
        kh, kw = self._as_2d(self.kernel_size, 1)
        groups, arrays, _, columns = m.shape
        m = m.view(groups, arrays, -1, kh, kw, columns).permute(1, 0, 5, 2, 3, 4)
        return m.reshape(arrays * groups * columns, -1, kh, kw)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() == self._spatial_dims + 1:  # unbatched input, as nn.ConvNd accepts
            return self.forward(x.unsqueeze(0)).squeeze(0)
        if self.training and self.hwa is not None:
            return self.hwa.forward(self, x)
        if x.dim() != self._spatial_dims + 2 or x.shape[1] != self.in_channels:
            raise ValueError(
                f"{type(self).__name__} expects [batch, {self.in_channels}, ...] with "
                f"{self._spatial_dims} spatial dims, got shape {tuple(x.shape)}"
            )
        tile = self.tile
        if self._spatial_dims == 1:
            x = x.unsqueeze(2)
        # one abs-max scale per image; padding (zeros or copies of inputs) leaves it unchanged,
        # so the levels are padded instead of the inputs
        x32 = x.to(torch.float32)
        if x32.device.type == "cpu" and not x32.requires_grad:
            levels, step = tile._dac_compiled(x32.flatten(1), pad=False)
            levels, step = levels.view(x.shape), step if isinstance(step, float) else step.view(-1, 1, 1, 1)
        else:
            check_finite(x32)
            levels, step = tile.dac.to_levels(x32, dims=(1, 2, 3))
        kernel = self._as_2d(self.kernel_size, 1)
        dilation = self._as_2d(self.dilation, 1)
        stride = self._as_2d(self.stride, 1)
        grouped = tile.row_granule == kernel[0] * kernel[1]
        pad = self._pad if self._spatial_dims == 2 else (*self._pad, 0, 0)  # (left, right, top, bottom)
        # symmetric zero padding is the convolution's own (no padded copy of the levels)
        own_padding = grouped and self.padding_mode == "zeros" and pad[0] == pad[1] and pad[2] == pad[3]
        if any(pad) and not own_padding:
            mode = "constant" if self.padding_mode == "zeros" else self.padding_mode
            levels = F.pad(levels, pad, mode=mode)
        batch = x.shape[0]
        if grouped:  # whole channels per array: one convolution per array
            pad_channels = tile.row_arrays * tile.granules_per_array - self.in_channels
            if pad_channels:
                levels = F.pad(levels, (0, 0, 0, 0, 0, pad_channels))
            # channels-last: oneDNN's grouped convolution is 2x faster so than in NCHW
            levels = levels.contiguous(memory_format=torch.channels_last)
            matrices = tile.matrices(self._conv_layout, key="conv", bias_layout=_conv_bias_layout,
                                     memory_format=torch.channels_last)
            # one convolution per array (faster than one grouped convolution), codes summed over
            # arrays → [B, groups*out, H', W']
            op = partial(F.conv2d, stride=stride, dilation=dilation,
                         padding=(pad[2], pad[0]) if own_padding else 0)
            arrays = tile.row_arrays
            per = levels.shape[1] // arrays
            parts = [levels[:, a * per:(a + 1) * per] for a in range(arrays)]
            codes = tile.combine(tile.read_split(parts, _split_outputs(matrices, arrays), op, channel_dim=1))
        else:  # a kernel larger than an array: explicit im2col over arbitrary row splits
            height, width = levels.shape[-2:]
            out_h = (height - dilation[0] * (kernel[0] - 1) - 1) // stride[0] + 1
            out_w = (width - dilation[1] * (kernel[1] - 1) - 1) // stride[1] + 1
            cols = F.unfold(levels, kernel, dilation=dilation, stride=stride)  # [B, C*k, L]
            codes = tile.read_codes(cols.transpose(1, 2).reshape(-1, tile.in_features))
            codes = codes.view(batch, out_h * out_w, -1).transpose(1, 2)
            codes = codes.reshape(batch, self.out_channels, out_h, out_w)
        scale = tile.output_scale.view(1, -1, 1, 1) * step  # [B or 1, out, 1, 1]
        if x.dtype != codes.dtype and x.is_floating_point():  # a float64 model gets float64 out
            codes, scale = codes.to(x.dtype), scale.to(x.dtype)
        if self.bias is None:
            y = codes * scale
        else:
            y = torch.addcmul(self.bias.view(1, -1, 1, 1), codes, scale)
        return y.squeeze(2) if self._spatial_dims == 1 else y

    def digital_forward(self, x: torch.Tensor, weight: torch.Tensor | None = None,
                        bias: bool = True) -> torch.Tensor:
        """The exact digital result of this layer (reference for error and ENOB), optionally
        with another ``weight`` (hardware-aware training passes a noisy one, or a slice of the
        input channels with ``bias=False`` for one array's partial sum)."""
        if x.dim() == self._spatial_dims + 1:
            return self.digital_forward(x.unsqueeze(0), weight, bias).squeeze(0)
        if any(self._pad):
            mode = "constant" if self.padding_mode == "zeros" else self.padding_mode
            x = F.pad(x, self._pad, mode=mode)
        conv = F.conv1d if self._spatial_dims == 1 else F.conv2d
        weight = self.weight if weight is None else weight
        return conv(x, weight, self.bias if bias else None, self.stride, 0, self.dilation)

    def extra_repr(self) -> str:
        return (
            f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
            f"stride={self.stride}, padding={self.padding}"
        )


class AnalogConv1d(_AnalogConvNd):
    """``nn.Conv1d`` (groups=1) on a tile via im2col; bias digital."""

    _spatial_dims = 1


class AnalogConv2d(_AnalogConvNd):
    """``nn.Conv2d`` (groups=1) on a tile via im2col; bias digital."""

    _spatial_dims = 2
