"""Compiled converter loops for layers that read an array once per mini-batch row
(on-chip training, :class:`aimc.training.PulsedLinear`): the DAC of :class:`DAC` and the ideal
ADC of :class:`ADC` as one pass each, bit-for-bit the results of their tensor code.

Why: the tensor code of a DAC (abs-max, scale, round) and of an ADC read-out (scale, add noise,
round, clip, rescale) is a dozen small operations per matrix product, each one a pass over
memory and a few microseconds of dispatch; on a 64 x 784 batch they cost as much as the matrix
product itself. The loops use the same float32 operations in the same order (no fused
multiply-add, no reassociation), so the results are identical; the tests compare them.
Compiled with numba (see :mod:`aimc.array.pulse_kernels`).
"""

from __future__ import annotations

import numpy as np
import torch

from .._jit import njit  # numba.njit, safe for read-only installs (aimc._jit)

_F = np.float32
_OPTS = dict(cache=True, error_model="numpy", boundscheck=False, nogil=True)


_MAGNITUDE = np.int32(0x7FFFFFFF)  # the bits of a float32 without its sign
_INFINITY = np.int32(0x7F800000)  # the bits of +inf; a NaN's magnitude bits are larger


@njit(**_OPTS)
def _row_peak_bits(bits):
    """Abs-max of a float32 row given as its ``int32`` bits, as bits: the largest magnitude of
    a non-negative float32 has the largest bits, so the peak is an integer maximum over the
    bits without their sign (a reduction the compiled loop vectorises, unlike a loop-carried
    float maximum), exactly the abs-max. Bits at or above those of infinity: the row holds
    NaN or infinity."""
    top = np.int32(0)
    for i in range(bits.size):
        top = max(top, bits[i] & _MAGNITUDE)
    return top


@njit(**_OPTS)
def dac_rows(x, bits, top, input_range, quantize, levels, step):
    """DAC levels of the rows of ``x [B, n]`` into ``levels``, the digital value of one level
    of each row into ``step [B]`` (:meth:`DAC.to_levels` with ``dims=-1``): abs-max scaling
    by each row's peak when ``input_range <= 0``, else a fixed range with clipping; rounded
    when ``quantize``. ``bits``: ``x`` viewed as ``int32`` (the same memory), from which each
    row's peak comes (:func:`_row_peak_bits`) while the row is in the core's L1 cache, so
    that ``x`` is read from memory once. Returns whether every row is finite; the caller
    refuses the levels of a read that is not (NaN or infinity in a row)."""
    top = _F(top)
    tiny = _F(np.finfo(np.float32).tiny) * top
    peak_bits = np.empty(1, dtype=np.int32)
    peak = peak_bits.view(np.float32)  # the peak's bits as a float32 number
    finite = True
    for b in range(x.shape[0]):
        row, out = x[b], levels[b]
        peak_bits[0] = _row_peak_bits(bits[b])
        finite = finite and peak_bits[0] < _INFINITY
        if input_range > 0.0:
            scale = _F(top / input_range)
            step[b] = _F(input_range / top)
            if quantize:
                for i in range(row.size):
                    out[i] = np.rint(min(max(row[i] * scale, -top), top))
            else:
                for i in range(row.size):
                    out[i] = min(max(row[i] * scale, -top), top)
        else:
            p = max(peak[0], tiny)
            scale = (_F(1.0) / p) * top  # as torch evaluates `top / peak` (reciprocal, then times)
            step[b] = p / top
            if quantize:
                for i in range(row.size):
                    out[i] = np.rint(row[i] * scale)
            else:
                for i in range(row.size):
                    out[i] = row[i] * scale
    return finite


def dac_levels(x, top: float, input_range: float, quantize: bool, levels: np.ndarray,
               step: np.ndarray | None = None):
    """:func:`dac_rows` of a float32 CPU tensor ``x [B, n]`` into the array ``levels [B, n]``;
    returns the digital value of one level of each row: a new tensor ``[B]``, or ``None`` when
    written into the given array ``step [B]``. Refuses NaN and infinity (``ValueError``)."""
    x = np.ascontiguousarray(x.numpy())
    out = torch.empty(x.shape[0], dtype=torch.float32) if step is None else None
    if not dac_rows(x, x.view(np.int32), top, input_range, quantize, levels,
                    out.numpy() if step is None else step):
        raise ValueError("analog layer input contains NaN or infinite values")
    return out


