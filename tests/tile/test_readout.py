"""The read of a tile on its own (``aimc.tile.readout``): hand-made currents, variances and
matrices, no programmed chip; and the tile's read methods are these functions with the tile's
converters, noise stream and buffers."""

import functools

import numpy as np
import pytest
import torch
from torch import nn

from aimc.array import NormalSource
from aimc.array.read_matrices import ReadMatrices, output_major, output_major_bias
from aimc.devices import PCM
from aimc.periphery import ADC, DAC
from aimc.tile import Tile
from aimc.tile import readout as ro

ADC8 = ADC(bits=8, full_scale=12.0)  # codes rounded and clipped at +-127


def _currents(shape, seed, scale=60.0):
    """Currents in ADC codes, many beyond the clipping bound 127 when ``scale`` is large."""
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed)) * scale


@pytest.mark.parametrize("fused", [True, False], ids=["compiled", "tensor"])
@pytest.mark.parametrize("adc", [ADC8, ADC(bits=6, full_scale=12.0, noise=0.7)], ids=["ideal", "noisy-adc"])
def test_read_out_is_the_adc_of_currents_plus_std_times_normal_numbers(fused, adc):
    currents, var = _currents((5, 12), 0, 100.0), _currents((5, 12), 1, 3.0).square()
    c = currents.clone().requires_grad_(not fused)  # a gradient forces the tensor code
    assert ro.fusable(c, None, adc, False) is fused
    codes = ro.read_out([c], [var.clone()], adc=adc, normals=NormalSource(7))
    z = NormalSource(7)
    noisy = currents + var.sqrt() * z.draw(currents.shape)  # read noise first, then the ADC's
    expected = adc.digitize(noisy, z.draw)
    assert torch.equal(codes.detach(), expected)
    assert (expected.abs() == adc.max_code).any() and (expected.abs() < adc.max_code).any()


def test_reference_column_is_subtracted_in_analog_before_the_adc():
    """Offset encoding: the last of every ``columns`` channels is the reference; the ADC sees the
    difference (a reference of 200 codes would clip on its own)."""
    currents = _currents((4, 6), 2) + 200.0
    codes = ro.read_out([currents.clone()], [None], adc=ADC8, normals=NormalSource(0),
                        reference_column=True, columns=3)
    diff = torch.cat([currents[:, 0:2] - currents[:, 2:3], currents[:, 3:5] - currents[:, 5:6]], dim=1)
    assert torch.equal(codes, ADC8.digitize(diff))
    each = ADC8.digitize(currents[:, [0, 1, 3, 4]]) - ADC8.digitize(currents[:, [2, 2, 5, 5]])
    assert not torch.equal(codes, each)


@pytest.mark.parametrize("channel_dim", [1, -1])
def test_arrays_are_digitised_each_and_summed_digitally(channel_dim):
    """Three arrays' blocks of channels: each block clips at its own ADC, then the codes add up
    (not the ADC of the analog sum, which would clip once)."""
    currents = _currents((2, 3 * 4, 5), 3).movedim(1, channel_dim)
    codes = ro.read_out([currents.clone()], [None], adc=ADC8, normals=NormalSource(0),
                        channel_dim=1 if channel_dim == 1 else -1, arrays=3)
    blocks = currents.unflatten(1 if channel_dim == 1 else -1, (3, 4))
    expected = ADC8.digitize(blocks.clone()).sum(1 if channel_dim == 1 else -2)
    assert torch.equal(codes, expected)
    assert not torch.equal(expected, ADC8.digitize(blocks.sum(1 if channel_dim == 1 else -2)))


@pytest.mark.parametrize("fused", [True, False], ids=["compiled", "tensor"])
def test_one_tensor_per_array_reads_as_the_concatenated_blocks(fused):
    """``read_out`` of per-array tensors draws its noise as for the grouped currents, and adds to
    ``out``."""
    parts = [_currents((3, 4, 5), s) for s in (4, 5)]
    var = [_currents((3, 4, 5), s, 2.0).square() for s in (6, 7)]
    start = torch.full((3, 4, 5), 1.0)
    split = ro.read_out([p.clone().requires_grad_(not fused) for p in parts], [v.clone() for v in var],
                        adc=ADC8, normals=NormalSource(9), channel_dim=-1, arrays=2, out=start.clone())
    grouped = ro.read_out([torch.cat(parts, -1)], [torch.cat(var, -1)], adc=ADC8, normals=NormalSource(9),
                          channel_dim=-1, arrays=2)
    assert torch.equal(split.detach(), grouped + 1.0)


