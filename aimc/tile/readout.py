"""The read of a tile: DAC → products → noise → ADC → digital sum.

Where it sits in the signal path (DESIGN.md): the read matrices of the tile at the current time
(drift, frozen read noise, IR drop and circuit noise already folded in, :class:`ReadMatrices`)
are given; an input vector is turned into integer DAC levels, each array computes its column
currents ``I = op(V, G)`` (Ohm and Kirchhoff, ``op`` a matrix product or a convolution) and the
variance of their noise, a fresh normal number per partial sum draws that noise, the reference
column (offset encoding) is subtracted in analog, each array's ADCs digitise their columns, and
the codes of the arrays a matrix is split over are added digitally, then shifted and added over
the ADC groups of a multi-plane encoding (:func:`combine`). What comes out is ADC codes; the tile
rescales them to weight units (``Tile.output_scale``).

Units. Everything here is in ADC codes per DAC level: the read matrices were converted once per
drift (``Tile.drift_to``), so a read is the DAC rounding, one matrix product per array (two with
read noise), one normal number per partial sum, the ADC rounding and one rescale.

Each function takes what it needs explicitly (the converters, the stream of normal numbers, the
reference-column layout, scratch buffers), so a read can be tested without a programmed chip:
``read_out([currents], [var], adc=ADC(), normals=NormalSource(0))`` is the ADC of
``currents + sqrt(var) * z``. :class:`aimc.tile.Tile` keeps thin methods of the same names
(``Tile.read``, ``Tile.read_out``, …) that pass its own converters, stream and buffers.

Hot path. On the CPU, in float32, without gradients and with an ideal ADC the read-out (noise,
ADC and digital sum over arrays) is one compiled pass per tensor
(:func:`aimc.periphery.kernels.noisy_adc_sum`) with the same numbers as the tensor code
(``tests/test_read_fused.py`` compares them bit for bit); the DAC of a linear layer's rows is one
compiled pass too (:func:`dac_compiled`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch import nn

from ..array import LinearOp, NormalSource
from ..array.crossbar import add_noise, column_variance
from ..array.read_matrices import ReadMatrices
from ..periphery import ADC, DAC


class OnDevice:
    """A :class:`NormalSource` whose numbers are drawn on the CPU (the same stream as a CPU
    read) and copied to ``device``."""

    def __init__(self, source: NormalSource, device: torch.device) -> None:
        self.source, self.device = source, device

    def draw(self, shape: torch.Size | tuple[int, ...]) -> torch.Tensor:
        return self.source.draw(shape).to(self.device)


def products(levels: torch.Tensor, matrices: ReadMatrices,
             op: LinearOp = torch.matmul) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Column currents ``op(V, G)`` and the variance of their read noise (read, thermal and
    shot noise; None without noise) in ADC codes, noise not yet drawn
    (:func:`aimc.array.column_variance`)."""
    currents = op(levels, matrices.w)
    return currents, column_variance(levels, currents, matrices.var, op, matrices.bias, matrices.shot)


def fusable(currents: torch.Tensor, out: torch.Tensor | None, adc: ADC, reference_column: bool) -> bool:
    """Whether the read-out of ``currents`` (onto ``out``) can take the compiled pass
    (:func:`read_out_fused`): CPU, float32, no gradient, an ideal ADC, no reference column."""
    return (currents.device.type == "cpu" and currents.dtype == torch.float32
            and not currents.requires_grad and adc.kind == "ideal" and not reference_column
            and (out is None or (out.dtype == torch.float32 and not out.requires_grad)))


