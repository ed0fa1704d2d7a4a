"""Compiled per-device loops of the pulse update: draw every device's pulse count and apply the
device response in one pass over memory.

Why compiled: the update of a 784 x 256 array touches 200k devices per mini-batch; after the
two matrix products that give the expected counts, tensor code takes some twenty passes over
memory (hash, counts, response, clipping), 6-7 ms on one CPU core. :func:`update` does it in one
loop that the compiler vectorises and that reads each operand once (0.3 ms). :func:`transfer`
does the same for a Tiki-Taka transfer (one-hot rows, exact binomial counts, explicit step
noise), and :func:`probabilities` computes the pulse probabilities of a batch. The loops are
written with `numba <https://numba.pydata.org>`_ (LLVM, no C compiler needed), compiled once and
cached on disk; they only ever see float32 arrays (float64 inside where precision needs it).

Count law (the statistics are the module docstring of :mod:`aimc.array.pulse_update`). A device
whose expected count in one direction is ``μ`` and whose steps carry cycle-to-cycle noise of
relative std ``σ`` changes by ``s·n`` with ``n`` a random effective count of mean ``μ`` and
variance ``(1 + σ²) μ``, the moments of a Poisson number of noisy steps. ``n`` is drawn from a
three-point law on ``{a - h, a, a + h}`` with ``P± = ((V + δ²)/h² ± δ/h) / 2`` (``V = (1+σ²)μ``,
``δ = μ - a``), which has this mean and variance (up to the resolution of its probabilities,
below):

* ``μ <= 1 - σ²`` (most devices): ``a = h = 1``, integer pulse counts ``{0, 1, 2}``;
* ``1 - σ² < μ < 1 + σ²``: ``a = h = (1 + σ² + μ) / 2``, where ``P(a) = 0``: two points;
* ``μ >= 1 + σ²``: centred, ``a = μ``, ``h = min(μ, sqrt(3 V))``; from ``μ >= 3 (1 + σ²)``
  on the Gauss–Hermite law (``P± = 1/6``), which also has the fourth moment of a normal law.

Each direction uses 16 bits of a counter-based hash ``lowbias32(lowbias32(i) xor key)`` of the
flat device index ``i`` (C. Wellons, "Prospecting for hash functions", 2018; ``lowbias32(i)`` is
computed once per array, :func:`device_hashes`), with a fresh 32-bit ``key`` per update from
the caller's ``torch.Generator``: same seed, same counts. A probability is resolved to ``2^-16``
(each threshold to within ``2^-17``): a mean below ``2^-17`` gives no pulse, and a device's
expected count is off by at most ``h·2^-16`` (1.5e-5 pulses where counts are ``{0, 1, 2}``).
"""

from __future__ import annotations

import math

import numpy as np
from numba.cpython.unsafe.numbers import trailing_zeros

from .._jit import njit

_F = np.float32
_M1, _M2 = np.uint32(0x7FEB352D), np.uint32(0x846CA68B)  # lowbias32 multipliers
_S15, _S16, _LOW = np.uint32(15), np.uint32(16), np.uint32(0xFFFF)
# error_model="numpy": no zero-division check (it would stop vectorisation); no fast-math flag
# that assumes finite values
_OPTS = dict(cache=True, error_model="numpy", boundscheck=False, nogil=True,
             fastmath={"contract", "arcp", "nsz"})
CONSTANT_STEP, SOFT_BOUNDS = 0, 1  # compiled responses of :func:`update`


@njit(inline="always")
def _mix(h):
    """lowbias32 (explicit uint32 casts keep the arithmetic 32-bit, so the loops vectorise)."""
    h = np.uint32(h ^ (h >> _S16))
    h = np.uint32(h * _M1)
    h = np.uint32(h ^ (h >> _S15))
    h = np.uint32(h * _M2)
    return np.uint32(h ^ (h >> _S16))


@njit(inline="always")
def _uniforms(base, key):
    """Two 16-bit uniforms (as float32 ``k + 1/2``) of the device with hash ``base``."""
    h = _mix(np.uint32(base ^ key))
    return _F(np.int32(h & _LOW)) + _F(0.5), _F(np.int32(h >> _S16)) + _F(0.5)


@njit(**_OPTS)
def device_hashes(n):
    """``lowbias32(i)`` for ``i < n``: the per-device half of the counter-based hash."""
    out = np.empty(n, dtype=np.uint32)
    for i in range(n):
        out[i] = _mix(np.uint32(i))
    return out


