"""``nn.MultiheadAttention`` with its projection matrices on tiles.

What is analog. The query, key and value projections (``W_q``, ``W_k``, ``W_v``: the three
``[embed_dim, embed_dim]`` blocks of a packed ``in_proj_weight``, or the separate
``q_proj_weight``/``k_proj_weight``/``v_proj_weight`` when ``kdim``/``vdim`` differ) and the output
projection ``out_proj`` each sit on their own :class:`~aimc.tile.Tile`, held by an
:class:`~aimc.nn.AnalogLinear` (``q_proj``, ``k_proj``, ``v_proj``, ``out_proj``). Each token is
one read of each matrix.

What stays digital. The projection biases (added after the ADC, as :class:`~aimc.nn.AnalogLinear`
does), ``bias_k``/``bias_v``, ``add_zero_attn``, the two data-dependent products ``QKᵀ`` and
``AV`` (their operands change with every input, so they are not programmed weights), the
softmax, the masks and the attention dropout.

Semantics are PyTorch's own: after the analog projections the layer calls
``torch.nn.functional.multi_head_attention_forward`` with identity projection matrices (a product
with the identity is exact in floating point), so masks (``key_padding_mask``, ``attn_mask``,
``is_causal``), ``need_weights``, ``average_attn_weights``, ``batch_first``, unbatched inputs
and dropout behave exactly as in ``nn.MultiheadAttention``. With the ``ideal`` chip the outputs
equal PyTorch's up to float32 rounding. The identity products cost digital time in the
simulation only (they model nothing on the chip).

Hardware-aware training (:func:`aimc.training.enable_hwa`): each projection is read through
its hook's per-sequence reader (``layer.hwa.sequence``, as a recurrent layer's matrices are):
one programmed, drifted and compensated chip instance per projection and forward call, and
fresh read noise for every token's vector (before 2026-12-01 one read-noise draw was baked into
the weight for all tokens and the whole batch). :func:`aimc.compile` counts one read per token of
each projection (``q_proj`` and ``out_proj`` per query token, ``k_proj``/``v_proj`` per
key/value token).

``nn.TransformerEncoderLayer`` reads ``self_attn.in_proj_weight`` directly on its inference fast
path; this layer exposes ``in_proj_weight = in_proj_bias = None``, which makes PyTorch take the
regular path (through this module) instead.

Example:
    >>> from aimc.chips import load_chip
    >>> from aimc.nn import program
    >>> mha = AnalogMultiheadAttention.from_digital(nn.MultiheadAttention(8, 2, batch_first=True),
    ...                                             load_chip("ideal"))
    >>> _ = program(mha, seed=0)
    >>> x = torch.randn(3, 5, 8)
    >>> out, weights = mha(x, x, x)
    >>> out.shape, weights.shape
    (torch.Size([3, 5, 8]), torch.Size([3, 5, 5]))
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ..chips import ChipSpec
from .layers import AnalogLinear
from .recurrent import _SequenceReads


class AnalogMultiheadAttention(nn.Module):
    """``nn.MultiheadAttention`` with ``W_q``, ``W_k``, ``W_v`` and ``W_out`` on tiles; ``QKᵀ``,
    softmax and ``AV`` digital. Build it with :meth:`from_digital` (or let :func:`aimc.convert`)."""

    # no digital packed projection here: keeps nn.TransformerEncoderLayer off its fast path,
    # which would read these weights directly instead of calling this module
    in_proj_weight = None
    in_proj_bias = None

    @classmethod
    def from_digital(cls, module: nn.MultiheadAttention, chip: ChipSpec) -> AnalogMultiheadAttention:
        """The analog twin of ``module`` on ``chip`` (tiles unprogrammed)."""
        if not isinstance(module, nn.MultiheadAttention):
            raise TypeError(f"{cls.__name__}.from_digital expects nn.MultiheadAttention, "
                            f"got {type(module).__name__}")
        layer = cls.__new__(cls)
        nn.Module.__init__(layer)
        for name in ("embed_dim", "kdim", "vdim", "num_heads", "dropout", "batch_first", "head_dim",
                     "add_zero_attn", "_qkv_same_embed_dim"):
            setattr(layer, name, getattr(module, name))
        layer.chip = chip
        e = module.embed_dim
        if module._qkv_same_embed_dim:
            weights = module.in_proj_weight.split(e)
        else:
            weights = (module.q_proj_weight, module.k_proj_weight, module.v_proj_weight)
        biases = (None,) * 3 if module.in_proj_bias is None else module.in_proj_bias.split(e)
        layer.q_proj, layer.k_proj, layer.v_proj = (
            AnalogLinear.from_matrix(w, b, chip) for w, b in zip(weights, biases, strict=True))
        layer.out_proj = AnalogLinear.from_digital(module.out_proj, chip)
        for name in ("bias_k", "bias_v"):
            value = getattr(module, name)
            setattr(layer, name, None if value is None else nn.Parameter(value.detach().clone()))
        layer.register_buffer("_eye", torch.eye(e, dtype=module.out_proj.weight.dtype), persistent=False)
        return layer.train(module.training)

    def analog_matrices(self) -> list[nn.Module]:
        return [self.q_proj, self.k_proj, self.v_proj, self.out_proj]

    def report_detail(self) -> str:
        """One line for the conversion report."""
        arrays = sum(math.prod(m.tile.array_grid) for m in self.analog_matrices())
        return f"in/out projections on {arrays} arrays; QKᵀ, softmax, AV digital"

    def forward(self, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor,
                key_padding_mask: torch.Tensor | None = None, need_weights: bool = True,
                attn_mask: torch.Tensor | None = None, average_attn_weights: bool = True,
                is_causal: bool = False) -> tuple[torch.Tensor, torch.Tensor | None]:
        """As ``nn.MultiheadAttention.forward``; returns ``(attn_output, attn_weights)``."""
        return self._run(query, key, value, key_padding_mask, need_weights, attn_mask,
                         average_attn_weights, is_causal, analog=True)

    def digital_forward(self, query, key, value, key_padding_mask=None, need_weights=True,
                        attn_mask=None, average_attn_weights=True, is_causal=False):
        """The exact digital result (the programming targets instead of the tiles)."""
        return self._run(query, key, value, key_padding_mask, need_weights, attn_mask,
                         average_attn_weights, is_causal, analog=False)

    def _run(self, query, key, value, key_padding_mask, need_weights, attn_mask,
             average_attn_weights, is_causal, analog: bool):
        reads = _SequenceReads()  # training with HWA: one chip instance per projection and call

        def project(layer, x):
            return reads(layer, x) if analog else layer.digital_forward(x)

        batched = query.dim() == 3
        q = project(self.q_proj, query)
        k = project(self.k_proj, key)
        v = project(self.v_proj, value)
        if self.batch_first and batched:
            q, k, v = (t.transpose(1, 0) for t in (q, k, v))
        eye = self._eye.to(q.dtype)
        out, weights = F.multi_head_attention_forward(
            q, k, v, self.embed_dim, self.num_heads, None, None, self.bias_k, self.bias_v,
            self.add_zero_attn, self.dropout, eye, None, training=self.training,
            key_padding_mask=key_padding_mask, need_weights=need_weights, attn_mask=attn_mask,
            use_separate_proj_weight=True, q_proj_weight=eye, k_proj_weight=eye, v_proj_weight=eye,
            average_attn_weights=average_attn_weights, is_causal=is_causal)
        out = project(self.out_proj, out)
        if self.batch_first and batched:
            out = out.transpose(1, 0)
        return out, weights

    def extra_repr(self) -> str:
        text = f"embed_dim={self.embed_dim}, num_heads={self.num_heads}, batch_first={self.batch_first}"
        if not self._qkv_same_embed_dim:
            text += f", kdim={self.kdim}, vdim={self.vdim}"
        return text