def read_out(currents: Sequence[torch.Tensor], var: Sequence[torch.Tensor | None], *, adc: ADC,
             normals: NormalSource, adc_instance: torch.Tensor | None = None, reference_column: bool = False,
             columns: int | None = None, channel_dim: int = -1, arrays: int = 1,
             out: torch.Tensor | None = None, scratch: list[np.ndarray] | None = None) -> torch.Tensor:
    """Noise drawn (fresh normal numbers from ``normals``), reference column subtracted, ADC,
    digital sum over ``arrays`` blocks of channels (onto ``out`` if given).

    ``currents``: one tensor holding the ``arrays`` blocks along ``channel_dim``, or one tensor
    per array (the blocks, not yet concatenated); ``var`` alike (None: no read noise).
    ``adc_instance``: the ADC's drawn mismatch (``ADC.draw_instance``); ``reference_column``:
    the last of every ``columns`` channels is the offset encoding's reference, subtracted from
    the others before the ADC. Takes the compiled pass when :func:`fusable`, else the tensor
    code (:func:`read_out_tensor`); the numbers are the same whenever the ADC quantises (integer
    codes: the order of the digital sum does not matter; with ``bits=None`` a sum over more than
    three arrays may differ in the last bit). The inputs are left unchanged (the two paths it
    calls overwrite ``currents`` and ``var``, which a tile's read owns).

    Example:
        >>> from aimc.array import NormalSource
        >>> codes = read_out([torch.full((2, 3), 4.2)], [None], adc=ADC(bits=8), normals=NormalSource(0))
        >>> codes.tolist()
        [[4.0, 4.0, 4.0], [4.0, 4.0, 4.0]]
    """
    dim = channel_dim % currents[0].dim()
    currents = [c.clone() for c in currents]  # the caller's tensors stay as they were
    var = [None if v is None else v.clone() for v in var]
    if fusable(currents[0], out, adc, reference_column):
        return read_out_fused(currents, var, dim, arrays, out, adc=adc, normals=normals, scratch=scratch)
    return read_out_tensor(currents, var, dim, arrays, out, adc=adc, normals=normals,
                           adc_instance=adc_instance, reference_column=reference_column, columns=columns)


def read_out_tensor(currents: Sequence[torch.Tensor], var: Sequence[torch.Tensor | None], dim: int,
                    arrays: int, out: torch.Tensor | None, *, adc: ADC, normals: NormalSource,
                    adc_instance: torch.Tensor | None = None, reference_column: bool = False,
                    columns: int | None = None) -> torch.Tensor:
    """:func:`read_out` as tensor code (any device, dtype, gradient and ADC); ``dim`` is the
    non-negative channel dimension. Adds the noise into ``currents`` and takes the square root
    of ``var`` in place (a tile's read owns both)."""
    cat = len(currents) > 1
    cur = torch.cat(list(currents), dim) if cat else currents[0]
    v = None if var[0] is None else (torch.cat(list(var), dim) if cat else var[0])
    normals = normals if cur.device.type == "cpu" else OnDevice(normals, cur.device)
    cur = add_noise(cur, v, normals)
    if reference_column:
        c = cur.unflatten(dim, (-1, columns))
        cur = (c.narrow(dim + 1, 0, columns - 1) - c.narrow(dim + 1, columns - 1, 1))
        cur = cur.flatten(dim, dim + 1)
    codes = adc.digitize(cur, normals.draw, adc_instance)
    if arrays > 1:
        codes = codes.unflatten(dim, (arrays, -1)).sum(dim)
    return codes if out is None else out.add_(codes)


