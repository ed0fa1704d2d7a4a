"""The layer registry: which PyTorch layer types :func:`aimc.convert` maps, and how.

Every entry pairs a layer class with an *adapter*, an object whose
``from_digital(module, chip)`` returns the analog module that replaces ``module``. The built-in
layers are registered here too (``nn.Linear`` → :class:`~aimc.nn.AnalogLinear`, convolutions,
recurrent layers, ``nn.MultiheadAttention``), so a custom layer goes through exactly the same path.

For the common case, a layer that holds one weight matrix and applies it to the last dimension
of its input, :class:`MatrixAdapter` says how to read the matrix (as ``[out, in]``) and the bias
out of the module; it builds an :class:`~aimc.nn.AnalogLinear` on a tile (bias digital), and an
optional ``wrap`` puts that inside whatever module reproduces the original's input/output layout.

``nn.Embedding`` is not registered: it stays a digital lookup unless
``convert(..., analog_embeddings=True)`` asks for :class:`~aimc.nn.AnalogEmbedding` (one-hot
reads of a tile). :func:`aimc.compile` maps a layer registered with a :class:`MatrixAdapter` too
(its matrix, one vector per input row); a layer registered with another adapter is named in a
warning and left out of the mapping, since compile cannot see its matrices.

Matching is by exact type: a subclass of a registered class is not converted unless it is
registered itself (it may override ``forward``, which the analog twin would silently drop). Only
``nn.Linear``, ``nn.Conv1d`` and ``nn.Conv2d`` also match their subclasses, as they always have.

Example (the ``Conv1D`` of Hugging Face GPT-2 code stores ``weight`` as ``[in, out]`` and
computes ``x @ W + b``):
    >>> import torch
    >>> from torch import nn
    >>> import aimc
    >>> class Conv1D(nn.Module):
    ...     def __init__(self, nf, nx):
    ...         super().__init__()
    ...         self.weight = nn.Parameter(torch.randn(nx, nf) * 0.02)
    ...         self.bias = nn.Parameter(torch.zeros(nf))
    ...     def forward(self, x):
    ...         return (x.reshape(-1, x.shape[-1]) @ self.weight + self.bias).view(*x.shape[:-1], -1)
    >>> aimc.nn.register_layer(Conv1D, aimc.nn.MatrixAdapter(weight=lambda m: m.weight.T))
    >>> analog, report = aimc.convert(nn.Sequential(Conv1D(6, 4)), "ideal")
    >>> type(analog[0]).__name__, report.converted
    ('AnalogLinear', ['0'])
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from ..chips import ChipSpec
from .attention import AnalogMultiheadAttention
from .layers import AnalogConv1d, AnalogConv2d, AnalogLinear
from .recurrent import AnalogGRU, AnalogLSTM, AnalogRNN

# layer type -> adapter (anything with ``from_digital(module, chip)``); read by convert
CONVERTERS: dict[type[nn.Module], Any] = {}
# registered types whose subclasses also match (the historical behaviour of these built-ins)
_MATCH_SUBCLASSES: list[type[nn.Module]] = []


def _default_bias(module: nn.Module) -> torch.Tensor | None:
    return getattr(module, "bias", None)


@dataclass(frozen=True)
class MatrixAdapter:
    """Adapter for a layer that applies one weight matrix (and a bias) to its input's last dim.

    Args:
        weight: ``module -> Tensor [out, in]``, the matrix as ``nn.Linear`` stores it
            (``lambda m: m.weight.T`` for a layer that stores ``[in, out]``).
        bias: ``module -> Tensor [out] | None``; default ``module.bias`` when it exists.
        wrap: ``(analog_linear, module) -> nn.Module``, to reproduce a layout other than
            ``[..., in] -> [..., out]``; default: the :class:`AnalogLinear` itself.
    """

    weight: Callable[[nn.Module], torch.Tensor]
    bias: Callable[[nn.Module], torch.Tensor | None] = _default_bias
    wrap: Callable[[AnalogLinear, nn.Module], nn.Module] | None = None

    def __post_init__(self) -> None:
        for name in ("weight", "bias"):
            if not callable(getattr(self, name)):
                raise TypeError(f"MatrixAdapter.{name} must be a function of the module, "
                                f"got {type(getattr(self, name)).__name__}")
        if self.wrap is not None and not callable(self.wrap):
            raise TypeError(f"MatrixAdapter.wrap must be callable or None, got {type(self.wrap).__name__}")

    def from_digital(self, module: nn.Module, chip: ChipSpec) -> nn.Module:
        weight, bias = self.weight(module), self.bias(module)
        kind = type(module).__name__
        if not isinstance(weight, torch.Tensor) or weight.dim() != 2:
            got = tuple(weight.shape) if isinstance(weight, torch.Tensor) else type(weight).__name__
            raise ValueError(f"the adapter of {kind} must return a 2-D weight [out, in], got {got}")
        if bias is not None and (not isinstance(bias, torch.Tensor) or bias.shape != weight.shape[:1]):
            raise ValueError(f"the adapter of {kind} must return a bias of shape [{weight.shape[0]}] "
                             f"or None, got {getattr(bias, 'shape', type(bias).__name__)}")
        layer = AnalogLinear.from_matrix(weight, bias, chip)
        return layer if self.wrap is None else self.wrap(layer, module)


def register_layer(cls: type[nn.Module], adapter: Any, *, replace: bool = False) -> None:
    """Teach :func:`aimc.convert` to put layers of type ``cls`` on tiles.

    Args:
        cls: an ``nn.Module`` subclass; only modules of exactly this type match.
        adapter: a :class:`MatrixAdapter`, or any object (or class) with a
            ``from_digital(module, chip) -> nn.Module`` that builds the analog twin.
        replace: allow replacing an existing registration (otherwise refused).

    Example: see the module docstring (:mod:`aimc.nn.registry`), which registers GPT-2's ``Conv1D``.
    """
    if not isinstance(cls, type) or not issubclass(cls, nn.Module):
        raise TypeError(f"register_layer expects an nn.Module subclass, got {cls!r}")
    if not callable(getattr(adapter, "from_digital", None)):
        raise TypeError(f"the adapter for {cls.__name__} must be a MatrixAdapter or have a "
                        f"from_digital(module, chip) method, got {type(adapter).__name__}")
    if cls in CONVERTERS and not replace and CONVERTERS[cls] is not adapter:
        raise ValueError(f"{cls.__name__} is registered already (pass replace=True to override)")
    CONVERTERS[cls] = adapter


def unregister_layer(cls: type[nn.Module]) -> None:
    """Forget a registration (the layer stays digital again)."""
    CONVERTERS.pop(cls, None)
    if cls in _MATCH_SUBCLASSES:
        _MATCH_SUBCLASSES.remove(cls)


def adapter_for(module: nn.Module) -> Any | None:
    """The adapter that converts ``module``, or ``None``."""
    adapter = CONVERTERS.get(type(module))
    if adapter is None:
        adapter = next((CONVERTERS[t] for t in _MATCH_SUBCLASSES
                        if t in CONVERTERS and isinstance(module, t)), None)
    return adapter


for _cls, _analog in ((nn.Linear, AnalogLinear), (nn.Conv1d, AnalogConv1d), (nn.Conv2d, AnalogConv2d)):
    register_layer(_cls, _analog)
    _MATCH_SUBCLASSES.append(_cls)
for _cls, _analog in ((nn.RNN, AnalogRNN), (nn.LSTM, AnalogLSTM), (nn.GRU, AnalogGRU),
                      (nn.MultiheadAttention, AnalogMultiheadAttention)):
    register_layer(_cls, _analog)
