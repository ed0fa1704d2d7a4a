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

Sampler (a documented approximation, for speed). Simulating every slot costs ``BL`` matrix
products per sample. Instead :func:`pulsed_update` draws the number of coincidences of every
device over the whole batch:

1. The expected up and down counts of every device are two matrix products of the probability
   matrices, ``μ_down = BL Σ_b q⁺_bj p⁺_bi + q⁻_bj p⁻_bi`` and ``μ_up`` likewise with opposite
   signs (one product each for non-negative inputs). These means are exact.
2. A device's count is a sum over samples and slots of independent Bernoulli(``p_i q_j``)
   trials. Up and down counts come from different samples, so they are independent; each is
   drawn with the mean and variance of a **Poisson** count of the same mean (Le Cam: the
   Poisson law is within ``BL Σ_b (p_b q_b)²`` of the exact one in total variation; its
   variance exceeds the exact ``μ - BL Σ_b (p_b q_b)²`` by at most the relative amount
   ``max_b p_b q_b``, small unless one sample's expected steps on one device approach ``BL``).
   In the dense sampler (:class:`CoincidenceSampler`) the cycle-to-cycle step noise ``σ`` of
   the device is folded into the count: a three-point law with the mean ``μ`` and the variance
   ``(1 + σ²) μ`` of "Poisson count of noisy steps" (in units of one step) serves every device
   with ``μ <= 1 - σ²`` (most of them), sums of such draws serve larger means, and beyond 16 of
   them an exact Poisson count with explicit Gaussian step noise. Arrays of at most
   ``SMALL_ARRAY`` devices draw exact Poisson counts and explicit noise (few operations, where
   per-operation overhead dominates). When every device's coincidences come from one sample
   (``single=True``: a one-hot transfer vector or a batch of one) the count is exact,
   Binomial(``BL``, ``p q``), with explicit step noise.
3. The device response (``aimc.devices.pulsed``) turns the counts into a weight change.

Neglected: the correlation between devices that share a row or column train (each device's own
statistics are right), and the order of up and down pulses within one batch (taken as uniformly
interleaved by the device response). :func:`pulsed_update_exact` simulates every slot and is the
reference the tests compare against.

Randomness: counts use 16-bit uniforms ``u = (k + 1/2) / 2^16``, so probabilities are resolved
to ``2^-16`` (a device's expected count is off by at most ``7.6e-6`` pulses per update).
"""

from __future__ import annotations

import math

import torch
from pydantic import BaseModel, ConfigDict, Field

from ..devices.pulsed import PulsedDevice, State


class PulseUpdate(BaseModel):
    """How an update is encoded in pulse trains.

    Example:
        >>> PulseUpdate(bl=31).bl
        31
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    bl: int = Field(31, ge=1, description="slots per pulse train (BL; aihwkit's default 31)")
    update_management: bool = Field(True, description="balance the row and column probabilities")


def pulse_probabilities(
    x: torch.Tensor, d: torch.Tensor, lr: float, dw_min: float, config: PulseUpdate
) -> tuple[torch.Tensor, torch.Tensor]:
    """Signed pulse probabilities of the rows ``p [B, in]`` and columns ``q [B, out]`` for the
    update ``ΔW = -lr dᵀ x`` on devices of nominal step ``dw_min`` (clipped to ``[-1, 1]``)."""
    scale = lr / (config.bl * dw_min)  # C_x C_δ
    if config.update_management:
        # per-sample factors in float64: a gradient of denormal size (a confidently classified
        # sample) must not overflow C_δ to inf (then 0 * inf = NaN); p_max = q_max stays bounded
        xmax = x.abs().amax(dim=1, keepdim=True).double()
        dmax = d.abs().amax(dim=1, keepdim=True).double()
        live = (xmax > 0) & (dmax > 0)
        ratio = torch.where(live, dmax / torch.where(live, xmax, 1.0), 1.0).sqrt_()
        cx = torch.where(live, math.sqrt(scale) * ratio, 0.0).to(x.dtype)
        cd = torch.where(live, math.sqrt(scale) / ratio, 0.0).to(d.dtype)
    else:
        cx = cd = math.sqrt(scale)
    return (x * cx).clamp_(-1.0, 1.0), (d * cd).clamp_(-1.0, 1.0)


def expected_coincidences(
    p: torch.Tensor, q: torch.Tensor, bl: int, out: tuple[torch.Tensor, torch.Tensor] | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Expected up and down steps of every device ``[out, in]`` over the batch: down where
    ``x δ > 0`` (the weight must decrease), up where ``x δ < 0``. ``out``: result buffers."""
    up, down = out if out is not None else (None, None)
    qb = q * bl
    if float(p.min()) >= 0.0:  # non-negative inputs (pixels, ReLU, sigmoid): one product each
        q_up, q_down, p_all = qb.clamp(max=0.0).neg_(), qb.clamp_(min=0.0), p
    else:
        pos, neg = p.clamp(min=0.0), p.clamp(max=0.0).neg_()
        qp, qm = qb.clamp(min=0.0), qb.clamp(max=0.0).neg_()
        q_up, q_down, p_all = torch.cat([qm, qp]), torch.cat([qp, qm]), torch.cat([pos, neg])
    return torch.mm(q_up.T, p_all, out=up), torch.mm(q_down.T, p_all, out=down)


def _lowbias32_(h: torch.Tensor, scratch: torch.Tensor) -> torch.Tensor:
    """The ``lowbias32`` integer hash (C. Wellons, "Prospecting for hash functions", 2018),
    in place on an int32 tensor (wrapping multiplication; masked shifts act as logical shifts)."""
    for shift, mask, mult in ((16, 0xFFFF, _M1), (15, 0x1FFFF, _M2), (16, 0xFFFF, None)):
        torch.bitwise_right_shift(h, shift, out=scratch)
        h.bitwise_xor_(scratch.bitwise_and_(mask))
        if mult is not None:
            h.mul_(mult)
    return h


SMALL_ARRAY = 16384  # arrays up to this many devices draw exact Poisson counts (few ops)
MAX_PARTS = 16  # three-point draws summed for one count before an exact Poisson draw is used
_M1, _M2 = 0x7FEB352D, 0x846CA68B - 2**32  # lowbias32 multipliers as int32


class CoincidenceSampler:
    """Draws the pulse counts of every device of one array from their means, densely and without
    allocation (buffers are reused: the returned tensors are overwritten by the next call).

    Counts, per direction of mean ``μ``, with cycle-to-cycle noise of relative std ``σ`` folded
    in: the weight change of ``n`` pulses of step ``s(1 + σ ξ)`` has mean ``s E[n]`` and variance
    ``s² (Var n + σ² E n)``, ``s² μ (1 + σ²)`` for Poisson counts. A three-point law on
    ``{0, 1, 2}`` with ``P(2) = μ (μ + σ²) / 2``, ``P(1) = μ - 2 P(2)`` has exactly this mean and
    variance in units of ``s`` and is drawn from one 16-bit uniform; it exists for
    ``μ <= 1 - σ²``, where most devices are. A device above draws its count as a sum of ``k``
    such draws of mean ``μ / k`` (same mean and variance), and beyond ``k = 16`` an exact
    Poisson count with explicit Gaussian step noise (returned as ``fallback`` for the caller).

    Random bits: a counter-based generator, ``lowbias32(lowbias32(i) xor key)`` for device
    ``i`` (C. Wellons, "Prospecting for hash functions", 2018), with a fresh 32-bit key per
    call from the caller's ``torch.Generator`` (same seed, same numbers); 16 bits per direction.
    It costs a third of PyTorch's Mersenne Twister per bit on a CPU.

    Example:
        >>> s = CoincidenceSampler(6)
        >>> n_up, n_down, fallback = s.sample(torch.full((6,), 0.5), torch.zeros(6), torch.Generator())
        >>> n_down.sum().item(), fallback
        (0.0, None)
    """

    def __init__(self, numel: int) -> None:
        self.numel = numel
        self._scratch = torch.empty(numel, dtype=torch.int32)
        self._base = _lowbias32_(torch.arange(numel, dtype=torch.int32), self._scratch)
        self._bits = torch.empty(numel, dtype=torch.int32)
        self._k, self._s, self._t = torch.empty(numel), torch.empty(numel), torch.empty(numel)
        self.n_up, self.n_down = torch.empty(numel), torch.empty(numel)
        self._means = (torch.empty(numel), torch.empty(numel))

    def means(self, shape: tuple[int, ...]) -> tuple[torch.Tensor, torch.Tensor]:
        """Reusable buffers of ``shape`` for the expected up and down counts."""
        return self._means[0].view(shape), self._means[1].view(shape)

    def _count(self, mu: torch.Tensor, bits: torch.Tensor, var: float, out: torch.Tensor) -> None:
        # u = (k + 1/2) / 65536 < P  <=>  k + 1/2 < 65536 P, for the 16-bit integer k in bits
        k = self._k.copy_(bits).add_(0.5)
        two = torch.add(mu, var, out=self._s).mul_(mu).mul_(32768.0)  # 65536 P(2)
        some = torch.mul(mu, 65536.0, out=self._t).sub_(two)  # 65536 (P(1) + P(2))
        torch.lt(k, some, out=out)
        out.add_(torch.lt(k, two, out=self._t))

    def sample(
        self, mu_up: torch.Tensor, mu_down: torch.Tensor, generator: torch.Generator, c2c: float = 0.0
    ) -> tuple[torch.Tensor, torch.Tensor, tuple[torch.Tensor, torch.Tensor] | None]:
        """Counts ``(n_up, n_down, fallback)`` for flat means (``numel`` each) and the relative
        cycle-to-cycle step noise ``c2c``. ``fallback`` is None or ``(index, normal)``: devices
        whose counts are exact Poisson draws and need explicit step noise ``normal``."""
        if mu_up.numel() != self.numel or mu_down.numel() != self.numel:
            raise ValueError(f"sampler built for {self.numel} devices, got {mu_up.numel()}")
        mu_up, mu_down = mu_up.reshape(-1), mu_down.reshape(-1)
        var = c2c * c2c
        limit = 1.0 - var
        key = int(torch.randint(-(2**31), 2**31 - 1, (1,), generator=generator))
        torch.bitwise_xor(self._base, key, out=self._bits)
        bits = _lowbias32_(self._bits, self._scratch)
        low = torch.bitwise_and(bits, 0xFFFF, out=self._scratch)
        self._count(mu_up, low, var, self.n_up)
        high = torch.bitwise_right_shift(bits, 16, out=self._scratch).bitwise_and_(0xFFFF)
        self._count(mu_down, high, var, self.n_down)
        high_up, high_down = float(mu_up.max()), float(mu_down.max())
        if not (math.isfinite(high_up) and math.isfinite(high_down)):
            raise ValueError("pulse update with non-finite inputs or errors (NaN or inf in x or δ)")
        if high_up <= limit and high_down <= limit:
            return self.n_up, self.n_down, None
        # devices above the limit: the count is a sum of `parts` three-point draws of mean
        # mu / parts (same mean and variance); beyond MAX_PARTS parts, exact Poisson counts
        index = (torch.maximum(mu_up, mu_down, out=self._s) > limit).nonzero().squeeze(1)
        explicit = []
        for mu, n in ((mu_up, self.n_up), (mu_down, self.n_down)):
            m = mu[index]
            parts = min(math.ceil(float(m.max()) / limit), MAX_PARTS)
            part = m / parts
            two = (part + var).mul_(part).mul_(0.5)
            some = part - two
            u = torch.rand(parts, m.numel(), generator=generator)
            counts = ((u < some).sum(0) + (u < two).sum(0)).float()
            huge = m > MAX_PARTS * limit
            if bool(huge.any()):
                counts[huge] = torch.poisson(m[huge], generator=generator)
                explicit.append(huge)
            n[index] = counts
        if not explicit:
            return self.n_up, self.n_down, None
        huge = explicit[0] if len(explicit) == 1 else explicit[0] | explicit[1]
        index = index[huge]
        return self.n_up, self.n_down, (index, torch.randn(index.numel(), generator=generator))


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
    if lr == 0 or x.numel() == 0:
        return
    if x.dim() != 2 or d.dim() != 2 or x.shape[0] != d.shape[0] or w.shape != (d.shape[1], x.shape[1]):
        raise ValueError(f"pulsed update needs x [B, {w.shape[1]}] and d [B, {w.shape[0]}], "
                         f"got {tuple(x.shape)} and {tuple(d.shape)}")
    p, q = pulse_probabilities(x.float(), d.float(), lr, device.dw_min, config)
    single = x.shape[0] == 1 if single is None else single
    flat = w.view(-1)
    if single:
        mu_up, mu_down = expected_coincidences(p, q, config.bl)
        index, n_up, n_down = sample_single(mu_up, mu_down, generator, config.bl)
        sub = {k: v.reshape(-1)[index] for k, v in state.items()}
        noise = torch.randn(index.numel(), generator=generator) if device.dw_min_std > 0 else None
        flat[index] = device.apply(flat[index], n_up, n_down, sub, noise)
        return
    if w.numel() <= SMALL_ARRAY:  # few devices: exact Poisson counts and explicit step noise
        mu_up, mu_down = expected_coincidences(p, q, config.bl)
        n_up = torch.poisson(mu_up.view(-1), generator=generator)
        n_down = torch.poisson(mu_down.view(-1), generator=generator)
        noise = torch.randn(w.numel(), generator=generator) if device.dw_min_std > 0 else None
        device.apply_(flat, n_up, n_down, {k: v.reshape(-1) for k, v in state.items()}, noise)
        return
    sampler = sampler if sampler is not None else CoincidenceSampler(w.numel())
    mu_up, mu_down = expected_coincidences(p, q, config.bl, out=sampler.means(w.shape))
    n_up, n_down, fallback = sampler.sample(mu_up, mu_down, generator, c2c=device.dw_min_std)
    flat_state = {k: v.view(-1) for k, v in state.items()}
    if fallback is not None:  # explicit step noise, at the steps of the present weights
        index, normal = fallback
        sub = {k: v[index] for k, v in flat_state.items()}
        s_up, s_down = device.steps(flat[index], sub)
        spread = (n_up[index] * s_up.square() + n_down[index] * s_down.square()).sqrt_()
        spread.mul_(normal * device.dw_min_std)
    device.apply_(flat, n_up, n_down, flat_state, None)  # c2c is in the counts (sampler)
    if fallback is not None:
        flat[index] = device.clip(flat[index] + spread, sub)


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