@njit(inline="always")
def _count(mu, s, k):
    """Effective count of mean ``mu`` and variance ``s·mu`` (``s = 1 + σ²``) from the 16-bit
    integer ``k`` (as float32 ``k + 1/2``, a uniform on ``(0, 65536)``); the law is in the
    module docstring."""
    # straight-line code (every branch value computed, then selected): the loop vectorises
    var = s * mu
    a = max(mu, max(_F(1.0), _F(0.5) * (s + mu)))  # mu where centred (mu >= s)
    centred_h = min(mu, np.sqrt(_F(3.0) * var))
    h = centred_h if mu >= s else a
    r = _F(1.0) / h  # one division (and one root) per count: they bound the loop's speed
    d = (mu - a) * r
    m2 = var * r * r + d * d
    low = _F(32768.0) * (m2 - d)  # 65536 P-
    high = _F(65536.0) - _F(32768.0) * (m2 + d)  # 65536 (1 - P+)
    return a - (h if k < low else _F(0.0)) + (h if k >= high else _F(0.0))


_SERIES = tuple(1.0 / math.factorial(k + 1) for k in range(11))  # (-λ)^k / (k+1)!, k <= 10


@njit(inline="always")
def _relax(lam):
    """``(1 - exp(-λ)) / λ`` by its series, for ``0 <= λ < 1`` (truncation below
    ``λ¹¹/12! < 3e-9``; :func:`update` takes larger ``λ`` exactly in a second pass)."""
    f = _F(_SERIES[10])
    for k in range(9, -1, -1):  # Horner
        f = _F(_SERIES[k]) - lam * f
    return f


@njit(**_OPTS)
def counts(mu_up, mu_down, base, key, s, n_up, n_down):
    """Effective up and down counts of every device (flat) from their means."""
    k = np.uint32(key)
    s = _F(s)
    for i in range(mu_up.size):
        ku, kd = _uniforms(base[i], k)
        n_up[i] = _count(mu_up[i], s, ku)
        n_down[i] = _count(mu_down[i], s, kd)


@njit(**_OPTS)
def update(w, mu_up, mu_down, base, key, s, response, a, b, lo, hi, near):
    """Counts and device response of every device (flat arrays) in one pass, ``w`` in place.

    ``response``: ``CONSTANT_STEP`` (``a``, ``b`` the up and down steps) or ``SOFT_BOUNDS``
    (``a``, ``b`` the rates ``-ln(1 - Δw/|bound|)`` up and down); ``lo``, ``hi`` the bounds.
    ``near``: the caller has bounded every relaxation exponent ``λ`` below 1 (soft bounds)."""
    k = np.uint32(key)
    s = _F(s)
    if response == CONSTANT_STEP:
        for i in range(w.size):
            ku, kd = _uniforms(base[i], k)
            x = w[i] + _count(mu_up[i], s, ku) * a[i] - _count(mu_down[i], s, kd) * b[i]
            w[i] = min(max(x, lo[i]), hi[i])
        return
    # the closed form of SoftBounds.apply_: n_up and n_down interleaved pulses relax w at the
    # rate lam = n_up r_up + n_down r_down towards a weighted mean of the bounds; the series of
    # the relaxation factor serves lam < 1 (all but devices given ~1/r pulses in one update)
    if near:
        for i in range(w.size):
            ku, kd = _uniforms(base[i], k)
            nu = _count(mu_up[i], s, ku) * a[i]
            nd = _count(mu_down[i], s, kd) * b[i]
            x, low, high = w[i], lo[i], hi[i]
            w[i] = min(max(x + (nu * (high - x) + nd * (low - x)) * _relax(nu + nd), low), high)
        return
    far = np.empty(w.size, dtype=np.bool_)  # the devices this pass leaves to the exact one
    for i in range(w.size):
        ku, kd = _uniforms(base[i], k)
        nu = _count(mu_up[i], s, ku) * a[i]
        nd = _count(mu_down[i], s, kd) * b[i]
        old, low, high = w[i], lo[i], hi[i]
        lam = nu + nd
        new = min(max(old + (nu * (high - old) + nd * (low - old)) * _relax(lam), low), high)
        near_i = lam < _F(1.0)
        w[i] = new if near_i else old
        far[i] = not near_i
    for i in range(w.size):  # the rest exactly (the same bits give the same counts)
        if far[i]:
            ku, kd = _uniforms(base[i], k)
            nu = np.float64(_count(mu_up[i], s, ku) * a[i])
            nd = np.float64(_count(mu_down[i], s, kd) * b[i])
            lam = nu + nd
            x, low, high = np.float64(w[i]), np.float64(lo[i]), np.float64(hi[i])
            x += (nu * (high - x) + nd * (low - x)) * -math.expm1(-lam) / lam
            w[i] = min(max(x, low), high)


