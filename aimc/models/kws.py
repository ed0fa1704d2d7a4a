"""A small recurrent keyword spotter on log-mel frames (for :mod:`aimc.data.keywords`).

Architecture (the scale of the LSTM keyword spotters of Sainath & Parada, Interspeech 2015, and
of the recurrent layers IBM's speech chip runs, Ambrogio et al., Nature 620, 768, 2023)::

    log-mel [B, T, 40] ─(x - mean) / std─▶ LSTM or GRU (64 hidden, 1 layer, batch_first)
        ─▶ h_t [B, T, 64] ─▶ mean over frames (or the last frame) ─▶ Linear 64 → 12

The per-feature normalisation (``mean``, ``std`` buffers, set from training data with
:meth:`KeywordSpotter.set_normalization`) is part of the model, so a stream feeds raw log-mels.
``pooling="mean"`` (default) applies the head to the mean hidden state over the clip; since the
head is linear this equals averaging the per-frame logits, so a streaming runtime can score a
sliding window by averaging :meth:`KeywordSpotter.frame_logits`. ``pooling="last"``
scores the final state only.

On a chip (``aimc.convert``) the LSTM/GRU becomes :class:`~aimc.nn.AnalogLSTM` /
:class:`~aimc.nn.AnalogGRU` (``W_ih``, ``W_hh`` on tiles; gates digital) and the head an
:class:`~aimc.nn.AnalogLinear`; the normalisation and pooling stay digital.

Example:
    >>> import torch
    >>> model = KeywordSpotter()
    >>> model(torch.zeros(2, 98, 40)).shape
    torch.Size([2, 12])
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn

N_MELS = 40
N_CLASSES = 12  # len(aimc.data.keywords.CLASSES): ten keywords, _unknown_, _silence_


class KeywordSpotter(nn.Module):
    """LSTM (or GRU) over log-mel frames, pooled over time, linear head.

    Args:
        n_mels: features per frame.
        hidden: recurrent state size.
        n_classes: output classes.
        cell: ``"lstm"`` or ``"gru"``.
        num_layers: stacked recurrent layers.
        pooling: ``"mean"`` over frames of the per-frame logits, or ``"last"`` frame only.
    """

    def __init__(self, n_mels: int = N_MELS, hidden: int = 64, n_classes: int = N_CLASSES,
                 cell: Literal["lstm", "gru"] = "lstm", num_layers: int = 1,
                 pooling: Literal["mean", "last"] = "mean") -> None:
        super().__init__()
        if cell not in ("lstm", "gru"):
            raise ValueError(f"cell must be 'lstm' or 'gru', got {cell!r}")
        if pooling not in ("mean", "last"):
            raise ValueError(f"pooling must be 'mean' or 'last', got {pooling!r}")
        if min(n_mels, hidden, n_classes, num_layers) < 1:
            raise ValueError("n_mels, hidden, n_classes and num_layers must all be >= 1")
        self.cell, self.pooling = cell, pooling
        rnn_cls = nn.LSTM if cell == "lstm" else nn.GRU
        self.rnn = rnn_cls(n_mels, hidden, num_layers=num_layers, batch_first=True)
        self.head = nn.Linear(hidden, n_classes)
        self.register_buffer("mean", torch.zeros(n_mels))
        self.register_buffer("std", torch.ones(n_mels))

    @torch.no_grad()
    def set_normalization(self, features: torch.Tensor) -> None:
        """Per-mel-band mean and standard deviation from training ``features [N, T, n_mels]``."""
        flat = torch.as_tensor(features, dtype=torch.float32).reshape(-1, self.mean.numel())
        self.mean.copy_(flat.mean(dim=0))
        self.std.copy_(flat.std(dim=0).clamp_min(1e-3))

    def frame_logits(self, x: torch.Tensor, state=None) -> tuple[torch.Tensor, object]:
        """Per-frame logits ``[B, T, n_classes]`` and the recurrent state after the last frame.

        ``state`` is the previous call's state (``None`` = zeros), so a stream can be fed in
        chunks of any length with the same result as one call on the whole sequence.
        """
        if x.dim() != 3 or x.shape[-1] != self.mean.numel():
            raise ValueError(f"expected log-mel frames [batch, time, {self.mean.numel()}], "
                             f"got shape {tuple(x.shape)}")
        out, state = self.rnn((x - self.mean) / self.std, state)
        return self.head(out), state

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class logits ``[B, n_classes]`` of log-mel clips ``[B, T, n_mels]``.

        The head reads the pooled state once per clip (mean of ``h_t``, or the last ``h_t``),
        which equals pooling :meth:`frame_logits` digitally and costs one head read, not ``T``.
        """
        if x.dim() != 3 or x.shape[-1] != self.mean.numel():
            raise ValueError(f"expected log-mel frames [batch, time, {self.mean.numel()}], "
                             f"got shape {tuple(x.shape)}")
        out, _ = self.rnn((x - self.mean) / self.std)
        return self.head(out.mean(dim=1) if self.pooling == "mean" else out[:, -1])


def kws_lstm(hidden: int = 64, **kwargs) -> KeywordSpotter:
    """The default LSTM keyword spotter (40 mels → LSTM 64 → 12 classes, mean-pooled)."""
    return KeywordSpotter(hidden=hidden, cell="lstm", **kwargs)


def kws_gru(hidden: int = 64, **kwargs) -> KeywordSpotter:
    """The GRU variant (40 mels → GRU 64 → 12 classes, mean-pooled)."""
    return KeywordSpotter(hidden=hidden, cell="gru", **kwargs)


__all__ = ["N_CLASSES", "N_MELS", "KeywordSpotter", "kws_gru", "kws_lstm"]
