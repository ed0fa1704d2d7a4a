"""``nn.Embedding`` as a one-hot read of a tile (opt-in: ``aimc.convert(..., analog_embeddings=True)``).

Mapping. The table ``[num_embeddings, dim]`` is programmed as a matrix with ``num_embeddings``
rows (inputs) and ``dim`` columns (outputs): the :class:`~aimc.nn.AnalogLinear` ``table`` holds
``W = table.T`` (``[dim, num_embeddings]``), spread over row arrays as any matrix
(:mod:`aimc.tile`). Looking up token ``i`` is one read with a one-hot input on row ``i``.

Read model. A one-hot input needs no DAC rounding: row ``i`` is driven at full scale (``L``
levels, ``step = 1 / L``) and every other row is idle. Only the array that holds row ``i`` is
read: its column currents ``L * G[i]`` get read noise of variance ``L² σ²[i]`` (plus thermal
and shot noise when the chip has circuit noise), the reference column (offset encoding) is
subtracted, the array's ADCs convert, the ADC groups are combined and the output is rescaled
with the tile's drift compensation, exactly as :meth:`aimc.tile.Tile.forward` does for the
one-hot vector. Rather than a ``num_embeddings``-wide product per token, the layer gathers row
``i`` of the read matrices (``O(dim)`` per token). The other row arrays are not read (a chip
activates only the array that holds the row); with idle arrays that read exactly 0 (no ADC
offset, noise or thermal noise) this equals the one-hot product through the whole tile in
distribution. Every call is a fresh read with fresh noise. The ADC range is the tile's: one
row's current uses ``1 / full_scale`` of it, so a lookup resolves each value to about
``levels / full_scale`` codes at the largest weight of its column (IBM HERMES preset: ~10).

Semantics. ``padding_idx``: PyTorch keeps that row at zero (it gets no gradient), so a padded
position returns exact zeros without a read, as PyTorch users expect; if the padding row was
non-zero at conversion it is read like any other row. ``max_norm`` (renormalising rows of the
table at lookup time, which rewrites the weights) is refused. ``scale_grad_by_freq`` and
``sparse`` concern training gradients of the digital table and are ignored. With the ``ideal``
chip the output equals ``nn.Embedding`` up to float32 rounding.

Training. With hardware-aware training (:func:`aimc.training.enable_hwa`, which reaches the
``table``) a training-mode forward asks the table's hook for its ``lookup``: one programmed,
drifted and compensated chip instance per call, each looked-up row read from it with fresh
noise and through the ADC, and the gradient straight through to ``table.weight``
(:func:`aimc.training.hwa.hwa_lookup`); the tile need not be programmed. Without it the layer
reads its programmed tile in every mode, as :class:`~aimc.nn.AnalogLinear` does (no gradient to
the table).

Example:
    >>> from aimc.chips import load_chip
    >>> from aimc.nn import program
    >>> emb = AnalogEmbedding.from_digital(nn.Embedding(300, 8, padding_idx=0), load_chip("ideal"))
    >>> _ = program(emb, seed=0)
    >>> emb(torch.tensor([[1, 0, 299]])).shape
    torch.Size([1, 3, 8])
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ..chips import ChipSpec
from ..tile import ReadMatrices, _output_major, _output_major_bias
from .layers import AnalogLinear


class AnalogEmbedding(nn.Module):
    """``nn.Embedding`` whose table is read from a tile one row (one-hot input) per token."""

    @classmethod
    def from_digital(cls, module: nn.Embedding, chip: ChipSpec) -> AnalogEmbedding:
        """The analog twin of ``module`` on ``chip`` (tile unprogrammed)."""
        if not isinstance(module, nn.Embedding):
            raise TypeError(f"{cls.__name__}.from_digital expects nn.Embedding, got {type(module).__name__}")
        if module.max_norm is not None:
            raise ValueError(f"nn.Embedding with max_norm={module.max_norm} cannot go analog: it rewrites "
                             "table rows at lookup time; use max_norm=None or keep it digital "
                             "(analog_embeddings=False)")
        layer = cls.__new__(cls)
        nn.Module.__init__(layer)
        layer.num_embeddings, layer.embedding_dim = module.num_embeddings, module.embedding_dim
        layer.padding_idx = module.padding_idx
        layer.chip = chip
        weight = module.weight.detach()
        layer.table = AnalogLinear.from_matrix(weight.T, None, chip)  # [dim, num]: rows = tokens
        # a zero padding row (PyTorch's default) returns exact zeros without a read
        layer._skip_padding = layer.padding_idx is not None and not weight[layer.padding_idx].any().item()
        return layer.train(module.training)

    def analog_matrices(self) -> list[AnalogLinear]:
        return [self.table]

    def report_detail(self) -> str:
        """One line for the conversion report."""
        arrays = math.prod(self.table.tile.array_grid)
        return (f"one-hot read of {self.num_embeddings}x{self.embedding_dim} on {arrays} "
                f"array{'s' * (arrays > 1)}")

    def _check(self, input: torch.Tensor) -> None:
        if not isinstance(input, torch.Tensor) or input.dtype.is_floating_point or input.dtype == torch.bool:
            kind = input.dtype if isinstance(input, torch.Tensor) else type(input).__name__
            raise TypeError(f"AnalogEmbedding expects integer indices, got {kind}")
        if input.numel() and (int(input.min()) < 0 or int(input.max()) >= self.num_embeddings):
            raise IndexError(f"AnalogEmbedding indices must be in [0, {self.num_embeddings - 1}], "
                             f"got [{int(input.min())}, {int(input.max())}]")

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        """Embeddings of ``input`` (integer indices, any shape) → ``[*input.shape, dim]``."""
        self._check(input)
        flat = input.reshape(-1)
        out = torch.zeros(flat.numel(), self.embedding_dim, dtype=torch.float32)
        # (the training path's rows carry a gradient; out[keep] = rows keeps it)
        keep = flat != self.padding_idx if self._skip_padding else None
        index = flat if keep is None else flat[keep]
        if index.numel():
            hwa = getattr(self.table.hwa, "lookup", None) if self.training else None
            rows = self.lookup(index) if hwa is None else hwa(self.table, index, self.padding_idx)
            if keep is None:
                out = rows
            else:
                out[keep] = rows
        return out.view(*input.shape, self.embedding_dim)

    def lookup(self, index: torch.Tensor) -> torch.Tensor:
        """One one-hot read per index (``[N]`` → ``[N, dim]``); see the module docstring."""
        tile = self.table.tile
        # the tile's own output-major view ([arrays, groups*columns, rows]), shared with its reads
        matrices = tile.matrices(_output_major, key="linear", bias_layout=_output_major_bias)
        rows = tile.rows_per_array
        a, r = index // rows, index % rows

        def pick(m: torch.Tensor | None) -> torch.Tensor | None:
            return None if m is None else m[a, :, r]

        picked = ReadMatrices(pick(matrices.w), pick(matrices.var),
                              None if matrices.bias is None else matrices.bias[a], pick(matrices.shot))
        top = tile.dac.full_scale_levels  # the one-hot row at full scale: exact, no rounding
        levels = torch.full((index.numel(), 1), top, dtype=torch.float32)
        codes = tile.combine(tile.read(levels, picked, torch.mul))
        return codes.mul_(tile.output_scale).mul_(1.0 / top)

    def digital_forward(self, input: torch.Tensor) -> torch.Tensor:
        """The exact digital lookup (the programming target)."""
        return F.embedding(input, self.table.weight.T, self.padding_idx)

    def extra_repr(self) -> str:
        text = f"{self.num_embeddings}, {self.embedding_dim}"
        return text + (f", padding_idx={self.padding_idx}" if self.padding_idx is not None else "")
