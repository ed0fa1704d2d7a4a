"""``convert(model, chip)``: put every supported layer of any ``nn.Module`` on analog tiles.

The walk visits the whole module tree (nested, ``Sequential``, ``ModuleDict``, custom modules)
and swaps supported layers for their analog twins; everything else stays digital. The returned
:class:`ConversionReport` lists every weight layer, what it became and why.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

from rich.table import Table
from torch import nn

from ..chips import ChipSpec, load_chip
from ..tile import Tile
from .embedding import AnalogEmbedding
from .layers import AnalogLayer
from .registry import CONVERTERS, adapter_for

# CONVERTERS (layer type -> adapter) lives in .registry; aimc.nn.register_layer extends it.
# Registered types match exactly (a subclass of nn.LSTM stays digital unless registered itself).

# Containers whose children are used through their raw weights (not by calling them):
# swapping a child would silently change nothing, so the whole container stays digital.
_OPAQUE = (nn.MultiheadAttention, nn.RNNBase, nn.Transformer)
_WEIGHT_LAYERS = (nn.modules.conv._ConvNd, nn.Linear, nn.Bilinear, nn.Embedding, nn.EmbeddingBag,
                  nn.RNNBase, nn.MultiheadAttention, nn.LazyLinear)


class UnsupportedLayerError(ValueError):
    """Raised by ``convert(..., strict=True)`` when a weight layer cannot go analog."""


@dataclass
class LayerReport:
    name: str
    kind: str
    analog: bool
    detail: str  # matrix shape and arrays, or the reason it stays digital


@dataclass
class ConversionReport:
    """What :func:`convert` did to each weight layer."""

    chip: str
    layers: list[LayerReport] = field(default_factory=list)

    @property
    def converted(self) -> list[str]:
        """Layers this call put on analog tiles."""
        return [r.name for r in self.layers if r.analog and not r.detail.startswith(ALREADY)]

    @property
    def digital(self) -> list[str]:
        return [r.name for r in self.layers if not r.analog]

    @property
    def already_analog(self) -> list[str]:
        """Analog layers that were in the model before (converted earlier, kept as they are)."""
        return [r.name for r in self.layers if r.analog and r.detail.startswith(ALREADY)]

    def summary(self) -> str:
        """One line: layers converted now, left digital, and found analog already."""
        text = f"convert -> {self.chip}: {len(self.converted)} analog, {len(self.digital)} digital"
        if self.already_analog:
            text += f", {len(self.already_analog)} already analog"
            if not self.converted and not self.digital:
                text += " (the model was converted before; nothing to do)"
        return text

    def __rich__(self) -> Table:
        table = Table(title=self.summary().replace("->", "→"))
        for column in ("layer", "type", "placement", "detail"):
            table.add_column(column)
        for r in self.layers:
            table.add_row(r.name, r.kind, "analog" if r.analog else "digital", r.detail)
        return table

    def __str__(self) -> str:
        lines = [self.summary()]
        lines += [f"  {r.name:<30} {r.kind:<14} {'analog' if r.analog else 'digital':<8} {r.detail}"
                  for r in self.layers]
        return "\n".join(lines)


ALREADY = "already analog"
EMBEDDING_DIGITAL = "digital lookup; convert(..., analog_embeddings=True) maps it"


def _is_analog_module(module: nn.Module) -> bool:
    """An analog module other than a single-tile layer (recurrent, attention): it says itself
    what is analog in it (``report_detail``) and on which ``chip``."""
    return callable(getattr(module, "report_detail", None)) and isinstance(
        getattr(module, "chip", None), ChipSpec)


def _detail(analog: nn.Module) -> str:
    """The report's detail for a module an adapter built."""
    if _is_analog_module(analog):
        return analog.report_detail()
    tiles = [m for m in analog.modules() if isinstance(m, Tile)]
    if len(tiles) == 1:
        tile = tiles[0]
        return (f"{tile.in_features}x{tile.out_features} on "
                f"{tile.array_grid[0]}x{tile.array_grid[1]} arrays")
    arrays = sum(t.array_grid[0] * t.array_grid[1] for t in tiles)
    return f"{len(tiles)} matrices on {arrays} arrays"


def unsupported_reason(module: nn.Module) -> str | None:
    """Why ``module`` (a weight layer) cannot go on analog tiles, or ``None`` when it can; used
    by :func:`convert` and by the compiler's analog/digital partition."""
    if isinstance(module, nn.modules.lazy.LazyModuleMixin) and module.has_uninitialized_params():
        return "lazy layer with uninitialised weights (run one forward first)"
    if isinstance(module, nn.modules.conv._ConvNd):
        if module.transposed:
            return "transposed convolution is not supported"
        if module.groups != 1:
            return f"grouped convolution (groups={module.groups}) is not supported"
    if adapter_for(module) is None:
        return f"{type(module).__name__} has no analog implementation"
    return None


