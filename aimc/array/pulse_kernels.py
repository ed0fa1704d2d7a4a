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
from numba import njit

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