@njit(inline="always")
def _uniform32(index, key):
    """A uniform on ``(0, 1)`` with 32 random bits, for device ``index`` and stream ``key``."""
    h = _mix(np.uint32(_mix(np.uint32(index)) ^ np.uint32(key)))
    return (np.float64(h) + 0.5) * 2.0**-32


@njit(inline="always")
def _binomial(n, prob, u):
    """Binomial(``n``, ``prob``) by inversion of its distribution function at ``u``, searched
    from the mode ``m = floor((n + 1) prob)`` (whose probability comes from ``lgamma``), so that
    no term underflows for any ``n``: down while ``u <= F(k - 1)``, else up while ``u > F(k)``."""
    if prob <= 0.0:
        return 0
    if prob >= 1.0:
        return n
    odds = prob / (1.0 - prob)
    m = min(int((n + 1) * prob), n)
    top = math.exp(math.lgamma(n + 1.0) - math.lgamma(m + 1.0) - math.lgamma(n - m + 1.0)
                   + m * math.log(prob) + (n - m) * math.log1p(-prob))
    below, pmf, k = 0.0, top, m  # F(m - 1): the terms below the mode, until negligible
    while k > 0 and pmf > 1e-18 * top:
        pmf *= k / ((n - k + 1) * odds)
        k -= 1
        below += pmf
    k, pmf = m, top
    if u <= below:
        cdf = below  # F(k - 1)
        while k > 0 and u <= cdf:
            pmf *= k / ((n - k + 1) * odds)
            k -= 1
            cdf -= pmf
        return k
    cdf = below + top  # F(k)
    while u > cdf and k < n:
        pmf *= odds * (n - k) / (k + 1)
        k += 1
        cdf += pmf
    return k


@njit(**_OPTS)
def transfer(w, cols, values, scale, managed, bl, keys, c2c, response, a, b, lo, hi):
    """Add ``values[k]`` (``[n, out]``, weight units) to the columns ``cols[k]`` of ``w [out, in]``
    by pulses with a one-hot row input per column (a Tiki-Taka transfer), in place.

    Each device of column ``k`` sees one sample only, so its count is exact:
    Binomial(``BL``, ``p q``) with ``p``, ``q`` the row and column probabilities of that sample
    (``scale = lr / (BL dw_min)``, update management as in :func:`probabilities`); pulses go up
    where the value is positive. Cycle-to-cycle noise is explicit: ``c2c·sqrt(n)·Δw(w)·ξ`` with
    the step at the present weight, ``ξ`` a Box–Muller normal (as ``PulsedDevice.apply``).
    ``response``: ``CONSTANT_STEP`` (``a``, ``b`` the up and down steps) or ``SOFT_BOUNDS``
    (``a``, ``b`` the rates ``-ln(1 - Δw/|bound|)``); ``lo``, ``hi`` the bounds; ``keys``: three
    32-bit stream keys (count, two normals). Returns the number of pulses applied."""
    n_in = w.shape[1]
    root = np.sqrt(scale)
    pulses = 0
    for k in range(cols.shape[0]):
        c = cols[k]
        vmax = 0.0
        for j in range(values.shape[1]):
            vmax = max(vmax, abs(np.float64(values[k, j])))
        if vmax == 0.0:
            continue
        cx, cd = root, root
        if managed:  # one-hot row: max|x| = 1
            cx, cd = root * np.sqrt(vmax), root / np.sqrt(vmax)
        p = min(cx, 1.0)
        for j in range(values.shape[1]):
            v = np.float64(values[k, j])
            index = j * n_in + c
            count = _binomial(bl, p * min(abs(v) * cd, 1.0), _uniform32(index, keys[0]))
            if count == 0:
                continue
            pulses += count
            x, low, high = np.float64(w[j, c]), np.float64(lo[j, c]), np.float64(hi[j, c])
            up = v > 0.0
            if response == CONSTANT_STEP:
                step = np.float64(a[j, c]) if up else np.float64(b[j, c])
                shift = count * step if up else -count * step
                spread = math.sqrt(count) * step
            else:
                rate = np.float64(a[j, c]) if up else np.float64(b[j, c])
                target = high if up else low
                shift = (target - x) * -math.expm1(-count * rate)  # exact for one direction
                spread = math.sqrt(count) * abs(target - x) * -math.expm1(-rate)  # a (bound - w)
            if c2c > 0.0:
                u1, u2 = _uniform32(index, keys[1]), _uniform32(index, keys[2])
                spread *= c2c * math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * u2)
            else:
                spread = 0.0
            x += shift + spread
            w[j, c] = min(max(x, low), high)
    return pulses


