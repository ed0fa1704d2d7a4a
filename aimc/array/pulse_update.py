"""Parallel outer-product update of a crossbar by stochastic pulse trains.

Model: Gokmen & Vlasov, "Acceleration of deep neural network training with resistive cross-point
devices", Front. Neurosci. 10:333 (2016), Fig. 1 and Eqs. (2)-(4). For an update
``ΔW = -lr · δᵀ x`` (weights ``[out, in]``, inputs ``x`` on the rows, errors ``δ`` on the
columns), each row ``i`` receives a train of ``BL`` slots carrying a pulse with probability
``p_i = C_x |x_i|`` and each column ``j`` one with ``q_j = C_δ |δ_j|`` (probabilities clipped to
1, the polarity gives the sign). A device steps once, in the direction of ``-sign(x_i δ_j)``, for
every slot where both its row and its column pulse. The expected number of steps is
``BL p_i q_j``; with ``C_x C_δ = lr / (BL dw_min)`` the expected change is the SGD update
``lr x_i δ_j`` (for a device of nominal step ``dw_min``). *Update management* (aihwkit's
``update_management``, Gokmen et al. 2017) splits the constant per sample so that the largest
row and column probabilities are equal, ``C_x = sqrt(lr/(BL dw_min) · max|δ| / max|x|)``.
A mini-batch is applied sample by sample, each with its own trains.

Shared trains (the default, ``PulseUpdate(sampler="shared")``, :class:`SharedTrainSampler`).
Every device on one row sees the same row train and every device on one column the same column
train, so the updates of devices sharing a train are correlated: summed over the devices of one
column, the variance is many times the sum of their variances (a factor 7 to 29 on the layers of
a 784-256-10 MLP in training, ``benchmarks/pulse_correlation.py``). The trains are drawn: per
sample, ``BL`` Bernoulli slots for each column and, in the slots where some column fires, for each
row (:func:`aimc.array.pulse_kernels.train_counts`, sparse, one addition per coincidence); each
device's up and down counts over the batch are then applied through the device response in one
compiled pass (:func:`aimc.array.pulse_kernels.apply_counts`). Order: the slot-by-slot reference
applies the pulses sample by sample; here the up and down pulses of one batch are taken as
uniformly interleaved (exact for constant steps up to clipping, the closed form of
``SoftBounds.apply_``, a midpoint rule for other responses): a difference of second order in the
step, within the tests' tolerances. Cycle-to-cycle noise: ``σ sqrt(n_up Δw+² + n_down Δw-²) ξ``
with the steps at the present weight and ``ξ`` a unit-variance Irwin–Hall stand-in for a normal
(kurtosis 2.7, bounded by ±3.5).

Independent sampler (``sampler="independent"``, a fast approximation kept for comparison; it
**under-states the variance of a train's summed update**: 0.03x and 0.14x the slot-by-slot value
on the two layers above, i.e. it misses the 29x and 7x correlation factors). It draws the number
of coincidences of every device over the whole batch independently:

1. The expected up and down counts of every device are two matrix products of the probability
   matrices, ``μ_down = BL Σ_b q⁺_bj p⁺_bi + q⁻_bj p⁻_bi`` and ``μ_up`` likewise with opposite
   signs (one product each for non-negative inputs). These means are exact.
2. A device's count is a sum over samples and slots of independent Bernoulli(``p_i q_j``)
   trials. Up and down counts come from different samples, so they are independent; each is
   drawn with the mean and variance of a **Poisson** count of the same mean (Le Cam: the
   Poisson law is within ``BL Σ_b (p_b q_b)²`` of the exact one in total variation; its
   variance exceeds the exact ``μ - BL Σ_b (p_b q_b)²`` by at most the relative amount
   ``max_b p_b q_b``, small unless one sample's expected steps on one device approach ``BL``).
   The cycle-to-cycle step noise ``σ`` of the device is folded into the count: an effective
   count of mean ``μ`` and variance ``(1 + σ²) μ`` (in units of one step), drawn from a
   three-point law that is the integer counts ``{0, 1, 2}`` for ``μ <= 1 - σ²`` (most devices)
   and a moment-matched law beyond (:mod:`aimc.array.pulse_kernels`). When every device's
   coincidences come from one sample (``single=True``: a one-hot transfer vector or a batch of
   one) the count is exact, Binomial(``BL``, ``p q``), with explicit Gaussian step noise.
3. The device response (``aimc.devices.pulsed``) turns the counts into a weight change; for
   :class:`~aimc.devices.ConstantStep` and :class:`~aimc.devices.SoftBounds` steps 2 and 3 run
   as one compiled loop (:mod:`aimc.array.pulse_kernels`), other responses get the counts.

Neglected by this sampler: the correlation between devices that share a row or column train
(each device's own statistics are right), and the order of up and down pulses within one batch.
:func:`pulsed_update_exact` simulates every slot and is the reference the tests compare against.
Tiki-Taka transfers (:func:`transfer_update`) draw exact per-device binomial counts; the devices of
one transferred column share its row train, which this neglects unless the row probability is
clipped to 1 (as for transfers of values above ``BL dw_min / lr`` under update management).

Randomness: counts use 16-bit uniforms ``u = (k + 1/2) / 2^16``, so probabilities are resolved
to ``2^-16`` (a mean below ``2^-17`` gives no pulse; a device's expected count is off by at most
``1.5e-5`` pulses per update where counts are ``{0, 1, 2}``, :mod:`aimc.array.pulse_kernels`).
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field

from ..devices.pulsed import ConstantStep, PulsedDevice, SoftBounds, State
from . import pulse_kernels as kernels


class PulseUpdate(BaseModel):
    """How an update is encoded in pulse trains.

    Example:
        >>> PulseUpdate(bl=31).bl
        31
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    bl: int = Field(31, ge=1, description="slots per pulse train (BL; aihwkit's default 31)")
    update_management: bool = Field(True, description="balance the row and column probabilities")
    sampler: Literal["shared", "independent"] = Field(
        "shared", description="'shared': draw the row and column trains (devices on one train are "
        "correlated, as on the chip); 'independent': the fast per-device count approximation, "
        "which under-states the variance of a train's summed update (module docstring)")


