"""Mapping a network onto a chip: layers → arrays → cores.

``compile(model, chip, example_input)`` traces the model once on the example input and, for
every weight layer, records its matrix (a convolution as im2col: ``C_in * k * k`` rows by
``C_out`` columns, applied to every output position), how the tile splits it over arrays (the
same split as :class:`aimc.tile.Tile`: rows evenly over arrays, whole kernels per array), the
arrays' utilisation, and which cores hold it. One core holds one array of the chip's size.
Layers the hardware cannot take, or that a policy keeps digital (name patterns), stay digital
with the reason. A chip with reference cells (``chip.reference_cells``, for drift and temperature
calibration: ``aimc.calibration.reference_cells``) keeps that many columns of every array for
them: the weights get the others, which can take more arrays (``LayerMap.reference_columns``).
Optionally the layers that limit a pipelined schedule (most input vectors per
inference per replica) get replicas on the free cores. A model larger than the chip is reported
with the number of chips it needs, never an error.
"""

from __future__ import annotations

import fnmatch
import math
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import torch
from rich.table import Table
from torch import nn

from ..chips import ChipSpec, load_chip
from ..nn.convert import CONVERTERS, unsupported_reason
from ..tile import Tile, split_rows
from .trace import Matrix, trace


@dataclass
class LayerMap:
    """One weight layer of a compiled model."""

    name: str
    kind: str
    analog: bool
    reason: str  # why it stays digital ("" when analog)
    rows: int  # matrix rows (inputs), conv: C_in * k * k
    cols: int  # matrix columns (outputs)
    vectors: int  # matrix-vector products per inference (conv: output positions)
    row_arrays: int = 0
    col_arrays: int = 0
    replicas: int = 1
    cores: list[int] = field(default_factory=list)
    utilization: float = 0.0
    devices: int = 0  # devices per weight (conductance planes of the encoding)
    adc_groups: int = 1  # conversions per column and read (bit slices converted separately)
    fill: float = 0.0  # summed target conductance per weight cell / g_max (read energy)
    recurrent: bool = False  # W_hh, W_hr: the read at step t+1 waits for step t (no replicas)
    lookup: bool = False  # embedding table: each vector is a one-hot read of one row
    group: str = ""  # the recurrent or attention layer that holds the matrix ("" otherwise)
    part: str = ""  # its role there: ih, hh, hr (recurrent); q_proj, k_proj, v_proj, out_proj
    depth: int = 0  # layer index inside a recurrent module
    reverse: bool = False  # reverse direction of a bidirectional recurrent layer
    reference_columns: int = 0  # columns of its arrays taken by reference cells (chip.reference_cells)

    @property
    def macs(self) -> int:
        """Multiply-accumulates per inference (a lookup has none: it reads one row)."""
        return 0 if self.lookup else self.rows * self.cols * self.vectors

    @property
    def arrays(self) -> int:
        """Arrays (cores) used, replicas included."""
        return self.row_arrays * self.col_arrays * self.replicas


@dataclass
class Mapping:
    """The result of :func:`compile`."""

    chip: ChipSpec
    input_shape: tuple[int, ...]
    layers: list[LayerMap]
    tokens: int = 1  # tokens (time steps) per inference: cost per token = per inference / tokens

    @property
    def analog_layers(self) -> list[LayerMap]:
        return [layer for layer in self.layers if layer.analog]

    @property
    def arrays_needed(self) -> int:
        return sum(layer.arrays for layer in self.analog_layers)

    @property
    def chips_needed(self) -> int:
        return max(1, math.ceil(self.arrays_needed / self.chip.cores))

    @property
    def fits(self) -> bool:
        return self.arrays_needed <= self.chip.cores

    @property
    def analog_macs(self) -> int:
        return sum(layer.macs for layer in self.analog_layers)

    @property
    def digital_macs(self) -> int:
        return sum(layer.macs for layer in self.layers if not layer.analog)

    def __rich__(self) -> Table:
        """The mapping of each weight layer, narrow enough for 80 columns; the heading counts
        arrays, cores (one array per core) and chips."""
        chip = self.chip
        size = f"{chip.array.rows}x{chip.array.cols}"
        used = self.arrays_needed
        where = (f"{used} of its {chip.cores} cores, one chip" if self.fits
                 else f"on {self.chips_needed} chips of {chip.cores} cores")
        table = Table(title=f"{chip.name}: {used} arrays ({size}, one per core) {where}")
        if self.tokens > 1:
            table.title += f"; vectors per sequence of {self.tokens} tokens"
        numeric = ("vectors", "arrays", "use")
        for column in ("layer", "type", "matrix", *numeric, "placement"):
            table.add_column(column, justify="right" if column in numeric else "left",
                             no_wrap=column != "placement", overflow="fold")
        for layer in self.layers:
            arrays = f"{layer.row_arrays}x{layer.col_arrays}"
            arrays += f" x{layer.replicas}" if layer.replicas > 1 else ""
            table.add_row(layer.name, layer.kind, f"{layer.rows}x{layer.cols}", str(layer.vectors),
                          arrays if layer.analog else "-",
                          f"{100 * layer.utilization:.0f} %" if layer.analog else "-",
                          "analog" if layer.analog else f"digital: {layer.reason}")
        notes = []
        if any(layer.replicas > 1 for layer in self.layers):
            notes.append("arrays: row x column arrays, x replicas")
        if any(layer.recurrent for layer in self.layers):
            notes.append("recurrent matrices (W_hh, W_hr) are read step after step")
        if chip.reference_cells is not None:
            notes.append(f"reference cells take {chip.reference_cells.columns} columns of every array")
        table.caption = "; ".join(notes) or None
        return table

    def to_dict(self) -> dict:
        return {
            "chip": self.chip.name, "input_shape": list(self.input_shape), "tokens": self.tokens,
            "arrays_needed": self.arrays_needed, "cores": self.chip.cores,
            "chips_needed": self.chips_needed, "fits": self.fits,
            "analog_macs": self.analog_macs, "digital_macs": self.digital_macs,
            "layers": [asdict(layer) | {"macs": layer.macs, "arrays": layer.arrays} for layer in self.layers],
        }