@njit(**_OPTS)
def adc_rows(codes, per_level, noise, sigma, quantize, max_code, step, per_code, bias, add_bias):
    """Read-out of the column sums ``codes [B, m]`` (DAC levels times weights) in place:
    ``codes · per_level`` (to ADC codes) plus ``sigma · noise`` (input-referred noise, LSB),
    rounded when ``quantize``, clipped to ``±max_code`` when ``max_code > 0``, then back to
    digital units, ``· step[b] · per_code`` (:meth:`ADC.digitize` of an ideal converter), plus
    the digital ``bias [m]`` when ``add_bias``."""
    per_level, sigma, max_code, per_code = _F(per_level), _F(sigma), _F(max_code), _F(per_code)
    for b in range(codes.shape[0]):
        row, s = codes[b], step[b]
        for i in range(row.size):
            row[i] = row[i] * per_level
        if sigma > 0.0:
            for i in range(row.size):
                row[i] = row[i] + noise[b, i] * sigma
        if quantize:
            for i in range(row.size):
                row[i] = np.rint(row[i])
        if max_code > 0.0:
            for i in range(row.size):
                row[i] = min(max(row[i], -max_code), max_code)
        for i in range(row.size):
            row[i] = row[i] * s * per_code
        if add_bias:
            for i in range(row.size):
                row[i] = row[i] + bias[i]


@njit(**_OPTS)
def noisy_adc_sum(currents, std, z, z_adc, out, accumulate, noisy, gain, offset, adc_sigma,
                  quantize, max_code, inplace=False):
    """One read-out of the column currents of ``A`` arrays as a single pass, summed digitally:
    ``currents [P, Q, A, M]`` (in ADC codes, any strides) plus read noise ``std * z`` (when
    ``noisy``; ``std``, the square root of the noise variance, is taken by the caller with
    torch, whose float32 square root is not always correctly rounded), then the ideal ADC of
    :meth:`ADC.digitize`: ``· gain + offset`` (when either differs from 1 and 0), plus
    ``adc_sigma · z_adc``, rounded when ``quantize``, clipped to ``±max_code`` when
    ``max_code > 0``; the codes of the ``A`` arrays are added (in array order)
    into ``out [P, Q, M]`` (onto its contents when ``accumulate``). The float32 operations and
    their order are those of :func:`aimc.array.column_currents` followed by :meth:`ADC.digitize`,
    so each array's codes are identical to the tensor code's (the tests compare them); their sum
    over arrays is too whenever the ADC quantises (integer codes), while unquantised codes
    (``bits=None``) summed over more than three arrays may differ in the last bit (the tensor
    code's ``sum`` adds in another order). The loop over ``M``
    vectorises when every array is contiguous along it and ``out`` does not overlap the others;
    with ``inplace`` (one array, ``A = 1``, no accumulation) the codes are written over
    ``currents`` instead of into ``out``, which vectorises too (an ``out`` that is a view of
    ``currents`` would defeat the compiler's overlap check and run element by element)."""
    gain, offset, adc_sigma, max_code = _F(gain), _F(offset), _F(adc_sigma), _F(max_code)
    scale = gain != _F(1.0) or offset != _F(0.0)
    P, Q, A, M = currents.shape
    zero = _F(0.0)
    for p in range(P):
        for q in range(Q):
            dst = out[p, q]
            for a in range(A):
                cur = currents[p, q, a]
                add = accumulate or a > 0
                for m in range(M):
                    c = cur[m]
                    if noisy:
                        c = c + std[p, q, a, m] * z[p, q, a, m]
                    if scale:
                        c = c * gain + offset
                    if adc_sigma > zero:
                        c = c + z_adc[p, q, a, m] * adc_sigma
                    if quantize:
                        c = np.rint(c)
                    if max_code > zero:
                        c = min(max(c, -max_code), max_code)
                    if inplace:
                        cur[m] = c
                    else:
                        dst[m] = dst[m] + c if add else c


