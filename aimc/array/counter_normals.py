"""A fast, counter-based source of standard normal numbers for the read noise.

Model: number pair ``i`` of a stream with key ``k`` is the Box–Muller transform (Box & Muller,
"A note on the generation of random normal deviates", Ann. Math. Statist. 29, 610, 1958) of two
uniform numbers taken from ``h = SplitMix64(k + i·φ)`` (Steele, Lea & Flood, "Fast splittable
pseudorandom number generators", OOPSLA 2014; ``φ`` the 64-bit golden-ratio increment, as in
the generator's own stream): the high 23 bits ``a`` give ``u1 = (2a + 1)/2^24 ∈ (0, 1)``, the
24 bits below them ``b`` give ``u2 = b/2^24 ∈ [0, 1)``, and ``z = sqrt(-2 ln u1) · (cos 2πu2,
sin 2πu2)``. Numbers ``2j`` and ``2j + 1`` of a draw are the cosine and sine numbers of pair
``start + j`` (an odd last number is a cosine number). A draw is a pure function of the key and
its first counter (:func:`fill`): no state beyond the counter.

Why: PyTorch's CPU sampler (Mersenne Twister and Box–Muller) takes 3.5–5 ns per float32 number
on the development machine, a fifth of an analog forward with fresh read noise. Here hash and
transform are one compiled loop that the compiler vectorises: the logarithm and the sine and
cosine are float32 polynomials (no library calls), 0.9–1.0 ns per number on that machine.

The transform, in float32: ``ln u1 = (e - 24) ln 2 + ln m`` with ``2a + 1 = m·2^e`` split by
its float bits (``m ∈ [√½, √2)``, exact) and ``ln m = 2 atanh((m - 1)/(m + 1))`` by its series
to the 9th power (truncation below 1e-9 relative); the angle is reduced to its quadrant,
``θ ∈ [0, π/2)``, whose sine and cosine are Taylor polynomials to ``θ^13`` and ``θ^14``
(truncation below 1e-8). Against the float64 library transform of the same uniforms the
numbers differ by at most 9e-7 (``tests/array/test_counter_normals.py``). Like PyTorch's, the
uniforms are 24-bit: ``|z|`` stops at ``sqrt(-2 ln 2^-24) = 5.77``, as PyTorch's sampler does.
A seed gives the same numbers on every machine (integer and correctly rounded float32
operations only, no fused multiply-add). Tests check the moments, the tail, the independence of
consecutive numbers and of streams.
"""

from __future__ import annotations

import math

import numpy as np

from .._jit import njit

_F = np.float32
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1, _MIX2 = np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)
# series coefficients: atanh (ln), sine and cosine (Taylor)
_L3, _L5, _L7, _L9 = (_F(1.0 / k) for k in (3, 5, 7, 9))
_S3, _S5, _S7, _S9, _S11, _S13 = (_F((-1) ** k / math.factorial(2 * k + 1)) for k in range(1, 7))
_C2, _C4, _C6, _C8, _C10, _C12, _C14 = (_F((-1) ** k / math.factorial(2 * k)) for k in range(1, 8))
_ONE, _TWO, _M2, _LN2 = _F(1.0), _F(2.0), _F(-2.0), _F(math.log(2.0))
_ANGLE = _F(2.0 * math.pi / 2**24)  # radians per step of u2
_SQRT_HALF_BITS = np.int32(0x3F3504F3)  # the float32 bits of sqrt(1/2)
_MANTISSA = np.int32(23)


@njit(inline="always", cache=True, error_model="numpy", boundscheck=False, nogil=True)
def _pair(key, i):
    """The cosine and the sine number of pair ``i`` of stream ``key`` (float32)."""
    h = key + i * _GOLDEN
    h = (h ^ (h >> np.uint64(30))) * _MIX1
    h = (h ^ (h >> np.uint64(27))) * _MIX2
    h = h ^ (h >> np.uint64(31))
    odd = np.int32(((h >> np.uint64(41)) << np.uint64(1)) | np.uint64(1))  # 2a + 1 < 2^24
    b = np.int32((h >> np.uint64(17)) & np.uint64(0xFFFFFF))
    # ln u1: 2a + 1 = m 2^e with m in [sqrt(1/2), sqrt(2)), split by the float's bits (exact)
    bits = _F(odd).view(np.int32)
    e = np.int32((bits - _SQRT_HALF_BITS) >> _MANTISSA)
    m = np.int32(bits - (e << _MANTISSA)).view(np.float32)
    r = (m - _ONE) / (m + _ONE)
    r2 = r * r
    ln_m = _TWO * r * (_ONE + r2 * (_L3 + r2 * (_L5 + r2 * (_L7 + r2 * _L9))))
    radius = np.sqrt(_M2 * (ln_m + _F(e - 24) * _LN2))
    # the angle 2 pi u2: its quadrant q, and theta in [0, pi/2)
    q = b >> 22
    t = _F(b & 0x3FFFFF) * _ANGLE
    t2 = t * t
    sin = t * (_ONE + t2 * (_S3 + t2 * (_S5 + t2 * (_S7 + t2 * (_S9 + t2 * (_S11 + t2 * _S13))))))
    cos = _ONE + t2 * (_C2 + t2 * (_C4 + t2 * (_C6 + t2 * (_C8 + t2 * (_C10 + t2 * (_C12 + t2 * _C14))))))
    swap = (q & 1) == 1  # quadrants 1 and 3: cosine and sine trade places
    c = sin if swap else cos
    s = cos if swap else sin
    c = -c if (q == 1 or q == 2) else c
    s = -s if q >= 2 else s
    return radius * c, radius * s


@njit(cache=True, error_model="numpy", boundscheck=False, nogil=True)
def _fill(out, key, start):
    half = out.size // 2
    for j in range(half):
        c, s = _pair(key, start + np.uint64(j))
        out[2 * j] = c
        out[2 * j + 1] = s
    if out.size % 2:
        c, _ = _pair(key, start + np.uint64(half))
        out[out.size - 1] = c


def fill(out: np.ndarray, key: int, start: int) -> int:
    """Fill the float32 vector ``out`` with standard normal numbers from pairs ``start, start +
    1, ...`` of stream ``key`` (numbers ``2j``, ``2j + 1``: the cosine and sine numbers of pair
    ``start + j``); returns the number of pairs used (``ceil(len(out) / 2)``)."""
    if out.size:
        _fill(out, np.uint64(key & (2**64 - 1)), np.uint64(start & (2**64 - 1)))
    return (out.size + 1) // 2