def read_out_fused(currents: Sequence[torch.Tensor], var: Sequence[torch.Tensor | None], dim: int,
                   arrays: int, out: torch.Tensor | None, *, adc: ADC, normals: NormalSource,
                   scratch: list[np.ndarray] | None = None) -> torch.Tensor:
    """:func:`read_out` as one compiled pass per tensor (:func:`fusable` inputs only), drawing
    the same normal numbers in the same order as :func:`read_out_tensor`. ``scratch``: two
    float32 buffers (a list, grown in place) for numbers that must be transposed to contiguous
    memory; reused between reads when given. Overwrites ``var`` with the noise's std and, when
    one tensor holds one array with its channels fastest, ``currents[0]`` with the codes it
    returns (a tile's read owns both)."""
    if scratch is None:
        scratch = [np.empty(0, dtype=np.float32)] * 2
    first = currents[0]
    width = first.shape[dim]  # channels of one tensor
    channels = width * len(currents) // arrays  # channels of one array
    shape = first.shape[:dim] + (width * len(currents),) + first.shape[dim + 1:]
    if out is not None and not out.movedim(dim, -1).is_contiguous():  # not viewable: add after
        return out.add_(read_out_fused(currents, var, dim, arrays, None, adc=adc, normals=normals,
                                       scratch=scratch))
    noisy = var[0] is not None
    z = normals.draw(shape) if noisy else None  # in the order of the grouped currents
    if z is not None and adc.noise > 0.0:
        z = z.clone()  # the ADC's numbers come from the same buffer
    z_adc = normals.draw(shape) if adc.noise > 0.0 else None
    # the noise's std by torch's own square root (its vectorised float32 sqrt differs from a
    # correctly rounded one in the last bit), so the codes equal the tensor path's
    # (in place: the variances are this read's own temporaries)
    std = [None if v is None else
           (v.clamp_(min=0.0) if v.shape == c.shape else v.expand_as(c).clamp(min=0.0)).sqrt_()
           for c, v in zip(currents, var, strict=True)]
    if out is None and len(currents) == arrays and first.movedim(dim, -1).is_contiguous():
        # one array per tensor, channels fastest: the codes overwrite the first array's currents
        # (this read's own temporaries, as the tensor path adds the noise in place), which
        # spares a fresh output and its page faults
        out, accumulate, inplace = first, False, True
    elif out is None:  # channels fastest in memory (channels-last for an image)
        lead = [s for d, s in enumerate(first.shape) if d != dim]
        out = torch.empty((*lead, channels), dtype=torch.float32).movedim(-1, dim)
        accumulate, inplace = False, False
    else:
        accumulate, inplace = True, False

    def blocks(t: torch.Tensor, n: int) -> np.ndarray:  # [P, Q, n, channels], a view
        t = t.movedim(dim, -1)
        t = t.unsqueeze(0) if t.dim() == 1 else t
        t = t.unsqueeze(1) if t.dim() == 2 else t.flatten(1, -2)
        return t.unflatten(-1, (n, -1)).numpy()

    dst = blocks(out, 1)[:, :, 0]  # a view: out is channels-last contiguous (checked or made so)
    empty = np.empty((0, 0, 0, 0), dtype=np.float32)
    n = arrays // len(currents)  # arrays per tensor

    def part(t: torch.Tensor | None, i: int, k: int) -> np.ndarray:
        if t is None:
            return empty
        b = blocks(t.narrow(dim, i * width, width), n)
        if b.strides[-1] == b.itemsize or b.shape[-1] == 1:
            return b
        # numbers drawn channel-first (NCHW) for channel-last currents: transposed into a
        # reused buffer, so that the compiled loop runs over contiguous memory
        if scratch[k].size < b.size:
            scratch[k] = np.empty(b.size, dtype=np.float32)
        contiguous = scratch[k][:b.size].reshape(b.shape)
        np.copyto(contiguous, b)
        return contiguous

    for i, (c, v) in enumerate(zip(currents, std, strict=True)):
        _kernels().noisy_adc_sum(blocks(c, n), empty if v is None else blocks(v, n), part(z, i, 0),
                      part(z_adc, i, 1), dst, accumulate or i > 0, noisy, 1.0 + adc.gain_error,
                      adc.offset, adc.noise, adc.levels is not None, adc.max_code or 0.0,
                      inplace and i == 0)
    return out


def combine(codes: torch.Tensor, beta: Sequence[float]) -> torch.Tensor:
    """Digital shift-and-add of ADC codes ``[B, groups*out, ...]`` (summed over arrays) over
    the ADC groups, weighted by ``beta`` (one factor per group) → ``[B, out, ...]``."""
    if len(beta) > 1:
        codes = codes.unflatten(1, (len(beta), -1))
        beta = torch.tensor(beta, dtype=codes.dtype, device=codes.device)
        beta = beta.view(1, -1, *([1] * (codes.dim() - 2)))
        codes = (codes * beta).sum(1)
    return codes


ReadOut = Callable[..., torch.Tensor]


def read_codes(levels: torch.Tensor, matrices: ReadMatrices, read_out: ReadOut,
               beta: Sequence[float] = (1.0,)) -> torch.Tensor:
    """DAC levels ``[batch, in]`` → codes summed over arrays and recombined over the ADC groups
    ``[batch, out]``, for matrices in the output-major layout (``[arrays, groups*columns,
    rows]``, :func:`aimc.array.read_matrices.output_major`; levels beyond ``in`` are the zero
    levels of the unused rows of the last array).

    Each array is one ``F.linear`` on its slice of the inputs (output-major conductances: the
    layout BLAS multiplies fastest); ``read_out(currents, var, out=...)`` digitises the partial
    sums of one array (e.g. :func:`read_out` with the converters bound, or ``Tile.read_out``)
    and adds them to those of the arrays before it.
    """
    levels = levels.to(matrices.w.device)  # e.g. CPU calibration inputs of drift compensation
    row_arrays, _, rows = matrices.w.shape
    pad = row_arrays * rows - levels.shape[1]
    if pad:
        levels = nn.functional.pad(levels, (0, pad))
    squares = levels * levels if matrices.var is not None else None  # once for every array
    total = None
    for a in range(row_arrays):
        m = matrices.array(a)
        v = _array_rows(levels, a, rows, row_arrays)
        currents = nn.functional.linear(v, m.w)
        sq = _array_rows(squares, a, rows, row_arrays)
        var = column_variance(v, currents, m.var, nn.functional.linear, m.bias, m.shot, squares=sq)
        total = read_out([currents], [var], out=total)
    return combine(total, beta)