def test_combine_shifts_and_adds_the_adc_groups():
    codes = torch.arange(2 * 3 * 4, dtype=torch.float32).view(2, 3 * 4)
    combined = ro.combine(codes, (1.0, 16.0, 256.0))
    assert torch.equal(combined, codes[:, 0:4] + 16 * codes[:, 4:8] + 256 * codes[:, 8:12])
    assert ro.combine(codes, (1.0,)) is codes


def test_read_codes_pads_splits_over_arrays_and_sums_the_partial_codes():
    """Seven inputs on two arrays of four rows (one padding row), integer levels and weights so
    that every product is exact: the codes are the clipped partial sums of each array, added."""
    gen = torch.Generator().manual_seed(0)
    weight = torch.randint(-9, 10, (3, 7), generator=gen).float()  # [out, in]
    padded = nn.functional.pad(weight, (0, 1))
    w = padded.view(3, 2, 4).permute(1, 0, 2).contiguous()  # [arrays, out, rows]: output-major
    levels = torch.randint(-12, 13, (5, 7), generator=gen).float()
    read_out = functools.partial(ro.read_out, adc=ADC8, normals=NormalSource(0))
    codes = ro.read_codes(levels, ReadMatrices(w), read_out)
    v = nn.functional.pad(levels, (0, 1))
    expected = ADC8.digitize(v[:, :4] @ padded[:, :4].T) + ADC8.digitize(v[:, 4:] @ padded[:, 4:].T)
    assert torch.equal(codes, expected)
    assert (v[:, :4] @ padded[:, :4].T).abs().max() > 127  # the partial sums clip


def test_dac_compiled_equals_the_dacs_tensor_code():
    x = torch.randn(6, 10, generator=torch.Generator().manual_seed(1))
    for dac in (DAC(bits=8), DAC(bits=6, scaling="fixed", input_range=1.5), DAC(bits=None)):
        levels, step = ro.dac_compiled(x, dac, rows=16)
        reference, ref_step = dac.to_levels(x)
        assert levels.shape == (6, 16) and torch.equal(levels[:, 10:], torch.zeros(6, 6))
        assert torch.equal(levels[:, :10], reference)
        assert torch.equal(torch.as_tensor(step).expand(6, 1), torch.as_tensor(ref_step).expand(6, 1))
    for bad in (float("nan"), float("inf"), -float("inf")):  # anywhere in any row
        x_bad = x.clone()
        x_bad[4, 7] = bad
        with pytest.raises(ValueError, match="NaN or infinite"):
            ro.dac_compiled(x_bad, DAC())


def test_dac_row_peaks_are_the_abs_max_and_refuse_nan_and_infinity():
    """The compiled DAC finds each row's peak as an integer maximum over the floats' bits: the
    abs-max (negative peaks, signed zeros, subnormals), and NaN or infinity anywhere is refused."""
    from aimc.periphery.kernels import dac_rows

    def peaks(x: np.ndarray) -> tuple[np.ndarray, bool]:  # top 1, no rounding: step = peak
        levels, step = np.empty_like(x), np.empty(x.shape[0], dtype=np.float32)
        return step, dac_rows(x, x.view(np.int32), 1.0, 0.0, False, levels, step)

    x = torch.randn(7, 33, generator=torch.Generator().manual_seed(2))
    x[3, 5] = -9.0  # the peak of a row is a negative number
    x[5] = 0.0
    x[5, 4] = -0.0  # an all-zero row: the peak is clamped to the smallest normal float
    x[6] = 0.0
    x[6, 30] = -2e-38  # a peak just above the smallest normal float
    x[6, 31] = 1e-40  # a subnormal
    step, finite = peaks(x.numpy())
    tiny = torch.finfo(torch.float32).tiny
    assert finite and torch.equal(torch.from_numpy(step), x.abs().amax(dim=1).clamp(min=tiny))
    for row, bad in ((1, float("nan")), (2, -float("inf")), (4, float("inf"))):
        y = x.clone()
        y[row, 8] = bad
        assert not peaks(y.numpy())[1]
    assert peaks(np.full((2, 3), np.float32(3.4e38)))[1]  # the largest floats are finite


