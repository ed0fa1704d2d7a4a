"""On-chip training with voltage pulses: pulsed layers, an analog SGD optimizer, Tiki-Taka.

A :class:`PulsedLinear` keeps its weights *in the devices* of a crossbar (normalised device
units, ``aimc.devices.pulsed``) and trains them there, as a resistive processing unit does
(Gokmen & Vlasov, Front. Neurosci. 10:333, 2016):

* **forward**: ``x`` → DAC (abs-max scaled, quantised) → ``I = V @ G`` on the array → ADC
  (noise, quantisation, clipping) → digital rescale, ``y = s · W_dev x`` (+ digital bias);
* **backward**: the transposed read, ``δ`` on the columns through the same DAC/ADC model
  ("noise management": abs-max scaling of ``δ``), gives ``∂L/∂x``;
* **update**: :class:`AnalogSGD` applies ``ΔW_dev = -(lr / s) δᵀ x`` by stochastic pulse trains
  on rows and columns (``aimc.array.pulse_update``), i.e. the digital-SGD update of the weights
  ``s · W_dev``, realised through the devices' response with its asymmetry and noise. The
  gradient is never formed digitally; the layer keeps ``x`` and ``δ`` of the batch for the pulse
  translators.

Units and mapping. ``s`` (``weight_scale``) is a fixed digital factor between device units and
the network's weights (default 1: device units are weights, as in aihwkit's pulsed tiles).
The initial weights are written exactly (e.g. by program-and-verify) and clipped to each
device's bounds. The ADC full scale follows ``aimc.periphery.ADC``: ``full_scale`` cells at
one weight unit driven at the full DAC level. Biases are digital (updated by plain SGD).

**Tiki-Taka** (Gokmen & Haensch, "Algorithm for training neural networks on resistive device
arrays", Front. Neurosci. 14:103, 2020): with ``algorithm=TikiTaka(...)`` the gradient pulses go
to a *fast* array ``A``; every ``transfer_every`` updates the next ``columns_per_transfer``
columns of ``A`` (cycling; weight column ``k`` is read by the one-hot input ``e_k``) are read
through a transfer ADC (with noise) and written to the *slow* array ``C`` with pulses,
``C[:, k] += transfer_lr · A[:, k]``. The network sees ``W = γ A + C``. ``A`` is read against a
reference set to each device's symmetry point (zero-shifting, Kim et al., arXiv:1907.10228,
2019, assumed ideal), so its soft-bounds drift pulls it to zero, where an accumulator of the
recent gradient should sit.

Example:
    >>> from aimc.devices.pulsed import ConstantStep
    >>> layer = PulsedLinear(4, 3, device=ConstantStep(), seed=0)
    >>> opt = AnalogSGD(layer.parameters(), lr=0.1)
    >>> layer(torch.rand(8, 4)).sum().backward(); opt.step()   # pulses on the array
    >>> layer.weight.shape
    torch.Size([3, 4])
"""

from __future__ import annotations

import copy
import math
import weakref

import torch
import torch.nn.functional as F
from pydantic import BaseModel, ConfigDict, Field
from torch import nn

from ..array import NormalSource
from ..array.pulse_update import PulseUpdate, new_sampler, pulsed_update, transfer_update
from ..devices.pulsed import PulsedDevice, State
from ..periphery import ADC, DAC
from ..periphery import kernels as converters
from ..tile import check_finite, check_seed, split_seed