def convert(
    model: nn.Module,
    chip: ChipSpec | str | None = None,
    *,
    strict: bool = False,
    inplace: bool = False,
    analog_embeddings: bool = False,
) -> tuple[nn.Module, ConversionReport]:
    """Replace supported layers (Linear, Conv1d, Conv2d, RNN, LSTM, GRU, MultiheadAttention and
    any registered with :func:`aimc.nn.register_layer`) by analog layers on ``chip``; a recurrent
    layer's input and recurrent matrices go on tiles, its gates and state update stay digital
    (:mod:`aimc.nn.recurrent`); attention's projections go on tiles, QKᵀ, softmax and AV stay
    digital (:mod:`aimc.nn.attention`); ``nn.Embedding`` stays a digital lookup unless
    ``analog_embeddings`` (:mod:`aimc.nn.embedding`).

    Args:
        model: any ``nn.Module``; it is deep-copied unless ``inplace``.
        chip: a :class:`ChipSpec`, a preset name or YAML path; default the IBM PCM preset.
        strict: raise :class:`UnsupportedLayerError` naming every weight layer left digital
            (an embedding kept digital because ``analog_embeddings`` is off is not an error).
        analog_embeddings: put ``nn.Embedding`` tables on tiles, each lookup a one-hot read of
            one row (:class:`aimc.nn.AnalogEmbedding`); by default they stay digital lookups.
            An embedding with ``max_norm`` is refused (ValueError).

    Returns:
        ``(analog_model, report)``. Tiles start unprogrammed: call :func:`aimc.program`.

    Example:
        >>> analog, report = convert(nn.Sequential(nn.Linear(4, 3), nn.ReLU()), "ideal")
        >>> report.converted
        ['0']
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"convert expects an nn.Module, got {type(model).__name__}")
    spec = chip if isinstance(chip, ChipSpec) else load_chip(chip or "ibm-hermes-pcm")
    model = model if inplace else copy.deepcopy(model)
    report = ConversionReport(chip=spec.name)

    def replace(module: nn.Module, name: str) -> nn.Module | None:
        """The module to put in place of ``module`` (None: not a layer, look inside it)."""
        kind = type(module).__name__
        if isinstance(module, AnalogLayer) or _is_analog_module(module):
            chip = module.chip.name
            where = "" if chip == spec.name else f"; kept on {chip}, not re-mapped to {spec.name}"
            report.layers.append(LayerReport(name, kind, True, f"{ALREADY} ({_detail(module)}{where})"))
            return module
        if type(module) is nn.Embedding:
            if not analog_embeddings:
                report.layers.append(LayerReport(name, kind, False, EMBEDDING_DIGITAL))
                return module
            analog = AnalogEmbedding.from_digital(module, spec)
            report.layers.append(LayerReport(name, kind, True, analog.report_detail()))
            return analog
        registered = type(module) in CONVERTERS
        if isinstance(module, _OPAQUE) and not registered:
            report.layers.append(LayerReport(name, kind, False, f"{kind} is not supported"))
            return module
        if not registered and not isinstance(module, _WEIGHT_LAYERS):
            return None
        reason = unsupported_reason(module)
        if reason is not None:
            report.layers.append(LayerReport(name, kind, False, reason))
            return module
        analog = adapter_for(module).from_digital(module, spec)
        report.layers.append(LayerReport(name, kind, True, _detail(analog)))
        return analog

    def visit(parent: nn.Module, prefix: str) -> None:
        for child_name, child in list(parent.named_children()):
            new = replace(child, f"{prefix}{child_name}")
            if new is None:
                visit(child, f"{prefix}{child_name}.")
            elif new is not child:
                setattr(parent, child_name, new)

    root = replace(model, type(model).__name__)
    if root is None:
        visit(model, "")
    else:
        model = root
    for module in model.modules():
        # nn.TransformerEncoder's nested-tensor fast path reads its first layer's weights
        # directly; with analog layers inside it must call them instead
        if isinstance(module, nn.TransformerEncoder) and any(isinstance(m, Tile) for m in module.modules()):
            module.use_nested_tensor = False
    left = [r for r in report.layers if not r.analog and r.detail != EMBEDDING_DIGITAL]
    if strict and left:
        details = "; ".join(f"{r.name} ({r.kind}): {r.detail}" for r in left)
        raise UnsupportedLayerError(f"layers that cannot be converted: {details}")
    return model, report