def test_dac_levels_of_consecutive_reads_do_not_leak_between_layer_sizes():
    """The levels live in a reused buffer: a narrow read after a wide one still sees zero
    levels on its padding rows."""
    dac = DAC(bits=8)
    g = torch.Generator().manual_seed(3)
    ro.dac_compiled(torch.randn(9, 40, generator=g) + 5.0, dac)  # fills the buffer
    x = torch.randn(9, 10, generator=g)
    levels, _ = ro.dac_compiled(x, dac, rows=16)
    assert torch.equal(levels[:, 10:], torch.zeros(9, 6))
    assert torch.equal(levels[:, :10], dac.to_levels(x)[0])


def test_scratch_views_follow_a_grown_buffer():
    """The kept views of a scratch buffer are made again when a larger read grows it: a read of
    the first shape after the growth writes into the buffer in use, not into the old one."""
    t1, a1 = ro.scratch_view(5, 3, 4)
    assert ro.scratch_view(5, 3, 4)[0] is t1  # kept
    ro.scratch_view(5, 64, 64)  # grows the buffer of slot 5
    t2, a2 = ro.scratch_view(5, 3, 4)
    assert t2.data_ptr() == ro.scratch(5, 12).data_ptr() != t1.data_ptr()
    a2[:] = 7.0
    assert torch.equal(ro.scratch(5, 12).view(3, 4), torch.full((3, 4), 7.0))
    assert np.shares_memory(a2, t2.numpy())


@pytest.mark.parametrize("step_kind", ["rows", "fixed"])
@pytest.mark.parametrize("with_bias", [True, False])
def test_to_weight_units_compiled_equals_the_tensor_code(step_kind, with_bias):
    g = torch.Generator().manual_seed(4)
    codes = torch.randint(-127, 128, (11, 19), generator=g).float()
    col = torch.rand(19, generator=g) * 1e-3
    step = torch.rand(11, 1, generator=g) if step_kind == "rows" else 0.0173
    bias = torch.randn(19, generator=g) if with_bias else None
    expected = codes.clone().mul_(col)
    expected = expected.mul_(step) if step_kind == "rows" else expected.mul_(float(step))
    expected = expected if bias is None else expected + bias
    assert torch.equal(ro.to_weight_units(codes.clone(), col, step, bias), expected)  # compiled
    with torch.no_grad():  # float64: the tensor code, in float64
        step64 = step if step_kind == "fixed" else step.double()
        bias64 = None if bias is None else bias.double()
        y64 = ro.to_weight_units(codes.double(), col.double(), step64, bias64)
    assert y64.dtype == torch.float64 and torch.allclose(y64.float(), expected, rtol=1e-6, atol=1e-6)


def test_the_compiled_epilogue_runs_where_it_should(monkeypatch):
    from aimc.periphery import kernels

    calls = []
    real = kernels.scale_rows
    monkeypatch.setattr(kernels, "scale_rows", lambda *a: calls.append(1) or real(*a))
    codes, col = torch.ones(4, 3), torch.full((3,), 0.5)
    ro.to_weight_units(codes.clone(), col, torch.full((4, 1), 2.0), torch.zeros(3))
    ro.to_weight_units(codes.clone(), col, 2.0)
    assert len(calls) == 2
    # shapes it does not take: a 1-D step (broadcast per column by the tensor code), a bias or
    # column factor of another length, another dtype; all through the tensor code
    ro.to_weight_units(codes.clone(), col, torch.full((3,), 2.0))
    ro.to_weight_units(codes.clone(), col, 2.0, torch.zeros(1))
    ro.to_weight_units(codes.double(), col.double(), 2.0)
    assert len(calls) == 2


def test_a_bias_that_needs_its_gradient_gets_one():
    codes, col = torch.ones(2, 3), torch.full((3,), 0.5)
    bias = torch.zeros(3, requires_grad=True)
    y = ro.to_weight_units(codes, col, 2.0, bias)
    y.sum().backward()
    assert torch.equal(bias.grad, torch.full((3,), 2.0)) and torch.equal(y.detach(), torch.ones(2, 3))