def fast_linear(matrices: ReadMatrices, adc: ADC, reference_column: bool, groups: int) -> bool:
    """Whether a linear read with ``matrices`` can take :func:`read_linear_fast`: an ideal
    noiseless ADC, no reference column, one ADC group, CPU float32 conductances (the caller
    checks the inputs: CPU float32, no gradient). Read, thermal and shot noise may be on."""
    return (matrices.w.device.type == "cpu" and matrices.w.dtype == torch.float32
            and adc.kind == "ideal" and adc.noise == 0.0 and not reference_column and groups == 1)


class LinearPlan:
    """What :func:`read_linear_fast` takes from one set of read matrices as it is, prepared once
    per drift (``Tile`` keeps it with its matrices) instead of at every read: each array's
    conductances (and noise variances) as the ``[rows, columns]`` views its product takes, and
    which noise terms the read adds. A read costs a few microseconds of Python per tensor
    operation; a layer that took three dozen of them per read spent more there than in its
    DAC on a small batch."""

    __slots__ = ("matrices", "arrays", "columns", "rows", "w", "var", "noisy", "plain")

    def __init__(self, matrices: ReadMatrices) -> None:
        self.matrices = matrices
        self.arrays, self.columns, self.rows = matrices.w.shape
        self.w = tuple(w.t() for w in matrices.w)
        self.noisy = not (matrices.var is None and matrices.bias is None and matrices.shot is None)
        # the variance is one product of non-negative numbers (no clamp needed before the root)
        self.plain = (matrices.bias is None and matrices.shot is None and matrices.var is not None
                      and matrices.var.dtype == torch.float32)
        self.var = tuple(v.t() for v in matrices.var) if self.plain else None


def read_linear_fast(levels: torch.Tensor, matrices: ReadMatrices | LinearPlan, adc: ADC,
                     normals: NormalSource, col_scale: torch.Tensor, step: torch.Tensor | float,
                     bias: torch.Tensor | None = None) -> torch.Tensor:
    """:func:`read_codes` followed by :func:`to_weight_units` for the reads of
    :func:`fast_linear`, bit for bit, with fewer passes over memory: array by array, the
    products go into reused buffers and one compiled loop adds the noise, digitises and adds
    the codes to those of the arrays before
    (:func:`~aimc.periphery.kernels.adc_rows_add`); the last array's loop rescales each row
    and adds the bias too. Per array with noise: the variance product
    (:func:`aimc.array.column_variance`), its square root by torch and the array's normal
    numbers (drawn as the general path draws them, array by array). One array's buffers at a
    time keep a read's working set in the core's cache. ``levels``: ``[B, arrays*rows]``
    float32 on the CPU (the zero levels of unused rows included); ``matrices``: the read
    matrices or their :class:`LinearPlan`."""
    plan = matrices if isinstance(matrices, LinearPlan) else LinearPlan(matrices)
    kernels = _kernels()
    batch, rows, columns = levels.shape[0], plan.rows, plan.columns
    steps = _row_steps(step, batch).numpy()
    bias_np = steps if bias is None else _numpy(bias)
    scale_np = _numpy(col_scale)
    gain, quantize, max_code, scaled, offset = _terms(adc)
    out = torch.empty(batch, columns, dtype=torch.float32)
    out_np = out.numpy()
    noisy, last = plan.noisy, plan.arrays - 1
    squares = None if plan.matrices.var is None else \
        torch.mul(levels, levels, out=scratch_view(2, *levels.shape)[0])  # once for every array
    currents, cur_np = scratch_view(1, batch, columns)
    std_np = z_np = cur_np  # unread without noise
    for a, (v, w) in enumerate(zip(levels.split(rows, 1) if last else (levels,), plan.w, strict=True)):
        torch.mm(v, w, out=currents)
        if noisy:
            sq = _array_rows(squares, a, rows, plan.arrays)
            if plan.plain:  # column_variance's product, into a reused buffer
                std = torch.mm(sq, plan.var[a], out=scratch_view(3, batch, columns)[0])
            else:
                m = plan.matrices.array(a)
                std = column_variance(v, currents, m.var, nn.functional.linear, m.bias, m.shot,
                                      squares=sq).clamp_(min=0.0)
            std_np = std.sqrt_().numpy()  # torch's square root, as the general path takes it
            z_np = normals.draw(currents.shape).numpy()
        kernels.adc_rows_add(cur_np, std_np, z_np, out_np, a > 0, noisy, scaled, gain, offset, quantize,
                             max_code, a == last, scale_np, steps, bias_np, bias is not None)
    return out


