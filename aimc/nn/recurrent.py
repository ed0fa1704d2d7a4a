"""Recurrent layers (``nn.RNN``, ``nn.LSTM``, ``nn.GRU``) with their weight matrices on tiles.

What is analog. For every layer and direction, the input matrix ``W_ih`` (all gates stacked,
``[gates*hidden, input]``) and the recurrent matrix ``W_hh`` (``[gates*hidden, hidden]``) each sit
on their own :class:`~aimc.tile.Tile`, held by an :class:`~aimc.nn.AnalogLinear` (``ih``, ``hh``);
an LSTM with ``proj_size`` also has its projection ``W_hr`` on a tile (``hr``).

What stays digital. The biases (added after the ADC, as :class:`~aimc.nn.AnalogLinear` does: ``b_ih``
to the input read, ``b_hh`` to the recurrent read, so a GRU's ``r * (W_hn h + b_hn)`` is exact),
the gate non-linearities (sigmoid, tanh, relu), the cell and state updates, the reversal of a
backward direction and the dropout between layers (training only), as on the chips that run
LSTMs (the IBM speech chip computes its gates in digital periphery).

Read model. The input projection does not depend on the state, so it is read for all time
steps in one batched tile call (still one read per input vector, each with fresh noise). The
recurrent matrix is read once per time step with the current state: each step is a fresh read
with its own noise, and the state carries that noise into every later step, as on a chip.

Hardware-aware training (:func:`aimc.training.enable_hwa`) draws each matrix's programmed and
drifted chip instance once per forward call (one sequence) and reuses it at every time step,
each step a fresh read with its own read noise, as on a chip (see :class:`_SequenceReads`).

Semantics follow PyTorch exactly: ``num_layers``, ``bidirectional``, ``batch_first``, ``bias``,
``dropout``, ``proj_size``, ``nonlinearity`` (RNN), optional initial state ``hx`` (``(h0, c0)``
for an LSTM), unbatched 2-D input; the return value is ``(output, h_n)`` or
``(output, (h_n, c_n))``. With the ``ideal`` chip the outputs equal PyTorch's up to float32
rounding. ``PackedSequence`` input is not supported yet (pad the sequences instead).

Example:
    >>> from aimc.chips import load_chip
    >>> lstm = AnalogLSTM.from_digital(nn.LSTM(8, 16, batch_first=True), load_chip("ideal"))
    >>> from aimc.nn import program
    >>> _ = program(lstm, seed=0)
    >>> out, (h, c) = lstm(torch.randn(2, 5, 8))
    >>> out.shape, h.shape
    (torch.Size([2, 5, 16]), torch.Size([1, 2, 16]))
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.rnn import PackedSequence

from ..chips import ChipSpec
from .layers import AnalogLinear


class _Cell(nn.Module):
    """The matrices of one layer and direction: ``ih`` and ``hh`` (and ``hr`` with a projection)."""

    def __init__(self, ih: AnalogLinear, hh: AnalogLinear, hr: AnalogLinear | None) -> None:
        super().__init__()
        self.ih, self.hh, self.hr = ih, hh, hr


class AnalogRNNBase(nn.Module):
    """Shared forward of :class:`AnalogRNN`, :class:`AnalogLSTM` and :class:`AnalogGRU`.

    ``cells["l{k}"]`` (and ``cells["l{k}_reverse"]``) hold the analog matrices of layer ``k``,
    named as PyTorch names the weights (``weight_ih_l0_reverse`` → ``cells.l0_reverse.ih``).
    """

    _torch_cls: type[nn.RNNBase]
    gates: int

    def __init__(self, *args, chip: ChipSpec, **kwargs) -> None:
        """Build the PyTorch layer with ``args``/``kwargs`` (its initialisation) and map it."""
        super().__init__()
        self._setup(self._torch_cls(*args, **kwargs), chip)

    @classmethod
    def from_digital(cls, module: nn.RNNBase, chip: ChipSpec) -> AnalogRNNBase:
        """The analog twin of a PyTorch ``module`` on ``chip`` (tiles unprogrammed)."""
        if not isinstance(module, cls._torch_cls):
            raise TypeError(f"{cls.__name__}.from_digital expects nn.{cls._torch_cls.__name__}, "
                            f"got {type(module).__name__}")
        layer = cls.__new__(cls)
        nn.Module.__init__(layer)
        layer._setup(module, chip)
        return layer

    def _setup(self, module: nn.RNNBase, chip: ChipSpec) -> None:
        for name in ("mode", "input_size", "hidden_size", "num_layers", "bias", "batch_first",
                     "dropout", "bidirectional", "proj_size"):
            setattr(self, name, getattr(module, name))
        self.chip = chip
        self.directions = 2 if self.bidirectional else 1
        self.cells = nn.ModuleDict()
        for k in range(self.num_layers):
            for suffix in ("", "_reverse")[:self.directions]:
                def param(kind: str, k: int = k, suffix: str = suffix) -> torch.Tensor | None:
                    return getattr(module, f"{kind}_l{k}{suffix}", None)
                ih = AnalogLinear.from_matrix(param("weight_ih"), param("bias_ih"), chip)
                hh = AnalogLinear.from_matrix(param("weight_hh"), param("bias_hh"), chip)
                hr = None if not self.proj_size else AnalogLinear.from_matrix(param("weight_hr"), None, chip)
                self.cells[f"l{k}{suffix}"] = _Cell(ih, hh, hr)

    @property
    def hidden_out(self) -> int:
        """Size of ``h`` (``proj_size`` when an LSTM projects, else ``hidden_size``)."""
        return self.proj_size or self.hidden_size

    def analog_matrices(self) -> list[AnalogLinear]:
        """Every analog matrix of this layer, in PyTorch's parameter order."""
        return [m for cell in self.cells.values() for m in (cell.ih, cell.hh, cell.hr) if m is not None]

    def report_detail(self) -> str:
        """One line for the conversion report: what went analog and what stays digital."""
        names = "W_ih, W_hh, W_hr" if self.proj_size else "W_ih, W_hh"
        arrays = sum(math.prod(m.tile.array_grid) for m in self.analog_matrices())
        shape = f"{self.num_layers} layer{'s' * (self.num_layers > 1)} x {self.directions} dir"
        return f"{names} on {arrays} arrays ({shape}); gates, state update digital"

    # ------------------------------------------------------------------ forward
    def _step(self, cell: _Cell, gx: torch.Tensor, h: torch.Tensor, c: torch.Tensor | None,
              linear) -> tuple[torch.Tensor, torch.Tensor | None]:
        raise NotImplementedError

    def _initial_state(self, hx, batch: int, unbatched: bool, like: torch.Tensor):
        """``(h0, c0)`` as ``[layers*dirs, batch, ...]`` (``c0`` None except for an LSTM)."""
        lstm = self.gates == 4
        n = self.num_layers * self.directions
        if hx is None:
            h0 = like.new_zeros(n, batch, self.hidden_out)
            return h0, like.new_zeros(n, batch, self.hidden_size) if lstm else None
        if lstm:
            if not (isinstance(hx, tuple | list) and len(hx) == 2):
                raise TypeError("AnalogLSTM expects hx as a tuple (h0, c0)")
            h0, c0 = hx
        else:
            if not isinstance(hx, torch.Tensor):
                raise TypeError(f"{type(self).__name__} expects hx as a tensor, got {type(hx).__name__}")
            h0, c0 = hx, None
        states = [("h0", h0, self.hidden_out)] + ([("c0", c0, self.hidden_size)] if lstm else [])
        out = []
        for name, state, size in states:
            expected = (n, size) if unbatched else (n, batch, size)
            if tuple(state.shape) != expected:
                raise ValueError(f"{type(self).__name__}: {name} must have shape {expected}, "
                                 f"got {tuple(state.shape)}")
            out.append(state.unsqueeze(1) if unbatched else state)
        return out[0], (out[1] if lstm else None)

    def forward(self, input: torch.Tensor, hx=None):
        """PyTorch's forward (see the module docstring); analog matrix reads, digital gates."""
        return self._run(input, hx, analog=True)

    def digital_forward(self, input: torch.Tensor, hx=None):
        """The exact digital result of this layer (the same loop with digital matrices)."""
        return self._run(input, hx, analog=False)

    def _run(self, input: torch.Tensor, hx, analog: bool):
        if isinstance(input, PackedSequence):
            raise TypeError(f"{type(self).__name__} does not support PackedSequence input yet: pad "
                            "the sequences (torch.nn.utils.rnn.pad_packed_sequence) and pass a tensor")
        if not isinstance(input, torch.Tensor) or input.dim() not in (2, 3):
            shape = tuple(input.shape) if isinstance(input, torch.Tensor) else type(input).__name__
            raise ValueError(f"{type(self).__name__} expects a 3-D (batched) or 2-D (unbatched) input, "
                             f"got {shape}")
        if input.shape[-1] != self.input_size:
            raise ValueError(f"{type(self).__name__} expects {self.input_size} input features, "
                             f"got {input.shape[-1]}")
        unbatched = input.dim() == 2
        x = input.unsqueeze(1) if unbatched else (input.transpose(0, 1) if self.batch_first else input)
        steps, batch = x.shape[:2]
        h0, c0 = self._initial_state(hx, batch, unbatched, x)

        linear = _SequenceReads() if analog else _digital

        h_n, c_n = [], []
        for k in range(self.num_layers):
            outputs = []
            for d in range(self.directions):
                index = k * self.directions + d
                cell = self.cells[f"l{k}{'_reverse' if d else ''}"]
                gx = linear(cell.ih, x)  # all time steps in one call: one read per (t, b)
                h, c = h0[index], None if c0 is None else c0[index]
                out: list[torch.Tensor] = [h] * steps
                for t in (range(steps - 1, -1, -1) if d else range(steps)):
                    h, c = self._step(cell, gx[t], h, c, linear)  # one recurrent read per step
                    out[t] = h
                outputs.append(torch.stack(out))
                h_n.append(h)
                c_n.append(c)
            x = torch.cat(outputs, dim=-1) if self.directions > 1 else outputs[0]
            if k < self.num_layers - 1 and self.dropout and self.training:
                x = F.dropout(x, self.dropout, training=True)
        output = x.squeeze(1) if unbatched else (x.transpose(0, 1) if self.batch_first else x)
        h_n = torch.stack(h_n)
        h_n = h_n.squeeze(1) if unbatched else h_n
        if self.gates != 4:
            return output, h_n
        c_n = torch.stack(c_n)
        return output, (h_n, c_n.squeeze(1) if unbatched else c_n)

    def extra_repr(self) -> str:
        text = f"{self.input_size}, {self.hidden_size}, num_layers={self.num_layers}"
        for name, default in (("bias", True), ("batch_first", False), ("dropout", 0.0),
                              ("bidirectional", False), ("proj_size", 0)):
            if getattr(self, name) != default:
                text += f", {name}={getattr(self, name)}"
        return text