def _conductance_fill(weight: torch.Tensor, spec: ChipSpec) -> tuple[int, int, float]:
    """Devices per weight, ADC groups, and the mean summed conductance of one weight cell over
    ``g_max``, from the layer's own weights encoded as the tile would program them."""
    device = spec.device
    with torch.no_grad():
        w = weight.detach().reshape(weight.shape[0], -1).T.to(torch.float32)
        encoded = spec.encoding.encode(w, device.g_max - device.g_min)
    planes = encoded.g_target
    total = planes.sum().item() + device.g_min * planes.numel()
    return planes.shape[0], encoded.groups, total / (device.g_max * w.numel())


def _replicate(layers: list[LayerMap], free: int) -> None:
    """Give replicas to the pipeline's slowest stage while whole copies fit in ``free`` cores.
    A recurrent matrix gets none: its reads follow one another in time (step ``t+1`` needs step
    ``t``), so a copy cannot take half of them; when it is the slowest stage, replication stops."""
    while True:
        slowest = max(layers, key=lambda layer: (layer.vectors / layer.replicas, layer.recurrent))
        if slowest.recurrent:
            return
        copy = slowest.row_arrays * slowest.col_arrays
        if copy > free or slowest.vectors <= slowest.replicas:
            return
        slowest.replicas += 1
        free -= copy


def _check_patterns(patterns: Sequence[str], layers: list[LayerMap], parents: set[str]) -> None:
    """Each ``digital`` pattern must match a weight matrix's name (fnmatch), the name of the layer
    that holds it (``lstm`` for ``lstm.l0.ih``) or a layer type: a typo would otherwise leave the
    layer analog without a word."""
    names = [layer.name for layer in layers]
    kinds = {layer.kind for layer in layers}
    for p in patterns:
        if p not in kinds and not any(fnmatch.fnmatch(n, p) for n in [*names, *parents]):
            raise ValueError(f"digital pattern {p!r} matches no layer; layers: {', '.join(names)}; "
                             f"types: {', '.join(sorted(kinds))}")


def _reason(matrix: Matrix, patterns: Sequence[str], analog_embeddings: bool) -> str | None:
    """Why ``matrix`` stays digital, or ``None`` when it goes on arrays."""
    module = matrix.module
    if matrix.inside:
        return f"inside {matrix.inside} ({type(module).__name__} there stays digital)"
    if matrix.lookup:
        if not analog_embeddings:
            return "digital lookup; compile(..., analog_embeddings=True) maps it"
        if module.max_norm is not None:
            return "max_norm renormalises the table at lookup; not supported analog"
        reason = None
    else:
        reason = unsupported_reason(module)
    if reason is None and any(fnmatch.fnmatch(matrix.name, p) or fnmatch.fnmatch(matrix.parent, p)
                              or p == matrix.kind for p in patterns):
        reason = "kept digital by policy"
    return reason