_terms_cache: dict[int, tuple[ADC | DAC, tuple]] = {}


def _terms(converter: ADC | DAC) -> tuple:
    """A converter's numbers for the compiled loops, once per converter (``ADC`` and ``DAC`` are
    frozen; a read looks them up instead of evaluating their properties again). An ideal ADC:
    gain, whether it quantises, the largest code (0: no clipping), whether it scales (gain error
    or offset, decided as :meth:`ADC.digitize` decides it) and the offset
    (:func:`~aimc.periphery.kernels.adc_rows_add`). A DAC: the top level, the fixed input range
    (0: abs-max scaling per row) and whether it rounds (:func:`~aimc.periphery.kernels.dac_rows`)."""
    hit = _terms_cache.get(id(converter))
    if hit is None or hit[0] is not converter:
        if len(_terms_cache) > 256:
            _terms_cache.clear()
        if isinstance(converter, ADC):
            adc = converter
            terms = (1.0 + adc.gain_error, adc.levels is not None, adc.max_code or 0.0,
                     bool(adc.gain_error or adc.offset), adc.offset)
        else:
            dac = converter
            terms = (float(dac.levels or 1), dac.input_range if dac.scaling == "fixed" else 0.0,
                     dac.levels is not None)
        hit = _terms_cache[id(converter)] = (converter, terms)
    return hit[1]


def _numpy(t: torch.Tensor) -> np.ndarray:
    """A CPU float32 tensor's numbers as a numpy array (a view when contiguous)."""
    return (t if t.is_contiguous() else t.contiguous()).detach().numpy()


_kernel_module = None


def _kernels():
    """:mod:`aimc.periphery.kernels` (numba), imported at the first read."""
    global _kernel_module
    if _kernel_module is None:
        from ..periphery import kernels
        _kernel_module = kernels
    return _kernel_module


def _row_steps(step: torch.Tensor | float, batch: int) -> torch.Tensor:
    """The DAC's value of one level for each of ``batch`` input rows, float32 ``[batch]``."""
    rows = step.reshape(-1).contiguous() if isinstance(step, torch.Tensor) \
        else torch.full((batch,), float(step), dtype=torch.float32)
    return rows.expand(batch).contiguous() if rows.numel() == 1 and batch != 1 else rows


def _array_rows(t: torch.Tensor | None, a: int, rows: int, arrays: int) -> torch.Tensor | None:
    """The columns of ``t [B, arrays*rows]`` (levels or their squares) that array ``a`` reads."""
    return t if t is None or arrays == 1 else t[:, a * rows:(a + 1) * rows]


_scratch = threading.local()

#: the largest buffer (float32 elements, 64 MiB) that :func:`scratch` keeps between reads
SCRATCH_LIMIT = 16 * 2**20


def scratch(slot: int, numel: int) -> torch.Tensor:
    """A float32 buffer of ``numel`` elements for a read's internal temporaries (DAC levels, …):
    one per ``slot`` and thread, grown when too small and reused by every later read of any
    tile on this thread. Fresh tensors of a few MB cost the kernel's page faults at every read
    (as much as the pass that fills them); a reused one does not. Larger requests than
    :data:`SCRATCH_LIMIT` get a fresh tensor that is not kept. Valid until the next read on
    the same thread asks for the same slot: never return it to the caller. Made outside
    inference mode (an inference tensor could not be written by later reads outside it).
    Slots: 0 the DAC levels, 1-3 :func:`read_linear_fast`'s currents, input squares and
    variances, 4 the DAC's value of one level of each row; as each keeps at most
    :data:`SCRATCH_LIMIT`, a thread that reads holds at most 320 MiB between reads (as much as
    the largest read's temporaries; small reads, small buffers)."""
    buffers = getattr(_scratch, "buffers", None)
    if buffers is None:
        buffers = _scratch.buffers = {}
    buf = buffers.get(slot)
    if buf is None or buf.numel() < numel:
        with torch.inference_mode(False):
            buf = torch.empty(numel, dtype=torch.float32)
        if numel > SCRATCH_LIMIT:
            return buf
        buffers[slot] = buf
    return buf[:numel]