class PulsedIO(BaseModel):
    """Periphery of the forward and backward reads, after aihwkit's I/O parameters: 7-bit DAC
    with abs-max scaling ("noise management"), 9-bit ADC over ±20 weight units at full input
    (its ``out_bound``), output noise 0.75 LSB ≈ 0.06 (its ``out_noise`` default).

    Example:
        >>> PulsedIO().adc.bits
        9
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    dac: DAC = Field(default_factory=lambda: DAC(bits=7, scaling="abs_max"))
    adc: ADC = Field(default_factory=lambda: ADC(bits=9, full_scale=20.0, noise=0.75))
    read_noise: float = Field(0.0, ge=0, description="std of each device read (weight units)")


class TikiTaka(BaseModel):
    """Tiki-Taka transfer settings (Gokmen & Haensch 2020; aihwkit ``TransferCompound``).

    Example:
        >>> TikiTaka(transfer_every=2).columns_per_transfer
        1
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    gamma: float = Field(0.0, ge=0, description="weight of the fast array in W = γ A + C")
    transfer_every: int = Field(1, ge=1, description="updates between transfers")
    columns_per_transfer: int = Field(1, ge=1, description="columns of A read per transfer")
    transfer_lr: float = Field(1.0, gt=0, description="C[:, k] += transfer_lr · A[:, k]")
    fast_lr_scale: float = Field(1.0, gt=0, description="learning rate of A / that of the optimizer")
    transfer_adc: ADC = Field(default_factory=lambda: ADC(bits=9, full_scale=2.0, noise=0.75),
                              description="read-out of A during a transfer (one row driven)")
    zero_shift: bool = Field(True, description="read A against its devices' symmetry points")
    fast_device: PulsedDevice | None = Field(None, description="device of A (default: as C)")


class _PulsedRead(torch.autograd.Function):
    """Forward read (plus the digital bias); backward = transposed read, and the batch is kept
    for the pulse update."""

    @staticmethod
    def forward(ctx, x, bias, handle, layer):  # noqa: ARG004 - handle only connects the graph
        ctx.layer = layer
        ctx.save_for_backward(x)
        return layer.read(x, transposed=False, bias=None if bias is None else bias.detach())

    @staticmethod
    def backward(ctx, grad_y):
        (x,) = ctx.saved_tensors
        layer = ctx.layer
        layer.keep(x, grad_y)
        grad_x = layer.read(grad_y, transposed=True) if ctx.needs_input_grad[0] else None
        grad_bias = grad_y.sum(0) if ctx.needs_input_grad[1] else None
        return grad_x, grad_bias, None, None