def compile(  # noqa: A001 - the name users expect (aimc.compile)
    model: nn.Module,
    chip: ChipSpec | str | None = None,
    example_input: torch.Tensor | tuple[torch.Tensor, ...] | None = None,
    *,
    digital: Sequence[str] = (),
    replicate: bool = False,
    tokens: int | None = None,
    analog_embeddings: bool = False,
) -> Mapping:
    """Map ``model`` onto ``chip``'s arrays and cores.

    Every weight matrix is one :class:`LayerMap`: linear and convolution layers, each ``W_ih``,
    ``W_hh`` and ``W_hr`` of every layer and direction of ``nn.RNN``/``nn.LSTM``/``nn.GRU``
    (``lstm.l0.ih``, ``lstm.l0_reverse.hh``: read once per time step), the ``q_proj``, ``k_proj``,
    ``v_proj`` and ``out_proj`` of ``nn.MultiheadAttention`` (once per query, key, value and query
    token), also inside transformer layers, and layers registered with a
    :class:`aimc.nn.MatrixAdapter` (see :mod:`aimc.compiler.trace`).

    Args:
        model: any digital ``nn.Module`` (before :func:`aimc.convert`); it is run once on
            ``example_input``. A converted model is refused: compile the model it came from.
        chip: a :class:`ChipSpec`, preset name or YAML path (default: IBM PCM preset).
        example_input: one input batch (batch size 1 recommended), e.g. ``torch.zeros(1, 3, 32, 32)``,
            or a tuple of the model's positional inputs.
        digital: layers that stay digital: name patterns (fnmatch, e.g. ``"fc*"``; a recurrent or
            attention layer's own name covers its matrices) or layer types (e.g. ``"Linear"``).
        replicate: copy the layers with the most vectors per inference onto free cores
            (recurrent matrices excepted: their reads are sequential).
        tokens: tokens (time steps) per inference, for the cost per token; default: the time
            steps of the first recurrent or attention layer the example reaches, else the
            indices per sample of the first ``nn.Embedding`` lookup, else 1.
        analog_embeddings: map ``nn.Embedding`` tables as one-hot reads of arrays (one vector per
            looked-up token; padded positions of a zero ``padding_idx`` row are not read), as
            ``aimc.convert(..., analog_embeddings=True)``; default digital.

    Example:
        >>> from aimc.models import mlp
        >>> m = compile(mlp(), "ibm-hermes-pcm", torch.zeros(1, 784))
        >>> m.arrays_needed, m.fits
        (14, True)
        >>> lstm = compile(nn.LSTM(40, 64, batch_first=True), "ibm-hermes-pcm", torch.zeros(1, 98, 40))
        >>> [(layer.name, layer.rows, layer.cols, layer.vectors) for layer in lstm.layers], lstm.tokens
        ([('l0.ih', 40, 256, 98), ('l0.hh', 64, 256, 98)], 98)
    """
    spec = chip if isinstance(chip, ChipSpec) else load_chip(chip or "ibm-hermes-pcm")
    if example_input is None:
        raise ValueError("compile needs an example_input to trace the model's shapes")
    if tokens is not None and (isinstance(tokens, bool) or not isinstance(tokens, int) or tokens < 1):
        raise ValueError(f"tokens must be a positive integer (tokens per inference), got {tokens!r}")
    if any(isinstance(m, Tile) for m in model.modules()):
        raise ValueError("the model is already analog (converted by aimc.convert): compile the digital "
                         "model it came from; the mapping and cost are the same")
    traced = trace(model, example_input)
    if traced.unseen:
        warnings.warn("aimc.compile cannot see the matrices of layers registered with an adapter "
                      "other than MatrixAdapter; left out of the mapping and the cost: "
                      f"{', '.join(traced.unseen)}", UserWarning, stacklevel=2)
    rows_per_array, cols_per_array = spec.array.rows, spec.array.cols
    reference = spec.reference_cells.columns if spec.reference_cells is not None else 0
    if reference >= cols_per_array:
        raise ValueError(f"reference_cells.columns ({reference}) leaves no column of a "
                         f"{cols_per_array}-column "
                         f"array for weights")
    layers: list[LayerMap] = []
    for matrix in traced.matrices.values():
        weight = matrix.weight
        out = weight.shape[0]
        inputs = int(weight[0].numel()) if weight.dim() > 1 else 1
        reason = _reason(matrix, digital, analog_embeddings)
        layer = LayerMap(matrix.name, matrix.kind, reason is None, reason or "", inputs, out,
                         traced.vectors(matrix), recurrent=matrix.recurrent, lookup=matrix.lookup,
                         group=matrix.parent if matrix.part else "", part=matrix.part,
                         depth=matrix.depth, reverse=matrix.reverse)
        if layer.analog:
            granule = math.prod(weight.shape[2:]) if weight.dim() > 2 else 1
            layer.row_arrays, *_ = split_rows(inputs, rows_per_array, granule)
            # reference cells take `reference` columns of every array; weights get the rest
            layer.col_arrays = math.ceil(spec.encoding.columns(out) / (cols_per_array - reference))
            layer.reference_columns = reference * layer.row_arrays * layer.col_arrays
            cells = layer.row_arrays * layer.col_arrays * rows_per_array * cols_per_array
            layer.utilization = inputs * out / cells
            layer.devices, layer.adc_groups, layer.fill = _conductance_fill(weight, spec)
        layers.append(layer)
    _check_patterns(digital, layers, {m.parent for m in traced.matrices.values()})
    analog = [layer for layer in layers if layer.analog]
    if not analog:
        supported = ", ".join(t.__name__ for t in CONVERTERS)
        raise ValueError(f"model has no layer the analog hardware can take (supported: {supported})")
    needed = sum(layer.arrays for layer in analog)
    if replicate and needed < spec.cores:
        _replicate(analog, spec.cores - needed)
    core = 0
    for layer in analog:
        layer.cores = list(range(core, core + layer.arrays))
        core += layer.arrays
    first = example_input[0] if isinstance(example_input, tuple | list) else example_input
    return Mapping(spec, tuple(first.shape), layers, tokens or traced.tokens or 1)