@njit(cache=True, error_model="numpy", boundscheck=False, nogil=True,
      fastmath={"reassoc", "contract", "arcp", "nsz"})
def probabilities(x, d, scale, managed, bl, p, q, q_up, q_down):
    """Row and column pulse probabilities of every sample into ``p [B, in]``, ``q [B, out]``
    (:func:`aimc.array.pulse_update.pulse_probabilities`), and ``BL`` times the negative and
    positive parts of ``q`` into ``q_up``, ``q_down`` (the operands of the expected counts). The
    per-sample factors are float64: an error of denormal size (a confidently classified sample)
    must not overflow ``C_δ``. Returns ``(finite, non_negative)``: whether ``x`` and ``d`` hold
    only finite numbers, and ``x`` only non-negative ones."""
    total = 0.0
    lowest = 0.0
    root = np.sqrt(scale)
    for b in range(x.shape[0]):
        xmax, dmax = 0.0, 0.0
        for i in range(x.shape[1]):
            v = np.float64(x[b, i])
            total += v
            lowest = min(lowest, v)
            xmax = max(xmax, abs(v))
        for j in range(d.shape[1]):
            v = np.float64(d[b, j])
            total += v
            dmax = max(dmax, abs(v))
        cx, cd = root, root
        if managed:  # update management: equal largest probabilities on rows and columns
            live = xmax > 0.0 and dmax > 0.0
            ratio = np.sqrt(dmax / xmax) if live else 1.0
            cx, cd = (root * ratio, root / ratio) if live else (0.0, 0.0)
        for i in range(x.shape[1]):
            p[b, i] = min(max(np.float64(x[b, i]) * cx, -1.0), 1.0)
        for j in range(d.shape[1]):
            v = min(max(np.float64(d[b, j]) * cd, -1.0), 1.0)
            q[b, j] = v
            q_up[b, j] = _F(bl) * max(-_F(v), _F(0.0))
            q_down[b, j] = _F(bl) * max(_F(v), _F(0.0))
    return np.isfinite(total), lowest >= 0.0


# ---------------------------------------------------------------------- shared pulse trains
# Every device on one row (column) sees the same row (column) train. :func:`train_counts` draws
# the trains of each sample as bit masks (one uint64 word per 64 slots) and counts each device's
# coincidences as the popcount of its row mask AND its column mask; :func:`apply_counts` then
# applies the counts through the device response.
_ONE64 = np.uint64(1)
_C1, _C2, _C4 = np.uint64(0x5555555555555555), np.uint64(0x3333333333333333), np.uint64(0x0F0F0F0F0F0F0F0F)
_H01 = np.uint64(0x0101010101010101)


@njit(inline="always")
def _popcount(v):
    """Set bits of a uint64 (SWAR; the compiler emits a popcount instruction where it has one)."""
    v = v - ((v >> np.uint64(1)) & _C1)
    v = (v & _C2) + ((v >> np.uint64(2)) & _C2)
    v = (v + (v >> np.uint64(4))) & _C4
    return (v * _H01) >> np.uint64(56)


@njit(inline="always")
def _slot_key(key, counter):
    """The stream key of one (sample, slot pair): a hash of the update key and a counter."""
    return _mix(np.uint32(key ^ _mix(np.uint32(counter))))


