"""Thin analog layers over a :class:`~aimc.tile.Tile`.

Each layer keeps its digital weight (the programming target) and bias; the matrix products run on
the tile, the bias is added digitally after the ADC, as on the chip. Convolutions are lowered to
matrix products by im2col (``unfold``): a kernel of ``C_in x k`` weights becomes a column of the
crossbar, each output position one input vector. Gradients flow to the inputs (the DAC and ADC
rounding have zero gradient); training for the hardware is a later layer's job.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..calibration import build_compensation
from ..chips import ChipSpec
from ..tile import Tile


def make_tile(weight: torch.Tensor, chip: ChipSpec) -> Tile:
    """A tile for ``weight [out, in]`` with the device, converters and arrays of ``chip``."""
    return Tile(
        weight,
        device=chip.device,
        dac=chip.dac,
        adc=chip.adc,
        array_rows=chip.array.rows,
        array_cols=chip.array.cols,
        compensation=build_compensation(chip.compensation),
    )


class AnalogLayer(nn.Module):
    """Base of analog layers: a tile plus a digital bias."""

    tile: Tile

    def __init__(self, weight: torch.Tensor, bias: torch.Tensor | None, chip: ChipSpec) -> None:
        super().__init__()
        self.weight = nn.Parameter(weight.detach().clone(), requires_grad=False)
        self.bias = None if bias is None else nn.Parameter(bias.detach().clone())
        self.chip = chip
        self.tile = make_tile(self.weight.reshape(self.weight.shape[0], -1), chip)


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
        layer = cls.__new__(cls)
        AnalogLayer.__init__(layer, module.weight, module.bias, chip)
        layer.in_features, layer.out_features = module.in_features, module.out_features
        return layer

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.tile(x)
        return y if self.bias is None else y + self.bias

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

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != self._spatial_dims + 2:
            raise ValueError(
                f"{type(self).__name__} expects [batch, channels, ...] with {self._spatial_dims} "
                f"spatial dims, got shape {tuple(x.shape)}"
            )
        if any(self._pad):
            mode = "constant" if self.padding_mode == "zeros" else self.padding_mode
            x = F.pad(x, self._pad, mode=mode)
        if self._spatial_dims == 1:
            x = x.unsqueeze(2)
        kernel = self._as_2d(self.kernel_size, 1)
        dilation = self._as_2d(self.dilation, 1)
        stride = self._as_2d(self.stride, 1)
        batch, _, height, width = x.shape
        out_h = (height - dilation[0] * (kernel[0] - 1) - 1) // stride[0] + 1
        out_w = (width - dilation[1] * (kernel[1] - 1) - 1) // stride[1] + 1
        cols = F.unfold(x, kernel, dilation=dilation, stride=stride)  # [B, C*k, L]
        y = self.tile(cols.transpose(1, 2))  # [B, L, C_out]
        if self.bias is not None:
            y = y + self.bias
        y = y.transpose(1, 2).reshape(batch, self.out_channels, out_h, out_w)
        return y.squeeze(2) if self._spatial_dims == 1 else y

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
