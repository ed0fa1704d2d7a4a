"""Tracing a model once to find its weight matrices and how often each is read per inference.

:func:`trace` walks the module tree as :func:`aimc.convert` does (it stops at every layer that
holds weights and looks inside everything else), hooks each such layer, runs the model once on
the example input and records, for every matrix, the number of input vectors it multiplies:

* ``nn.Linear``: one vector per input row (``numel / in_features``); a convolution: one per
  output position (im2col).
* ``nn.RNN``/``nn.LSTM``/``nn.GRU``: every layer and direction holds ``W_ih``, ``W_hh`` and, with
  ``proj_size``, ``W_hr``, each its own matrix named as :class:`aimc.nn.AnalogLSTM` names its
  tiles without the ``cells`` level (``lstm.l0.ih``, ``lstm.l0_reverse.hh``, ``lstm.l1.hr``). Each
  is read once per time step (:mod:`aimc.nn.recurrent`): ``T`` vectors per sequence. ``W_hh`` and
  ``W_hr`` are *recurrent*: the read at step ``t+1`` needs the state of step ``t``.
* ``nn.MultiheadAttention``: ``q_proj``, ``k_proj``, ``v_proj`` and ``out_proj`` (packed
  ``in_proj_weight`` or separate ``q/k/v_proj_weight`` with ``kdim``/``vdim``), read once per
  token: ``q_proj`` and ``out_proj`` per query token, ``k_proj`` per key token, ``v_proj`` per value
  token. ``QKᵀ`` and ``AV`` are not programmed matrices (:mod:`aimc.nn.attention`).
* ``nn.TransformerEncoderLayer``/``DecoderLayer``: their attention and linear layers as above
  (the trace keeps PyTorch off its fused inference path so that every sub-layer is called).
* A layer registered with :func:`aimc.nn.register_layer` and a :class:`~aimc.nn.MatrixAdapter`:
  the adapter's matrix, one vector per input row (its first argument's ``numel / in``).
* ``nn.Embedding``: its table ``[num_embeddings, dim]`` as a matrix with ``num_embeddings`` rows
  (inputs) and ``dim`` columns, one vector (a one-hot read) per looked-up index, padded positions
  (``padding_idx``) excepted when the padding row is zero: :class:`aimc.nn.AnalogEmbedding`
  returns zeros there without a read (an example made of padding indices therefore counts few
  lookups). An index without a batch dimension in a batched model (GPT's ``wpe(pos)`` with
  ``pos`` of shape ``[T]``, broadcast over the batch) counts per sample: a 1-D index when the
  batch is above 1 and the index's length differs from the batch or an earlier lookup had a
  batch dimension (a 1-D index as long as the batch before any batched lookup is taken as one
  index per sample).

Counts are per sample: totals over the example batch divided by the batch size, taken from the
first sequence layer (its own ``batch_first`` layout) when the model has one, else from the
example's first dimension. A layer called several times (weight sharing, a loop over steps)
accumulates its vectors. The *tokens* of the example are the time steps (query tokens) of the
first sequence layer (recurrent or attention) the data reaches; in a model without one (a
decoder that computes attention with ``F.scaled_dot_product_attention``), the indices per
sample of its first ``nn.Embedding`` lookup; else unknown (``None``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import nn
from torch.nn.utils.rnn import PackedSequence

from ..nn.registry import CONVERTERS, MatrixAdapter, adapter_for

# containers convert keeps digital as a whole (their children are read through raw weights)
OPAQUE = (nn.Transformer,)


@dataclass
class Matrix:
    """One weight matrix found by :func:`trace`."""

    name: str
    kind: str  # type name of the layer that holds it (LSTM, MultiheadAttention, Linear, ...)
    module: nn.Module  # that layer
    parent: str  # that layer's name
    weight: torch.Tensor  # [out, in] (a convolution: [out, in, *kernel])
    total: int = 0  # vectors over the whole example batch
    recurrent: bool = False  # read at step t+1 only after step t (W_hh, W_hr)
    lookup: bool = False  # an embedding table: one-hot reads
    inside: str = ""  # name of an opaque container that keeps it digital
    part: str = ""  # role in a recurrent (ih, hh, hr) or attention (q_proj, ..., out_proj) layer
    depth: int = 0  # layer index inside a recurrent module
    reverse: bool = False  # the reverse direction of a bidirectional recurrent layer
    per_sample: int = 0  # vectors counted per sample already (a broadcast embedding index)


@dataclass
class Trace:
    """What :func:`trace` found: the matrices in call order, the batch and the tokens."""

    matrices: dict[str, Matrix]
    batch: int
    tokens: int | None  # time steps of the first sequence layer (or embedding lookups per sample)
    unseen: list[str] = field(default_factory=list)  # registered layers whose matrices are hidden

    def vectors(self, matrix: Matrix) -> int:
        """Vectors per sample."""
        return max(1, matrix.total // self.batch + matrix.per_sample)


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def _first(args: tuple, kwargs: dict, key: str, index: int = 0):
    return args[index] if len(args) > index else kwargs[key]


def _rnn_matrices(module: nn.RNNBase, name: str) -> list[Matrix]:
    kind = type(module).__name__
    out = []
    for k in range(module.num_layers):
        for suffix in ("", "_reverse")[: 2 if module.bidirectional else 1]:
            for part, recurrent in (("ih", False), ("hh", True), ("hr", True)):
                weight = getattr(module, f"weight_{part}_l{k}{suffix}", None)
                if weight is not None:
                    out.append(Matrix(_join(name, f"l{k}{suffix}.{part}"), kind, module, name,
                                      weight.detach(), recurrent=recurrent, part=part, depth=k,
                                      reverse=bool(suffix)))
    return out


def _mha_matrices(module: nn.MultiheadAttention, name: str) -> list[Matrix]:
    kind = type(module).__name__
    if module._qkv_same_embed_dim:
        qkv = module.in_proj_weight.detach().split(module.embed_dim)
    else:
        qkv = (module.q_proj_weight, module.k_proj_weight, module.v_proj_weight)
    weights = (*qkv, module.out_proj.weight)
    return [Matrix(_join(name, part), kind, module, name, w.detach(), part=part)
            for part, w in zip(("q_proj", "k_proj", "v_proj", "out_proj"), weights, strict=True)]


class _Tracer:
    def __init__(self, model: nn.Module) -> None:
        self.matrices: dict[str, Matrix] = {}
        self.hooks: list = []
        self.sequence: tuple[int, int] | None = None  # (steps, batch) of the first sequence layer
        self.lookups: int | None = None  # indices per sample of the first embedding lookup
        self.lookup_calls: list[tuple[Matrix, int, int, int]] = []  # (matrix, reads, dim, length)
        self.unseen: list[str] = []
        self.saved: list[tuple[nn.Module, bool]] = []
        self.seen: set[int] = set()
        self.visit(model, "", "")

    def add(self, matrices: list[Matrix]) -> None:
        for m in matrices:
            self.matrices.setdefault(m.name, m)

    def count(self, matrix: Matrix, total: int) -> None:
        self.add([matrix])
        self.matrices[matrix.name].total += total

    def seen_sequence(self, steps: int, batch: int) -> None:
        if self.sequence is None:
            self.sequence = (steps, batch)

    def hook(self, module: nn.Module, fn: Callable) -> None:
        self.hooks.append(module.register_forward_hook(fn, with_kwargs=True))

    def visit(self, module: nn.Module, name: str, inside: str) -> None:
        if id(module) in self.seen:  # a module registered twice is hooked (and counted) once
            return
        self.seen.add(id(module))
        if self.layer(module, name, inside):
            return
        if isinstance(module, nn.TransformerEncoderLayer):
            # any hook on the layer keeps PyTorch off the fused fast path, which would bypass
            # the attention and linear modules (and so these hooks)
            self.hooks.append(module.register_forward_pre_hook(lambda mod, args: None))
        if isinstance(module, nn.TransformerEncoder):
            self.saved.append((module, module.use_nested_tensor))
            module.use_nested_tensor = False
        if isinstance(module, OPAQUE) and type(module) not in CONVERTERS:
            inside = inside or name or type(module).__name__
        for child_name, child in module.named_children():
            self.visit(child, _join(name, child_name), inside)

    def layer(self, module: nn.Module, name: str, inside: str) -> bool:
        """Hook ``module`` if it is a weight layer; True when the walk stops here."""
        adapter = adapter_for(module)
        kind = type(module).__name__
        if isinstance(adapter, MatrixAdapter):
            weight = adapter.weight(module).detach()
            matrix = Matrix(name, kind, module, name, weight, inside=inside)
            self.hook(module, lambda mod, args, kwargs, out: self.count(
                matrix, _first(args, kwargs, "input").numel() // weight.shape[1]))
        elif isinstance(module, nn.Linear):
            matrix = Matrix(name, kind, module, name, module.weight.detach(), inside=inside)
            self.hook(module, lambda mod, args, kwargs, out: self.count(
                matrix, _first(args, kwargs, "input").numel() // mod.in_features))
        elif isinstance(module, nn.modules.conv._ConvNd):
            matrix = Matrix(name, kind, module, name, module.weight.detach(), inside=inside)
            self.hook(module, lambda mod, args, kwargs, out: self.count(
                matrix, out.numel() // mod.out_channels))
        elif isinstance(module, nn.RNNBase):
            matrices = _rnn_matrices(module, name)
            for m in matrices:
                m.inside = inside
            self.hook(module, lambda mod, args, kwargs, out: self._rnn(mod, args, kwargs, matrices))
        elif isinstance(module, nn.MultiheadAttention):
            matrices = _mha_matrices(module, name)
            for m in matrices:
                m.inside = inside
            self.hook(module, lambda mod, args, kwargs, out: self._mha(mod, args, kwargs, matrices))
        elif isinstance(module, nn.Embedding):
            matrix = Matrix(name, kind, module, name, module.weight.detach().T, lookup=True, inside=inside)
            self.hook(module, lambda mod, args, kwargs, out: self._lookup(
                matrix, _first(args, kwargs, "input")))
        elif type(module) in CONVERTERS:
            self.unseen.append(f"{name or kind} ({kind})")
        else:
            return False
        return True

    def _lookup(self, matrix: Matrix, index: torch.Tensor) -> None:
        if self.lookups is None:  # tokens per sample of the first lookup: [B, T] or [T]
            self.lookups = index.numel() // (index.shape[0] if index.dim() > 1 else 1)
        padding = matrix.module.padding_idx
        reads = index.numel()
        weight = matrix.module.weight
        if padding is not None and not index.is_meta and (weight.is_meta or not weight[padding].any()):
            reads -= int((index == padding).sum())  # a zero padding row is not read (meta: zero)
        self.add([matrix])
        self.lookup_calls.append((self.matrices[matrix.name], reads, index.dim(),
                                  int(index.shape[0]) if index.dim() else 1))

    def settle_lookups(self, batch: int) -> None:
        """Add the lookups to their tables once the batch is known: an index without a batch
        dimension (see the module docstring) counts per sample."""
        batched = False
        for matrix, reads, dim, length in self.lookup_calls:
            if dim == 1 and batch > 1 and (length != batch or batched):
                matrix.per_sample += reads
            else:
                matrix.total += reads
            batched = batched or dim > 1

    def _rnn(self, mod: nn.RNNBase, args, kwargs, matrices: list[Matrix]) -> None:
        x = _first(args, kwargs, "input")
        if isinstance(x, PackedSequence):
            steps, batch, total = len(x.batch_sizes), int(x.batch_sizes[0]), x.data.shape[0]
        elif x.dim() == 2:  # unbatched [T, F]
            steps, batch, total = x.shape[0], 1, x.shape[0]
        else:
            steps, batch = (x.shape[1], x.shape[0]) if mod.batch_first else x.shape[:2]
            total = steps * batch
        self.seen_sequence(int(steps), int(batch))
        for m in matrices:
            self.count(m, int(total))

    def _mha(self, mod: nn.MultiheadAttention, args, kwargs, matrices: list[Matrix]) -> None:
        query, key, value = (_first(args, kwargs, k, i) for i, k in enumerate(("query", "key", "value")))
        if query.dim() == 3:
            batch = query.shape[0] if mod.batch_first else query.shape[1]
        else:
            batch = 1
        queries = query.numel() // mod.embed_dim
        self.seen_sequence(queries // batch, int(batch))
        q, k, v, o = matrices
        for m, total in ((q, queries), (k, key.numel() // mod.kdim), (v, value.numel() // mod.vdim),
                         (o, queries)):
            self.count(m, int(total))

    def close(self) -> None:
        for h in self.hooks:
            h.remove()
        for module, value in self.saved:
            module.use_nested_tensor = value


def trace(model: nn.Module, example: torch.Tensor | tuple[torch.Tensor, ...]) -> Trace:
    """Run ``model`` once (eval mode, no gradients) on ``example`` (a tensor, or a tuple of the
    model's positional inputs) and return its weight matrices with their vectors per sample."""
    tracer = _Tracer(model)
    args = tuple(example) if isinstance(example, tuple | list) else (example,)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            model(*args)
    finally:
        model.train(was_training)
        tracer.close()
    first = args[0]
    if tracer.sequence is not None:
        tokens, batch = tracer.sequence
    else:
        tokens, batch = tracer.lookups, first.shape[0] if first.dim() > 1 else 1
    tracer.settle_lookups(max(1, batch))
    return Trace(tracer.matrices, max(1, batch), tokens, tracer.unseen)