class PulsedLinear(nn.Module):
    """A linear layer trained on chip by pulses (module docstring).

    Args:
        in_features, out_features, bias: as ``nn.Linear`` (the bias is digital).
        device: update response of the devices (``aimc.devices.pulsed``).
        io: forward/backward periphery; update: pulse-train settings.
        algorithm: None (plain analog SGD) or :class:`TikiTaka`.
        weight_scale: digital factor ``s`` from device units to weights.
        weight: initial digital weights ``[out, in]`` (default: ``nn.Linear``'s initialisation).
        seed: one chip instance (device-to-device draws) and its update and read noise.
    """

    _owners: weakref.WeakValueDictionary[int, PulsedLinear] = weakref.WeakValueDictionary()

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        *,
        device: PulsedDevice,
        io: PulsedIO | None = None,
        update: PulseUpdate | None = None,
        algorithm: TikiTaka | None = None,
        weight_scale: float = 1.0,
        weight: torch.Tensor | None = None,
        seed: int = 0,
    ) -> None:
        super().__init__()
        check_seed(seed)
        if not weight_scale > 0:
            raise ValueError(f"weight_scale must be > 0, got {weight_scale}")
        self.in_features, self.out_features = in_features, out_features
        self.device, self.io = device, io or PulsedIO()
        self.update_config, self.algorithm = update or PulseUpdate(), algorithm
        self.weight_scale = float(weight_scale)
        # ADC codes per (weight unit x DAC level), and back to digital units (scale included)
        unit = self.io.adc.unit_current(1.0, 1.0) * self.io.dac.full_scale_levels
        dac, adc = self.io.dac, self.io.adc
        self._compiled_io = None  # converter settings of the compiled read, if it serves them
        if adc.kind == "ideal" and adc.gain_error == 0 and adc.offset == 0:
            fixed = dac.input_range if dac.scaling == "fixed" else 0.0
            self._compiled_io = (float(dac.levels or 1), fixed, dac.levels is not None, adc.noise,
                                 adc.levels is not None, adc.max_code or 0.0)
        self._codes_per_level, self._level_per_code = 1.0 / unit, unit * self.weight_scale
        if weight is None:
            weight = nn.Linear(in_features, out_features, bias=False).weight.detach()
        if tuple(weight.shape) != (out_features, in_features):
            raise ValueError(f"weight must be [{out_features}, {in_features}], got {tuple(weight.shape)}")
        self.bias = nn.Parameter(torch.zeros(out_features)) if bias else None
        if bias:
            bound = 1 / math.sqrt(in_features)
            nn.init.uniform_(self.bias, -bound, bound)
        draw_seed, fast_seed, update_seed, read_seed = split_seed(seed, 4)
        shape = (out_features, in_features)
        state = device.draw(shape, torch.Generator().manual_seed(draw_seed))
        self._register_state("state", state)
        self.register_buffer("w", device.clip(weight.detach().float() / self.weight_scale, state))
        self._sampler = new_sampler(self.update_config, shape)
        if algorithm is not None:
            fast = algorithm.fast_device or device
            fast_state = fast.draw(shape, torch.Generator().manual_seed(fast_seed))
            self._register_state("fast_state", fast_state)
            ref = fast.symmetry_point(fast_state) if algorithm.zero_shift else torch.zeros(shape)
            self.register_buffer("fast_ref", ref)
            self.register_buffer("fast", ref.clone())  # A starts at its reference: zero
            self._fast_sampler = new_sampler(self.update_config, shape)
            self.transfers = 0  # transfer events so far (the next column is derived from it)
        self.updates = 0
        self.generator = torch.Generator().manual_seed(update_seed)
        self.normals = NormalSource(read_seed)
        self.handle = nn.Parameter(torch.zeros(()))  # ties the graph to the layer; no values
        PulsedLinear._owners[id(self.handle)] = self
        self._kept: list[tuple[torch.Tensor, torch.Tensor]] = []
        self._matrix: torch.Tensor | None = None

    # ------------------------------------------------------------------ construction helpers
    @classmethod
    def from_linear(cls, module: nn.Linear, **kwargs) -> PulsedLinear:
        """A pulsed layer programmed with ``module``'s weights and bias."""
        layer = cls(module.in_features, module.out_features, module.bias is not None,
                    weight=module.weight.detach(), **kwargs)
        if module.bias is not None:
            layer.bias.data.copy_(module.bias.detach())
        return layer

    def _register_state(self, prefix: str, state: State) -> None:
        self._state_keys = getattr(self, "_state_keys", {})
        self._state_keys[prefix] = list(state)
        for key, value in state.items():
            self.register_buffer(f"{prefix}_{key}", value.contiguous())

    def _state(self, prefix: str) -> State:
        return {key: getattr(self, f"{prefix}_{key}") for key in self._state_keys[prefix]}

    def get_extra_state(self) -> torch.Tensor:
        """The update and read random streams and the update/transfer counters, as one uint8
        tensor in the state dict (safetensors holds tensors only): a checkpoint resumes
        training bit for bit."""
        counters = torch.tensor([self.updates, getattr(self, "transfers", 0)], dtype=torch.int64)
        return torch.cat([self.generator.get_state(), self.normals.get_state(), counters.view(torch.uint8)])

    def set_extra_state(self, state: torch.Tensor) -> None:
        n = self.generator.get_state().numel()
        if state.dtype != torch.uint8 or state.numel() != 2 * n + 16:
            raise ValueError("not the saved random state of a PulsedLinear layer")
        self.generator.set_state(state[:n].clone())
        self.normals.set_state(state[n:2 * n].clone())
        self.updates, transfers = state[2 * n:].clone().view(torch.int64).tolist()
        if self.algorithm is not None:
            self.transfers = transfers

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys,
                              unexpected_keys, error_msgs) -> None:
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys,
                                      unexpected_keys, error_msgs)
        if prefix + "_extra_state" in missing_keys:  # saved before the random state was kept:
            missing_keys.remove(prefix + "_extra_state")  # the device state loads, streams stay
        self._matrix = None  # new device states: read the arrays afresh

    @classmethod
    def owner(cls, parameter: torch.Tensor) -> PulsedLinear | None:
        """The pulsed layer whose update handle ``parameter`` is, else None."""
        layer = cls._owners.get(id(parameter))
        return layer if layer is not None and layer.handle is parameter else None

    def __deepcopy__(self, memo):
        clone = nn.Module.__new__(type(self))
        memo[id(self)] = clone
        for key, value in self.__dict__.items():
            setattr(clone, key, copy.deepcopy(value, memo))
        PulsedLinear._owners[id(clone.handle)] = clone
        return clone

    # ------------------------------------------------------------------ reads
    def matrix(self) -> torch.Tensor:
        """Noise-free weights the arrays present to a read, device units ``[out, in]``:
        ``w``, or ``γ (A - ref) + C`` with Tiki-Taka."""
        if self._matrix is None:
            if self.algorithm is None or self.algorithm.gamma == 0:
                self._matrix = self.w
            else:
                self._matrix = torch.sub(self.fast, self.fast_ref).mul_(self.algorithm.gamma).add_(self.w)
        return self._matrix

    @property
    def weight(self) -> torch.Tensor:
        """The network weights the devices hold now, ``s · W`` (digital units, a copy)."""
        return self.matrix() * self.weight_scale

    def read(self, v: torch.Tensor, transposed: bool, bias: torch.Tensor | None = None) -> torch.Tensor:
        """One analog matrix-vector product per row of ``v``: ``v @ Wᵀ`` (forward, ``v [B, in]``)
        or ``v @ W`` (backward, ``v [B, out]``), in digital units, through DAC, array and ADC;
        plus the digital ``bias`` when given."""
        if self._compiled_io is not None and v.dtype == torch.float32 and v.device.type == "cpu":
            return self._read_compiled(v, transposed, bias)
        with torch.no_grad():
            check_finite(v)
            levels, step = self.io.dac.to_levels(v.detach().float())
            w = self.matrix()
            if self.io.read_noise > 0:
                w = w + self.normals.draw(w.shape) * self.io.read_noise
            codes = torch.mm(levels, w) if transposed else F.linear(levels, w)
            codes = self.io.adc.digitize(codes.mul_(self._codes_per_level), self.normals.draw)
            out = codes.mul_(step).mul_(self._level_per_code)
            if bias is not None:
                out.add_(bias)
        return out if out.dtype == v.dtype else out.to(v.dtype)

    def _read_compiled(self, v: torch.Tensor, transposed: bool, bias: torch.Tensor | None) -> torch.Tensor:
        """:meth:`read` with the converters as compiled loops (``aimc.periphery.kernels``):
        the same numbers, a pass over memory each instead of a dozen small operations."""
        top, fixed, dac_rounds, sigma, adc_rounds, max_code = self._compiled_io
        v = v.detach().contiguous()
        levels = torch.empty_like(v)
        step = converters.dac_levels(v, top, fixed, dac_rounds, levels.numpy())
        w = self.matrix()
        if self.io.read_noise > 0:
            w = w + self.normals.draw(w.shape) * self.io.read_noise
        codes = torch.mm(levels, w) if transposed else F.linear(levels, w)
        noise = self.normals.draw(codes.shape) if sigma > 0 else codes
        offset = bias if bias is not None else step  # bias: None adds nothing (any array will do)
        converters.adc_rows(codes.numpy(), self._codes_per_level, noise.numpy(), sigma, adc_rounds,
                            max_code, step.numpy(), self._level_per_code, offset.numpy(), bias is not None)
        return codes

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] != self.in_features:
            raise ValueError(f"expected inputs with {self.in_features} features, got {x.shape[-1]}")
        lead = x.shape[:-1]
        y = _PulsedRead.apply(x.reshape(-1, self.in_features), self.bias, self.handle, self)
        return y.view(*lead, self.out_features)

    def keep(self, x: torch.Tensor, d: torch.Tensor) -> None:
        """Remember a batch's inputs and errors ``∂L/∂y`` for the next :meth:`pulse_update`."""
        self._kept.append((x.detach(), d.detach().float()))

    # ------------------------------------------------------------------ update
    def pulse_update(self, lr: float) -> None:
        """Apply the kept batches as the SGD step ``W ← W - lr ∂L/∂W`` (digital units) by pulses;
        with Tiki-Taka the pulses go to ``A`` and a transfer follows when due."""
        if not self._kept:
            return
        if len(self._kept) == 1:
            x, d = self._kept[0]
        else:
            x, d = torch.cat([k[0] for k in self._kept]), torch.cat([k[1] for k in self._kept])
        self._kept = []
        lr_device = lr / self.weight_scale
        tt, cfg = self.algorithm, self.update_config
        if tt is None:
            pulsed_update(self.w, self._state("state"), self.device, x.float(), d, lr_device, cfg,
                          self.generator, sampler=self._sampler)
        else:
            pulsed_update(self.fast, self._state("fast_state"), tt.fast_device or self.device,
                          x.float(), d, lr_device * tt.fast_lr_scale, cfg, self.generator,
                          sampler=self._fast_sampler)
            if (self.updates + 1) % tt.transfer_every == 0:
                self.transfer()
        self.updates += 1
        self._matrix = None

    def transfer(self) -> None:
        """Tiki-Taka transfer: read the next columns of ``A`` (one-hot inputs, transfer ADC with
        noise) and add ``transfer_lr`` times them to ``C`` with pulses."""
        tt = self.algorithm
        n = min(tt.columns_per_transfer, self.in_features)
        start = (self.transfers * n) % self.in_features
        cols = torch.arange(start, start + n) % self.in_features
        self.transfers += 1
        with torch.no_grad():
            a = (self.fast.index_select(1, cols) - self.fast_ref.index_select(1, cols)).T  # [n, out]
            if self.io.read_noise > 0:
                a = a + self.normals.draw(a.shape) * self.io.read_noise
            unit = tt.transfer_adc.unit_current(1.0, 1.0)  # one-hot input: full DAC level
            a_read = tt.transfer_adc.digitize(a.mul(1.0 / unit), self.normals.draw).mul_(unit)
            transfer_update(self.w, self._state("state"), self.device, cols, a_read, tt.transfer_lr,
                            self.update_config, self.generator)
        self._matrix = None

    def extra_repr(self) -> str:
        algo = "sgd" if self.algorithm is None else "tiki-taka"
        return (f"in={self.in_features}, out={self.out_features}, device={self.device.name}, "
                f"algorithm={algo}, weight_scale={self.weight_scale:g}")