def pulse_probabilities(
    x: torch.Tensor, d: torch.Tensor, lr: float, dw_min: float, config: PulseUpdate
) -> tuple[torch.Tensor, torch.Tensor]:
    """Signed pulse probabilities of the rows ``p [B, in]`` and columns ``q [B, out]`` for the
    update ``ΔW = -lr dᵀ x`` on devices of nominal step ``dw_min`` (clipped to ``[-1, 1]``)."""
    return _probabilities(x, d, lr, dw_min, config)[:2]


def _probabilities(
    x: torch.Tensor, d: torch.Tensor, lr: float, dw_min: float, config: PulseUpdate
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, bool]:
    """``p``, ``q``, ``BL q⁻``, ``BL q⁺`` and whether all inputs are non-negative; refuses
    NaN and infinity."""
    x = x.detach().float().contiguous()
    d = d.detach().float().contiguous()
    p, q, q_up, q_down = torch.empty_like(x), torch.empty_like(d), torch.empty_like(d), torch.empty_like(d)
    finite, non_negative = kernels.probabilities(
        x.numpy(), d.numpy(), lr / (config.bl * dw_min), config.update_management, float(config.bl),
        p.numpy(), q.numpy(), q_up.numpy(), q_down.numpy())
    if not finite:
        raise ValueError("pulse update with non-finite inputs or errors (NaN or inf in x or δ)")
    return p, q, q_up, q_down, non_negative