@njit(**_OPTS)
def train_counts(p, q, bl, row_base, col_base, row_key, col_key, n_up, n_down):
    """Coincidence counts of shared pulse trains, added to ``n_up``, ``n_down`` (``[out, in]``).

    For each sample ``b`` and slot ``t < BL``, row ``i`` fires with probability ``|p[b, i]|`` and
    column ``j`` with ``|q[b, j]|`` (independent Bernoulli slots from 16-bit uniforms: resolution
    ``2^-16``), the same train for every device of that row or column. Device ``(j, i)`` counts
    the slots where both fire, down where ``p q > 0`` and up where ``p q < 0``.

    Sparse: the column trains are drawn as bit masks (slots in words of 64), a row's bits only in
    the slots where some column fires (no other slot can coincide); the firing rows of each slot
    are listed, and every firing column adds one to each of them in its slots: beyond drawing
    the trains, the work is one addition per coincidence. ``row_base``/``col_base``:
    :func:`device_hashes` of the column indices and, for rows, of the row's position among the
    rows that can fire in that sample (each live row still draws its own stream, so the law is the
    same; a row's numbers depend on which rows are live); ``row_key``/``col_key``: 32-bit keys
    of this update. Returns the number of coincidences."""
    n_in, n_out = p.shape[1], q.shape[1]
    words = (bl + 63) // 64
    rows = np.empty(n_in, dtype=np.int64)
    row_thr = np.empty(n_in, dtype=np.float32)
    row_mask = np.empty(n_in, dtype=np.uint64)
    col_thr = np.empty(n_out, dtype=np.float32)
    col_mask = np.empty(n_out, dtype=np.uint64)
    slot_pos = np.empty((64, n_in), dtype=np.int32)  # firing rows of each slot, p > 0 and p < 0
    slot_neg = np.empty((64, n_in), dtype=np.int32)
    n_pos, n_neg, slots = np.empty(64, np.int64), np.empty(64, np.int64), np.empty(64, np.int64)
    total = 0
    for b in range(p.shape[0]):
        n_live = 0
        for i in range(n_in):  # the rows that can fire
            if p[b, i] != 0.0:
                rows[n_live] = i
                row_thr[n_live] = _F(65536.0) * abs(p[b, i])
                n_live += 1
        if n_live == 0:
            continue
        for j in range(n_out):
            col_thr[j] = _F(65536.0) * abs(q[b, j])
        for word in range(words):
            width = min(64, bl - 64 * word)
            counter = (b * words + word) * 64
            for j in range(n_out):
                col_mask[j] = np.uint64(0)
            for t in range(0, width, 2):  # two slots per hash (its two 16-bit halves)
                k = _slot_key(col_key, counter + t // 2)
                second = _F(1.0) if t + 1 < width else _F(0.0)
                t1, t2 = np.uint64(t), np.uint64((t + 1) & 63)
                for j in range(n_out):
                    lo, hi = _uniforms(col_base[j], k)
                    thr = col_thr[j]
                    col_mask[j] |= (np.uint64(lo < thr) << t1) | (np.uint64(hi < thr * second) << t2)
            union = np.uint64(0)
            for j in range(n_out):
                union |= col_mask[j]
            if union == 0:
                continue
            n_slots = 0
            for t in range(width):
                n_pos[t], n_neg[t] = 0, 0
                if (union >> np.uint64(t)) & _ONE64:
                    slots[n_slots] = t
                    n_slots += 1
            for k in range(n_live):
                row_mask[k] = np.uint64(0)
            for s in range(0, n_slots, 2):
                second = _F(1.0) if s + 1 < n_slots else _F(0.0)
                t1 = np.uint64(slots[s])
                t2 = np.uint64(slots[s + 1]) if s + 1 < n_slots else t1
                key = _slot_key(row_key, counter + slots[s])
                for k in range(n_live):
                    lo, hi = _uniforms(row_base[k], key)
                    thr = row_thr[k]
                    row_mask[k] |= (np.uint64(lo < thr) << t1) | (np.uint64(hi < thr * second) << t2)
            for k in range(n_live):  # slot lists of the firing rows
                m = row_mask[k]
                if m == 0:
                    continue
                i = rows[k]
                positive = p[b, i] > 0.0
                while m != 0:
                    t = trailing_zeros(m)
                    if positive:
                        slot_pos[t, n_pos[t]] = i
                        n_pos[t] += 1
                    else:
                        slot_neg[t, n_neg[t]] = i
                        n_neg[t] += 1
                    m &= m - _ONE64
            for j in range(n_out):  # column by column: its devices are one row of the counts
                m = col_mask[j]
                if m == 0:
                    continue
                same, other = (n_down[j], n_up[j]) if q[b, j] > 0.0 else (n_up[j], n_down[j])
                while m != 0:
                    t = trailing_zeros(m)
                    for r in range(n_pos[t]):
                        same[slot_pos[t, r]] += _F(1.0)
                    for r in range(n_neg[t]):
                        other[slot_neg[t, r]] += _F(1.0)
                    total += n_pos[t] + n_neg[t]
                    m &= m - _ONE64
    return total


_IH = np.float32(math.sqrt(3.0) / 256.0)
_B8 = np.uint32(0xFF)


@njit(inline="always")
def _normal(h):
    """A standard-normal stand-in from the 32 bits ``h``: ``sqrt(3) (u1 + u2 + u3 + u4 - 2)`` with
    ``u = (k + 1/2) / 256`` its four bytes (Irwin–Hall: mean 0, variance ``1 - 2^-16``, kurtosis
    2.7, bounded by ±3.46; straight-line integer code that vectorises, unlike a table or
    Box–Muller)."""
    s = np.int32(h & _B8) + np.int32((h >> np.uint32(8)) & _B8) + np.int32((h >> _S16) & _B8) \
        + np.int32(h >> np.uint32(24))
    return _F(s - 510) * _IH


@njit(**_OPTS)
def apply_counts(w, n_up, n_down, base, key, c2c, response, a, b, step_up, step_down, lo, hi):
    """Apply the pulse counts ``n_up``, ``n_down`` of every device (flat) to ``w`` in place and
    zero the counts. Up and down pulses of one update are taken as uniformly interleaved: exact
    for ``CONSTANT_STEP`` (``a``, ``b`` the up and down steps) up to clipping at the end; for
    ``SOFT_BOUNDS`` (``a``, ``b`` the rates ``-ln(1 - Δw/|bound|)``, ``step_up``/``step_down``
    the relative steps) the closed form of ``SoftBounds.apply_``. Cycle-to-cycle noise:
    ``c2c·sqrt(n_up Δw+² + n_down Δw-²)·ξ`` with the steps at the present weight and ``ξ`` a
    standardised sum of four 8-bit uniforms (:func:`_normal`)."""
    k = np.uint32(key)
    c2c = _F(c2c)
    if response == CONSTANT_STEP:
        for i in range(w.size):
            nu, nd = n_up[i], n_down[i]
            xi = _normal(_mix(np.uint32(base[i] ^ k)))
            du, dd = nu * a[i], nd * b[i]
            spread = np.sqrt(du * a[i] + dd * b[i])
            w[i] = min(max(w[i] + du - dd + c2c * spread * xi, lo[i]), hi[i])
            n_up[i], n_down[i] = _F(0.0), _F(0.0)
        return
    far = 0
    for i in range(w.size):
        nu, nd = n_up[i], n_down[i]
        xi = _normal(_mix(np.uint32(base[i] ^ k)))
        x, low, high = w[i], lo[i], hi[i]
        su, sd = step_up[i] * (high - x), step_down[i] * (x - low)
        spread = np.sqrt(nu * su * su + nd * sd * sd)
        ru, rd = nu * a[i], nd * b[i]
        lam = ru + rd
        near = lam < _F(1.0)
        new = x + c2c * spread * xi + (ru * (high - x) + rd * (low - x)) * _relax(min(lam, _F(1.0)))
        w[i] = min(max(new, low), high) if near else x
        n_up[i] = _F(0.0) if near else nu  # the rest exactly below (its counts kept for it)
        n_down[i] = _F(0.0) if near else nd
        far += np.int64(not near)
    if far == 0:
        return
    for i in range(w.size):
        nu, nd = np.float64(n_up[i]), np.float64(n_down[i])
        if nu == 0.0 and nd == 0.0:
            continue
        n_up[i], n_down[i] = _F(0.0), _F(0.0)
        xi = np.float64(_normal(_mix(np.uint32(base[i] ^ k))))
        x, low, high = np.float64(w[i]), np.float64(lo[i]), np.float64(hi[i])
        su, sd = np.float64(step_up[i]) * (high - x), np.float64(step_down[i]) * (x - low)
        spread = math.sqrt(nu * su * su + nd * sd * sd)
        ru, rd = nu * np.float64(a[i]), nd * np.float64(b[i])
        lam = ru + rd
        x += np.float64(c2c) * spread * xi + (ru * (high - x) + rd * (low - x)) * -math.expm1(-lam) / lam
        w[i] = min(max(x, low), high)