class AnalogSGD(torch.optim.Optimizer):
    """SGD for models with pulsed layers: their weights are updated by pulses on the array
    (:meth:`PulsedLinear.pulse_update`), every other parameter (biases, digital layers) by
    ``p ← p - lr · p.grad``. Learning-rate schedulers work as with ``torch.optim.SGD``.

    Example:
        >>> from aimc.devices.pulsed import SoftBounds
        >>> model = to_pulsed(nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2)), SoftBounds())
        >>> opt = AnalogSGD(model.parameters(), lr=0.05)
    """

    def __init__(self, params, lr: float = 0.01) -> None:
        if not lr > 0:
            raise ValueError(f"learning rate must be > 0, got {lr}")
        super().__init__(params, {"lr": lr})

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            for p in group["params"]:
                layer = PulsedLinear.owner(p)
                if layer is not None:
                    layer.pulse_update(group["lr"])
                elif p.grad is not None:
                    p.add_(p.grad, alpha=-group["lr"])
        return loss


def to_pulsed(model: nn.Module, device: PulsedDevice, seed: int = 0, **kwargs) -> nn.Module:
    """A copy of ``model`` with every ``nn.Linear`` replaced by a :class:`PulsedLinear` holding
    its weights (layer ``i`` gets the ``i``-th seed spawned from ``seed``); ``kwargs`` go to
    :class:`PulsedLinear` (``io``, ``update``, ``algorithm``, ``weight_scale``)."""
    check_seed(seed)
    model = copy.deepcopy(model)
    linears = [(name, m) for name, m in model.named_modules() if isinstance(m, nn.Linear)]
    if not linears:
        raise ValueError("model has no nn.Linear layers to train by pulses")
    if isinstance(model, nn.Linear):
        return PulsedLinear.from_linear(model, device=device, seed=split_seed(seed, 1)[0], **kwargs)
    for (name, module), s in zip(linears, split_seed(seed, len(linears)), strict=True):
        parent_name, _, child = name.rpartition(".")
        parent = model.get_submodule(parent_name) if parent_name else model
        setattr(parent, child, PulsedLinear.from_linear(module, device=device, seed=s, **kwargs))
    return model