def expected_coincidences(
    p: torch.Tensor,
    q: torch.Tensor,
    bl: int,
    out: tuple[torch.Tensor, torch.Tensor] | None = None,
    non_negative: bool | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Expected up and down steps of every device ``[out, in]`` over the batch: down where
    ``x δ > 0`` (the weight must decrease), up where ``x δ < 0``. ``out``: result buffers;
    ``non_negative``: whether ``p >= 0`` is known (else it is checked)."""
    up, down = out if out is not None else (None, None)
    qb = q * bl
    if non_negative is None:
        non_negative = float(p.min()) >= 0.0
    if non_negative:  # non-negative inputs (pixels, ReLU, sigmoid): one product each
        q_up, q_down, p_all = qb.clamp(max=0.0).neg_(), qb.clamp_(min=0.0), p
    else:
        pos, neg = p.clamp(min=0.0), p.clamp(max=0.0).neg_()
        qp, qm = qb.clamp(min=0.0), qb.clamp(max=0.0).neg_()
        q_up, q_down, p_all = torch.cat([qm, qp]), torch.cat([qp, qm]), torch.cat([pos, neg])
    return torch.mm(q_up.T, p_all, out=up), torch.mm(q_down.T, p_all, out=down)


def _key(generator: torch.Generator) -> int:
    """A fresh 32-bit key of the counter-based random bits (``pulse_kernels``) per update."""
    return int(torch.randint(0, 2**32 - 1, (1,), dtype=torch.int64, generator=generator))


class CoincidenceSampler:
    """Draws the pulse counts of every device of one array from their means and applies them
    (steps 2 and 3 of the module docstring), with the law and random bits of
    :mod:`aimc.array.pulse_kernels`. Holds the per-device hashes and reusable buffers: returned
    tensors are overwritten by the next call.

    Example:
        >>> s = CoincidenceSampler(6)
        >>> n_up, n_down = s.sample(torch.full((6,), 0.5), torch.zeros(6), torch.Generator())
        >>> n_down.sum().item()
        0.0
    """

    def __init__(self, numel: int) -> None:
        self.numel = numel
        self._base = kernels.device_hashes(numel)
        self.n_up, self.n_down = torch.empty(numel), torch.empty(numel)
        self._means = (torch.empty(numel), torch.empty(numel))

    def means(self, shape: tuple[int, ...]) -> tuple[torch.Tensor, torch.Tensor]:
        """Reusable buffers of ``shape`` for the expected up and down counts."""
        return self._means[0].view(shape), self._means[1].view(shape)

    def _flat(self, *tensors: torch.Tensor) -> list[np.ndarray]:
        out = []
        for t in tensors:
            if t.numel() != self.numel:
                raise ValueError(f"sampler built for {self.numel} devices, got {t.numel()}")
            if t.dtype != torch.float32 or not t.is_contiguous():
                t = t.float().contiguous()
            out.append(t.detach().numpy().reshape(-1))
        return out

    def sample(
        self, mu_up: torch.Tensor, mu_down: torch.Tensor, generator: torch.Generator, c2c: float = 0.0
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Effective counts ``(n_up, n_down)`` (flat) for the means ``mu_up``, ``mu_down`` and the
        relative cycle-to-cycle step noise ``c2c``."""
        up, down = self._flat(mu_up, mu_down)
        kernels.counts(up, down, self._base, _key(generator), 1.0 + c2c * c2c,
                       self.n_up.numpy(), self.n_down.numpy())
        return self.n_up, self.n_down

    def update(self, w: torch.Tensor, state: State, device: PulsedDevice, mu_up: torch.Tensor,
               mu_down: torch.Tensor, generator: torch.Generator) -> None:
        """Draw the counts and apply them to the devices ``w`` in place: one compiled pass for
        constant-step and soft-bounds devices, else the counts and the device's own response."""
        compiled = _compiled_response(w, state, device)
        if compiled is None:
            n_up, n_down = self.sample(mu_up, mu_down, generator, device.dw_min_std)
            flat_state = {k: v.reshape(-1) for k, v in state.items()}
            device.apply_(w.view(-1), n_up, n_down, flat_state, None)  # c2c is in the counts
            return
        response, arrays = compiled
        s = 1.0 + device.dw_min_std**2
        near = True
        if response == kernels.SOFT_BOUNDS:
            # a count is at most max(2 s, 2 mu) (the law's top point): bound the exponent
            top = 2.0 * max(s, float(mu_up.max()), float(mu_down.max()))
            near = 2.0 * top * float(torch.maximum(arrays[0].max(), arrays[1].max())) < 1.0
        kernels.update(*self._flat(w, mu_up, mu_down), self._base, _key(generator), s, response,
                       *self._flat(*arrays), near)


def _compiled_response(
    w: torch.Tensor, state: State, device: PulsedDevice
) -> tuple[int, list[torch.Tensor]] | None:
    """The compiled response of ``device`` (``pulse_kernels``) and its per-device arrays: the up
    and down steps (constant step) or rates (soft bounds), then the bounds; None when the tensor
    path serves (another response, or weights and state that are not contiguous float32)."""
    if type(device) not in (ConstantStep, SoftBounds) or w.dtype != torch.float32 or not w.is_contiguous() \
            or any(v.dtype != torch.float32 for v in state.values()):
        return None
    if type(device) is ConstantStep:
        return kernels.CONSTANT_STEP, [state[k] for k in ("up", "down", "w_min", "w_max")]
    if "rate_up" not in state:
        state = {**state, **device.derived(state)}
    return kernels.SOFT_BOUNDS, [state[k] for k in ("rate_up", "rate_down", "w_min", "w_max")]


class SharedTrainSampler:
    """Draws the row and column pulse trains of every sample (``PulseUpdate(sampler="shared")``,
    the default) and applies the coincidences: devices that share a row or column train are
    correlated as on the chip (:func:`aimc.array.pulse_kernels.train_counts`). Holds the
    per-index hashes, the train masks and the count buffers of one ``[out, in]`` array.

    Example:
        >>> s = SharedTrainSampler((2, 3))
        >>> p, q = torch.ones(1, 3), torch.tensor([[1.0, 0.0]])   # every slot fires on column 0
        >>> n_up, n_down = s.counts(p, q, 31, torch.Generator())
        >>> n_down.tolist()
        [[31.0, 31.0, 31.0], [0.0, 0.0, 0.0]]
    """

    def __init__(self, shape: tuple[int, int]) -> None:
        out, n_in = shape
        self.shape = (out, n_in)
        self._rows, self._cols = kernels.device_hashes(n_in), kernels.device_hashes(out)
        self._base = kernels.device_hashes(out * n_in)
        self.n_up, self.n_down = torch.zeros(self.shape), torch.zeros(self.shape)

    def _draw(self, p: torch.Tensor, q: torch.Tensor, bl: int, generator: torch.Generator) -> int:
        if (q.shape[1], p.shape[1]) != self.shape:
            raise ValueError(f"sampler built for an array {list(self.shape)}, got p {list(p.shape)} "
                             f"and q {list(q.shape)}")
        return int(kernels.train_counts(p.numpy(), q.numpy(), bl, self._rows, self._cols, _key(generator),
                                        _key(generator), self.n_up.numpy(), self.n_down.numpy()))

    def counts(self, p: torch.Tensor, q: torch.Tensor, bl: int,
               generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """Up and down coincidence counts ``[out, in]`` of the signed row and column pulse
        probabilities ``p [B, in]``, ``q [B, out]`` over ``bl`` slots (copies)."""
        self._draw(p.float().contiguous(), q.float().contiguous(), bl, generator)
        counts = self.n_up.clone(), self.n_down.clone()
        self.n_up.zero_()  # the buffers stay zero between updates
        self.n_down.zero_()
        return counts

    def update(self, w: torch.Tensor, state: State, device: PulsedDevice, p: torch.Tensor,
               q: torch.Tensor, bl: int, generator: torch.Generator) -> None:
        """Draw the trains, count the coincidences and apply them to ``w [out, in]`` in place
        (one compiled pass for constant-step and soft-bounds devices, else the device's own
        response to the counts with torch normals)."""
        compiled = _compiled_response(w, state, device)
        if compiled is None:
            n_up, n_down = (n.reshape(-1).to(w.dtype) for n in self.counts(p, q, bl, generator))
            noisy = device.dw_min_std > 0
            normal = torch.randn(w.numel(), generator=generator, dtype=w.dtype) if noisy else None
            flat_state = {k: v.reshape(-1) for k, v in state.items()}
            w.view(-1).copy_(device.apply(w.reshape(-1), n_up, n_down, flat_state, normal))
            return
        self._draw(p, q, bl, generator)  # the count buffers are zero between updates
        response, (a, b, lo, hi) = compiled
        steps = (a, b)
        if response == kernels.SOFT_BOUNDS:
            if "a" not in state:
                state = {**state, **SoftBounds.derived(state)}
            steps = (state["a"], state["b"])
        flat = [t.detach().contiguous().numpy().reshape(-1) for t in (w, self.n_up, self.n_down)]
        kernels.apply_counts(*flat, self._base, _key(generator), device.dw_min_std, response,
                             *(t.contiguous().numpy().reshape(-1) for t in (a, b, *steps, lo, hi)))


def new_sampler(config: PulseUpdate, shape: tuple[int, int]) -> SharedTrainSampler | CoincidenceSampler:
    """The reusable sampler of ``config.sampler`` for an ``[out, in]`` array."""
    if config.sampler == "shared":
        return SharedTrainSampler(shape)
    return CoincidenceSampler(shape[0] * shape[1])


def sample_single(
    mu_up: torch.Tensor, mu_down: torch.Tensor, generator: torch.Generator, bl: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Exact counts when every device's coincidences come from one sample: Binomial(BL, p q),
    all in one direction. Returns ``(flat index, n_up, n_down)`` of the devices with pulses."""
    up, down = mu_up.reshape(-1), mu_down.reshape(-1)
    total = up + down
    index = (total > 0).nonzero().squeeze(1)
    prob = (total[index] / bl).clamp_(0.0, 1.0)
    n = torch.binomial(torch.full_like(prob, float(bl)), prob, generator=generator)
    going_up = up[index] >= down[index]
    keep = (n > 0).nonzero().squeeze(1)
    index, n, going_up = index[keep], n[keep], going_up[keep]
    return index, torch.where(going_up, n, 0.0), torch.where(going_up, 0.0, n)


def pulsed_update(
    w: torch.Tensor,
    state: State,
    device: PulsedDevice,
    x: torch.Tensor,
    d: torch.Tensor,
    lr: float,
    config: PulseUpdate,
    generator: torch.Generator,
    single: bool | None = None,
    sampler: CoincidenceSampler | None = None,
) -> None:
    """Apply ``ΔW ≈ -lr dᵀ x`` to the devices ``w [out, in]`` in place by stochastic pulse trains.

    Args:
        w: device weights (normalised units, contiguous), changed in place.
        state: the devices' drawn parameters (``device.draw``), same shape as ``w``.
        x: ``[B, in]`` row inputs; d: ``[B, out]`` column errors; lr: learning rate (> 0) in
            weight units per unit of ``x δ``.
        single: every device sees one sample (exact counts); default: ``B == 1``.
        sampler: reusable :class:`CoincidenceSampler` for ``w``'s size (made if None).

    Example:
        >>> from aimc.devices.pulsed import ConstantStep
        >>> dev, g = ConstantStep(), torch.Generator().manual_seed(0)
        >>> w = torch.zeros(3, 4); s = dev.draw(w.shape, g)
        >>> pulsed_update(w, s, dev, torch.ones(8, 4), torch.ones(8, 3), 0.001, PulseUpdate(), g)
        >>> bool((w < 0).all())    # x δ > 0 everywhere: every weight went down
        True
    """
    if lr == 0 or x.numel() == 0 or w.numel() == 0:
        return
    if x.dim() != 2 or d.dim() != 2 or x.shape[0] != d.shape[0] or w.shape != (d.shape[1], x.shape[1]):
        raise ValueError(f"pulsed update needs x [B, {w.shape[1]}] and d [B, {w.shape[0]}], "
                         f"got {tuple(x.shape)} and {tuple(d.shape)}")
    p, q, q_up, q_down, non_negative = _probabilities(x, d, lr, device.dw_min, config)
    if config.sampler == "shared":
        if not isinstance(sampler, SharedTrainSampler) or sampler.shape != tuple(w.shape):
            sampler = SharedTrainSampler(tuple(w.shape))
        sampler.update(w, state, device, p, q, config.bl, generator)
        return
    single = x.shape[0] == 1 if single is None else single
    flat = w.view(-1)
    if single:
        mu_up, mu_down = expected_coincidences(p, q, config.bl)
        index, n_up, n_down = sample_single(mu_up, mu_down, generator, config.bl)
        sub = {k: v.reshape(-1)[index] for k, v in state.items()}
        noise = torch.randn(index.numel(), generator=generator) if device.dw_min_std > 0 else None
        flat[index] = device.apply(flat[index], n_up, n_down, sub, noise)
        return
    if not isinstance(sampler, CoincidenceSampler) or sampler.numel != w.numel():
        sampler = CoincidenceSampler(w.numel())
    up, down = sampler.means(w.shape)
    if non_negative:  # expected_coincidences with the operands from the probability kernel
        mu_up, mu_down = torch.mm(q_up.T, p, out=up), torch.mm(q_down.T, p, out=down)
    else:
        mu_up, mu_down = expected_coincidences(p, q, config.bl, (up, down), False)
    sampler.update(w, state, device, mu_up, mu_down, generator)


def transfer_update(
    w: torch.Tensor,
    state: State,
    device: PulsedDevice,
    cols: torch.Tensor,
    values: torch.Tensor,
    lr: float,
    config: PulseUpdate,
    generator: torch.Generator,
) -> None:
    """Add ``lr · values[k]`` to column ``cols[k]`` of the devices ``w [out, in]`` by pulses, one
    one-hot row input per column (a Tiki-Taka transfer): :func:`pulsed_update` with
    ``x = one_hot(cols)``, ``d = -values`` and exact single-sample (Binomial) counts, in place.
    ``values``: ``[n, out]``. One compiled loop for constant-step and soft-bounds devices
    (:func:`aimc.array.pulse_kernels.transfer`), else the tensor path.

    Example:
        >>> from aimc.devices.pulsed import ConstantStep
        >>> dev, g = ConstantStep(dw_min_std=0.0), torch.Generator().manual_seed(0)
        >>> w = torch.zeros(3, 4); s = dev.draw(w.shape, g)
        >>> transfer_update(w, s, dev, torch.tensor([1]), torch.ones(1, 3), 1.0, PulseUpdate(), g)
        >>> bool((w[:, 1] > 0).all()) and bool((w[:, [0, 2, 3]] == 0).all())
        True
    """
    if values.shape != (cols.numel(), w.shape[0]):
        raise ValueError(f"transfer needs values [{cols.numel()}, {w.shape[0]}], got {tuple(values.shape)}")
    if cols.dim() != 1 or cols.is_floating_point() or cols.is_complex():
        raise ValueError("transfer columns must be a 1-D integer tensor, "
                         f"got {cols.dtype} of shape {tuple(cols.shape)}")
    if cols.numel() and (int(cols.min()) < 0 or int(cols.max()) >= w.shape[1]):
        raise ValueError(f"transfer columns must lie in [0, {w.shape[1]}), got {cols.tolist()}")
    if cols.unique().numel() != cols.numel():
        raise ValueError(f"transfer columns must be distinct, got {cols.tolist()}")
    if not bool(torch.isfinite(values).all()):
        raise ValueError("transfer of non-finite values (NaN or inf)")
    compiled = _compiled_response(w, state, device)
    if compiled is None:
        sub = w.index_select(1, cols).contiguous()
        sub_state = {k: v.index_select(1, cols).contiguous() for k, v in state.items()}
        eye = torch.eye(cols.numel(), dtype=values.dtype)
        pulsed_update(sub, sub_state, device, eye, -values, lr, config, generator, single=True)
        w.index_copy_(1, cols, sub)
        return
    response, arrays = compiled
    values = values.detach().float().contiguous()
    keys = np.array([_key(generator) for _ in range(3)], dtype=np.int64)
    scale = lr / (config.bl * device.dw_min)
    kernels.transfer(w.numpy(), cols.to(torch.int64).numpy(), values.numpy(), scale, config.update_management,
                     config.bl, keys, device.dw_min_std, response, *(a.contiguous().numpy() for a in arrays))


def pulsed_update_exact(
    w: torch.Tensor,
    state: State,
    device: PulsedDevice,
    x: torch.Tensor,
    d: torch.Tensor,
    lr: float,
    config: PulseUpdate,
    generator: torch.Generator,
) -> torch.Tensor:
    """Reference: simulate every slot of every pulse train, sample by sample, one device step
    (with Gaussian cycle-to-cycle noise) per coincidence; slow, a loop over ``B x BL`` slots.

    ``w [..., out, in]``: leading dimensions are independent replicas of the array that see the
    same ``x`` and ``d`` but their own pulse trains (for statistics). Returns the new weights.
    """
    p, q = pulse_probabilities(x.float(), d.float(), lr, device.dw_min, config)
    lead = w.shape[:-2]
    w = w.clone()
    for b in range(x.shape[0]):
        down = (torch.sign(q[b])[:, None] * torch.sign(p[b])[None, :]) > 0
        for _ in range(config.bl):
            rows = torch.rand(*lead, 1, p.shape[1], generator=generator) < p[b].abs()
            cols = torch.rand(*lead, q.shape[1], 1, generator=generator) < q[b].abs()[:, None]
            normal = torch.randn(w.shape, generator=generator)
            w = torch.where(cols & rows, device.pulse(w, ~down, state, normal), w)
    return w