@njit(**_OPTS)
def scale_rows(codes, col_scale, step, bias, add_bias):
    """The digital end of a linear read, in place: ``codes [B, m] · col_scale [m] · step [b]``
    (ADC codes to weight units, then the DAC's value of one level of each input row) plus the
    layer's ``bias [m]`` when ``add_bias``: the float32 operations, in the order, of
    ``codes.mul_(col_scale).mul_(step[:, None]) + bias`` (one pass instead of three)."""
    for b in range(codes.shape[0]):
        row, row_step = codes[b], step[b]
        for m in range(row.size):
            row[m] = _rescaled(row[m], col_scale, row_step, bias, add_bias, m)


@njit(inline="always", **_OPTS)
def _rescaled(c, col_scale, row_step, bias, add_bias, m):
    """Output ``m`` of a row of :func:`scale_rows` from its summed code ``c``."""
    c = c * col_scale[m] * row_step
    return c + bias[m] if add_bias else c


@njit(inline="always", **_OPTS)
def _ideal_adc(c, scale, gain, offset, quantize, max_code):
    """The ideal noiseless ADC of :meth:`ADC.digitize` on one float32 value: ``· gain + offset``
    when ``scale``, rounded when ``quantize``, clipped to ``±max_code`` when ``max_code > 0``."""
    if scale:
        c = c * gain + offset
    if quantize:
        c = np.rint(c)
    if max_code > _F(0.0):
        c = min(max(c, -max_code), max_code)
    return c


@njit(**_OPTS)
def adc_rows_add(currents, std, z, out, accumulate, noisy, scale, gain, offset, quantize, max_code,
                 finish, col_scale, step, bias, add_bias):
    """One array's read-out of a linear read, added into ``out [B, M]`` (onto its contents when
    ``accumulate``): the column currents ``currents [B, M]`` (ADC codes), plus read noise
    ``std · z`` when ``noisy`` (``std`` taken by the caller with torch), through the ideal
    noiseless ADC of :meth:`ADC.digitize` (``· gain + offset`` when ``scale``, rounded when
    ``quantize``, clipped to ``±max_code`` when ``max_code > 0``); with ``finish`` (the last
    array) each row then gets the digital end of :func:`scale_rows` (``· col_scale [M] · step
    [b]``, plus ``bias [M]`` when ``add_bias``) in the same loop. The float32
    operations, in the order, of :func:`aimc.array.add_noise`, :meth:`ADC.digitize`, the
    digital sum over arrays of :func:`aimc.tile.readout.read_codes` and
    :func:`aimc.tile.readout.to_weight_units` (the tests compare them bit for bit). Array by
    array, so that one array's currents (a quarter of a megabyte for 128 x 512) stay in the
    core's cache between the product that writes them and this pass."""
    gain, offset, max_code = _F(gain), _F(offset), _F(max_code)
    B, M = currents.shape
    for b in range(B):
        cur, dst = currents[b], out[b]
        if finish:  # the last array: the digital end in the same loop (_rescaled)
            row_step = step[b]
            if noisy and accumulate:
                s, n = std[b], z[b]
                for m in range(M):
                    c = dst[m] + _ideal_adc(cur[m] + s[m] * n[m], scale, gain, offset, quantize, max_code)
                    dst[m] = _rescaled(c, col_scale, row_step, bias, add_bias, m)
            elif noisy:
                s, n = std[b], z[b]
                for m in range(M):
                    c = _ideal_adc(cur[m] + s[m] * n[m], scale, gain, offset, quantize, max_code)
                    dst[m] = _rescaled(c, col_scale, row_step, bias, add_bias, m)
            elif accumulate:
                for m in range(M):
                    c = dst[m] + _ideal_adc(cur[m], scale, gain, offset, quantize, max_code)
                    dst[m] = _rescaled(c, col_scale, row_step, bias, add_bias, m)
            else:
                for m in range(M):
                    c = _ideal_adc(cur[m], scale, gain, offset, quantize, max_code)
                    dst[m] = _rescaled(c, col_scale, row_step, bias, add_bias, m)
        elif noisy:
            s, n = std[b], z[b]
            for m in range(M):
                c = _ideal_adc(cur[m] + s[m] * n[m], scale, gain, offset, quantize, max_code)
                dst[m] = dst[m] + c if accumulate else c
        else:
            for m in range(M):
                c = _ideal_adc(cur[m], scale, gain, offset, quantize, max_code)
                dst[m] = dst[m] + c if accumulate else c