def test_the_tiles_read_is_the_readout_with_its_converters():
    """``Tile.read_codes`` of a programmed two-array tile equals :func:`readout.read_codes` given
    the tile's read matrices, ADC and a noise stream at the same state."""
    weight = torch.randn(6, 300, generator=torch.Generator().manual_seed(2))
    tile = Tile(weight, device=PCM(), dac=DAC(), adc=ADC8)
    tile.program(seed=4)
    tile.drift_to(3600.0)
    levels, _ = tile.dac.to_levels(torch.randn(8, 300, generator=torch.Generator().manual_seed(3)))
    normals = NormalSource()
    normals.set_state(tile.normals.get_state())
    matrices = tile.matrices(output_major, key="linear", bias_layout=output_major_bias)
    assert tile.row_arrays == 2 and matrices.var is not None
    read_out = functools.partial(ro.read_out, adc=tile.adc, normals=normals, adc_instance=tile.adc_instance,
                                 reference_column=tile.reference_column, columns=tile.columns)
    expected = ro.read_codes(levels, matrices, read_out, tile.beta)
    assert torch.equal(tile.read_codes(levels), expected)
    assert not torch.equal(tile.read_codes(levels), expected)  # the next read draws fresh noise


def test_public_read_out_leaves_its_inputs_alone():
    from aimc.array import NormalSource
    from aimc.periphery import ADC
    from aimc.tile.readout import read_out

    c, v = torch.full((2, 3, 4), 4.2), torch.full((2, 3, 4), 4.0)
    codes = read_out([c], [v], adc=ADC(bits=8), normals=NormalSource(0))
    assert codes.data_ptr() != c.data_ptr()
    assert torch.equal(c, torch.full((2, 3, 4), 4.2)) and torch.equal(v, torch.full((2, 3, 4), 4.0))


def _programmed_linear(n_in=301, n_out=5):
    import aimc

    torch.manual_seed(0)
    layer = nn.Linear(n_in, n_out)
    chip = aimc.load_chip("ibm-hermes-pcm")  # read noise off: two reads give the same numbers
    chip = chip.model_copy(update={"device": chip.device.model_copy(update={"read_noise_scale": 0.0})})
    analog, _ = aimc.convert(nn.Sequential(layer), chip)
    aimc.program(analog, seed=1)
    aimc.drift(analog, 86400.0)
    return analog[0]


def test_reads_outside_inference_mode_after_one_inside_it():
    """The reused DAC buffer is made outside inference mode: a tile whose last array has
    padding rows reads again under no_grad after a read under inference_mode."""
    layer = _programmed_linear()
    assert layer.tile.padded_rows > layer.in_features
    x = torch.randn(3, 301, generator=torch.Generator().manual_seed(0))
    ro._scratch.buffers = {}  # as on a new thread
    with torch.inference_mode():
        first = layer(x)
    with torch.no_grad():
        again = layer(x)
    assert torch.isfinite(first).all() and again.shape == first.shape


@pytest.mark.parametrize("model_dtype,input_dtype", [
    (torch.bfloat16, torch.bfloat16), (torch.float16, torch.float16), (torch.float32, torch.float64),
    (torch.float64, torch.float32), (torch.float64, torch.float64), (torch.float32, torch.float32)])
def test_a_linear_layer_adds_its_bias_as_before_in_every_dtype(model_dtype, input_dtype):
    """``layer(x)`` is ``layer.tile(x) + layer.bias`` bit for bit (the old code), the bias
    folded into the compiled pass or not."""
    layer = _programmed_linear().to(model_dtype)
    x = torch.randn(4, 301, generator=torch.Generator().manual_seed(2)).to(input_dtype)
    with torch.no_grad():
        assert torch.equal(layer(x), layer.tile(x) + layer.bias)


def test_a_bias_of_the_wrong_shape_is_refused():
    layer = _programmed_linear()
    with pytest.raises(ValueError, match=r"bias must have shape \(5,\)"):
        layer.tile(torch.zeros(2, 301), bias=torch.zeros(3))