def _digital(layer: AnalogLinear, v: torch.Tensor) -> torch.Tensor:
    return layer.digital_forward(v)


class _SequenceReads:
    """The analog matrix reads of one forward call (one sequence).

    In hardware-aware training a layer's hook (``layer.hwa``) may offer ``sequence(layer)``: a
    training forward bound to one programmed chip instance. It is asked once per matrix and
    sequence and serves every time step, with fresh read noise per read, as one programmed array
    serves a whole sequence on a chip (:mod:`aimc.training.hwa`); without it, the layer's own
    forward runs at every call. Duck-typed: ``aimc.nn`` does not import the training package.
    """

    def __init__(self) -> None:
        self.readers: dict[int, object] = {}

    def __call__(self, layer: AnalogLinear, v: torch.Tensor) -> torch.Tensor:
        sequence = getattr(layer.hwa, "sequence", None) if layer.training else None
        if sequence is None:
            return layer(v)
        read = self.readers.get(id(layer))
        if read is None:
            read = self.readers[id(layer)] = sequence(layer)
        return read(v.reshape(-1, layer.in_features)).view(*v.shape[:-1], layer.out_features)


class AnalogRNN(AnalogRNNBase):
    """``nn.RNN`` on tiles: ``h_t = act(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)`` with both
    matrices analog (``act`` tanh or relu, digital)."""

    _torch_cls = nn.RNN
    gates = 1

    def _step(self, cell, gx, h, c, linear):
        pre = gx + linear(cell.hh, h)
        return (torch.tanh(pre) if self.mode == "RNN_TANH" else torch.relu(pre)), None

    def extra_repr(self) -> str:
        text = super().extra_repr()
        return text + (", nonlinearity='relu'" if self.mode == "RNN_RELU" else "")


class AnalogLSTM(AnalogRNNBase):
    """``nn.LSTM`` on tiles: the four gates' input and recurrent matrices (and ``W_hr`` with
    ``proj_size``) analog; sigmoid/tanh gates and the cell update digital."""

    _torch_cls = nn.LSTM
    gates = 4

    def _step(self, cell, gx, h, c, linear):
        i, f, g, o = (gx + linear(cell.hh, h)).chunk(4, dim=-1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(c)
        return (h if cell.hr is None else linear(cell.hr, h)), c


class AnalogGRU(AnalogRNNBase):
    """``nn.GRU`` on tiles: the three gates' input and recurrent matrices analog; gates and
    ``h' = (1 - z) * n + z * h`` digital (``b_hn`` added to the recurrent read before ``r *``)."""

    _torch_cls = nn.GRU
    gates = 3

    def _step(self, cell, gx, h, c, linear):
        xr, xz, xn = gx.chunk(3, dim=-1)
        hr, hz, hn = linear(cell.hh, h).chunk(3, dim=-1)
        r, z = torch.sigmoid(xr + hr), torch.sigmoid(xz + hz)
        n = torch.tanh(xn + r * hn)
        return (1 - z) * n + z * h, None