def scratch_view(slot: int, batch: int, width: int) -> tuple[torch.Tensor, np.ndarray]:
    """:func:`scratch` ``(slot, batch * width)`` as a ``[batch, width]`` tensor and its numpy
    view, kept with the buffer (made again when the buffer grows): a read asks for the same
    shapes again and again, and making two views costs more than looking them up."""
    views = getattr(_scratch, "views", None)
    if views is None:
        views = _scratch.views = {}
    of_slot = views.get(slot)
    if of_slot is not None and of_slot[0] is _scratch.buffers.get(slot):
        hit = of_slot[1].get((batch, width))
        if hit is not None:
            return hit
    buf = scratch(slot, batch * width)
    t = buf.view(batch, width)
    if batch * width > SCRATCH_LIMIT:  # a fresh tensor, not kept
        return t, t.numpy()
    kept = _scratch.buffers[slot]
    if of_slot is None or of_slot[0] is not kept:  # the buffer grew: the old views go with it
        of_slot = views[slot] = (kept, {})
    hit = of_slot[1][(batch, width)] = (t, t.numpy())
    return hit


def dac_compiled(x: torch.Tensor, dac: DAC,
                 rows: int | None = None) -> tuple[torch.Tensor, torch.Tensor | float]:
    """:meth:`DAC.to_levels` of the rows of ``x [B, n]`` (one abs-max scale per row) as one
    compiled pass (the same numbers, :func:`aimc.periphery.kernels.dac_rows`); with ``rows``
    (> n) into a ``[B, rows]`` buffer whose columns beyond ``n`` hold the zero levels of unused
    array rows. Returns the levels and the digital value of one level (per row, ``[B, 1]``, or
    one number for a fixed range), both in this thread's reused :func:`scratch` buffers: valid
    until the next read. Refuses NaN and infinity."""
    top, fixed_range, rounds = _terms(dac)
    x = x.contiguous()
    batch, n = x.shape
    rows = n if rows is None else max(rows, n)
    levels, out = scratch_view(0, batch, rows)
    if rows > n:
        out[:, n:] = 0.0  # through numpy: no autograd version counter, also in inference mode
        out = out[:, :n]
    step, step_np = scratch_view(4, batch, 1)
    _kernels().dac_levels(x, top, fixed_range, rounds, out, step_np.reshape(batch))
    return levels, (fixed_range / top if fixed_range > 0.0 else step)


def to_weight_units(codes: torch.Tensor, col_scale: torch.Tensor, step: torch.Tensor | float,
                    bias: torch.Tensor | None = None) -> torch.Tensor:
    """The digital end of a linear read: codes ``[B, out]`` times the per-column factor to
    weight units (``Tile.output_scale``) times the DAC's value of one level (``step``: per row
    ``[B, 1]``, or one number), plus ``bias [out]``. In place on ``codes`` (the read's own);
    one compiled pass on the CPU in float32 without gradients, with the numbers of the tensor
    code (:func:`aimc.periphery.kernels.scale_rows`)."""
    tensors = [codes, col_scale] + ([step] if isinstance(step, torch.Tensor) else []) \
        + ([] if bias is None else [bias])
    m = codes.shape[-1]
    shapes_fit = (codes.dim() == 2 and col_scale.shape == (m,) and (bias is None or bias.shape == (m,))
                  and (not isinstance(step, torch.Tensor) or step.numel() == 1
                       or step.shape == (codes.shape[0], 1)))
    if (shapes_fit and all(t.device.type == "cpu" and t.dtype == torch.float32 for t in tensors)
            and not (torch.is_grad_enabled() and any(t.requires_grad for t in tensors))):
        rows = _row_steps(step, codes.shape[0])
        codes = codes.contiguous()
        _kernels().scale_rows(codes.numpy(), col_scale.contiguous().numpy(), rows.numpy(),
                   (rows if bias is None else bias.detach().contiguous()).numpy(), bias is not None)
        return codes
    y = codes.mul_(col_scale)
    y = y.mul_(step) if isinstance(step, torch.Tensor) else y.mul_(float(step))
    return y if bias is None else y + bias
