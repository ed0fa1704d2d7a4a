"""The fused read-out of a tile (one compiled pass, :func:`aimc.periphery.kernels.noisy_adc_sum`)
against the tensor path (``add_noise`` → reference column → ``ADC.digitize`` → sum over arrays).

Design promise (``Tile.read_out``): on the CPU, in float32, without gradients and with an ideal
ADC, the fused pass gives the numbers of the tensor path bit for bit. Each test builds two
identically programmed copies (same seed, same drift time, so the same stream of normal
numbers) and forces the tensor path on one of them by patching its ``Tile._fused``; a spy
checks that the other one really took the fused path.
"""

import copy
from functools import partial

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import aimc
from aimc.array import CircuitNoise
from aimc.chips import load_chip
from aimc.devices import PCM as PCMDevice
from aimc.encoding import Offset
from aimc.nn.layers import _conv_bias_layout, _split_outputs
from aimc.periphery import ADC, DAC
from aimc.tile import ReadMatrices, Tile

DAY = 86400.0
HERMES = load_chip("ibm-hermes-pcm")  # PCM read noise and drift, 8-bit converters, GDC

def _quiet(chip):
    """``chip`` without PCM read noise (drift and programming noise stay)."""
    return chip.model_copy(update={"device": chip.device.model_copy(update={"read_noise_scale": 0.0})})


CHIPS = {
    "read_noise": HERMES,
    "no_read_noise": _quiet(HERMES),
    "adc_noise": HERMES.model_copy(update={"adc": ADC(bits=8, full_scale=12.0, noise=0.7)}),
    "gain_offset": HERMES.model_copy(update={"adc": ADC(bits=8, full_scale=12.0, gain_error=-0.04,
                                                        offset=0.3)}),
    "unquantised": HERMES.model_copy(update={"adc": ADC(bits=None, full_scale=None)}),
    "clipping": HERMES.model_copy(update={"adc": ADC(bits=6, full_scale=0.5)}),
    # short integration: thermal noise ~0.5 LSB, so that it changes codes
    "thermal": _quiet(HERMES).model_copy(
        update={"circuit_noise": CircuitNoise(thermal=True, integration_time=1e-9)}),
    "shot": _quiet(HERMES).model_copy(
        update={"circuit_noise": CircuitNoise(shot=True, integration_time=1e-10)}),
    "everything": HERMES.model_copy(update={
        "circuit_noise": CircuitNoise(thermal=True, shot=True, integration_time=1e-9),
        "adc": ADC(bits=7, full_scale=1.0, noise=0.5, gain_error=0.02, offset=-0.3)}),
}

# (module, input shape, arrays the tile needs); 3x3 kernels keep 28 channels on a 256-row array
LINEARS = [(nn.Linear(n, 24), (6, n), a) for n, a in ((100, 1), (300, 2), (600, 3))]
CONVS = [
    (nn.Conv2d(16, 8, 3, padding=1), (2, 16, 8, 8), 1),
    (nn.Conv2d(20, 6, 3, stride=2, dilation=2, padding=3, padding_mode="reflect"), (2, 20, 9, 7), 1),
    (nn.Conv2d(40, 8, 3, stride=2), (2, 40, 9, 9), 2),
    (nn.Conv2d(100, 6, (1, 3), padding="same"), (2, 100, 5, 6), 2),  # 85 channels per array
    (nn.Conv2d(70, 8, 3, dilation=2, padding=2), (2, 70, 9, 9), 3),  # 70 = 3 x 24 - 2 padded
]


def _layer_cases(convs_only=False):
    return [pytest.param(module, shape, arrays, id=f"{type(module).__name__}-{shape[1]}in-{arrays}arrays")
            for module, shape, arrays in (CONVS if convs_only else LINEARS + CONVS)]


def _tiles(model):
    return [m for m in model.modules() if isinstance(m, Tile)]


def _spy(monkeypatch, tile, log):
    """Record, for every read-out of ``tile``: whether it takes the fused path, and the largest
    |current| (ADC codes, before noise) it digitises."""
    original = tile.read_out

    def read_out(currents, var, channel_dim=-1, arrays=1, out=None):
        log.append((tile._fused(currents[0], out), max(c.abs().max().item() for c in currents)))
        return original(currents, var, channel_dim, arrays, out)

    monkeypatch.setattr(tile, "read_out", read_out)


def _twins(monkeypatch, module, chip, seed=11, t=DAY):
    """Two copies of ``module`` converted to ``chip``, programmed with ``seed`` and drifted to
    ``t``: the first reads through the fused path, the second through the tensor path (patched
    before programming, so that drift compensation's calibration reads take it too)."""
    fused, tensor = (aimc.convert(copy.deepcopy(module), chip)[0] for _ in range(2))
    for tile in _tiles(fused) + _tiles(tensor):  # Linear forwards through Tile.read_out (not
        tile.fast_linear_reads = False  # readout.read_linear_fast: tests/test_read_linear_fast.py)
    log = []
    for tile in _tiles(fused):
        tile.fuse_matrix_reads = True  # the compiled pass for Linear reads too
        _spy(monkeypatch, tile, log)
    for tile in _tiles(tensor):
        monkeypatch.setattr(tile, "_fused", lambda currents, out: False)
    for model in (fused, tensor):
        aimc.program(model, seed=seed)
        aimc.drift(model, t)
    return fused, tensor, log


# ---------------------------------------------------------------- 1. fused == tensor, bit for bit
@pytest.mark.parametrize("module,shape,arrays", _layer_cases())
@pytest.mark.parametrize("name", list(CHIPS))
def test_fused_read_out_equals_tensor_path(monkeypatch, name, module, shape, arrays):
    chip = CHIPS[name]
    fused, tensor, log = _twins(monkeypatch, module, chip)
    assert fused.tile.row_arrays == arrays
    gen = torch.Generator().manual_seed(5)
    scale = 30.0 if name in ("clipping", "everything") else 1.0  # large inputs (abs-max DAC anyway)
    xs = [torch.randn(shape, generator=gen) * scale for _ in range(2)]  # two reads: the streams stay in step
    with torch.no_grad():
        for x in xs:
            y, reference = fused(x), tensor(x)
            assert torch.equal(y, reference), (y - reference).abs().max()
    assert log and all(took_fused for took_fused, _ in log)
    assert torch.isfinite(y).all() and y.abs().sum() > 0
    read = fused.tile._read
    assert (read.var is None) == (name in ("no_read_noise", "thermal", "shot"))
    assert (read.bias is not None) == (name in ("thermal", "everything"))
    assert (read.shot is not None) == (name in ("shot", "everything"))
    if chip.adc.max_code is not None and name in ("clipping", "everything"):
        assert max(peak for _, peak in log) > 2 * chip.adc.max_code  # the ADCs really clip


@pytest.mark.parametrize("name", ["read_noise", "everything"])
def test_fused_equals_tensor_path_at_programming_time_and_after_redrift(monkeypatch, name):
    """t = 0 (no drift, GDC reference read) and a second drift (new noise stream) agree too."""
    module, shape, _ = LINEARS[1]
    fused, tensor, _ = _twins(monkeypatch, module, CHIPS[name], seed=3, t=0.0)
    x = torch.randn(shape)
    with torch.no_grad():
        assert torch.equal(fused(x), tensor(x))
        for model in (fused, tensor):
            aimc.drift(model, 3600.0)
        assert torch.equal(fused(x), tensor(x))


# ---------------------------------------------------------------- 2. fallbacks: SAR ADC, offset encoding
SAR = HERMES.model_copy(update={"adc": ADC(kind="sar", bits=8, full_scale=12.0, cap_mismatch=0.03)})
OFFSET = HERMES.model_copy(update={"encoding": Offset()})


@pytest.mark.parametrize("chip", [pytest.param(SAR, id="sar"), pytest.param(OFFSET, id="offset")])
@pytest.mark.parametrize("module,shape,arrays", _layer_cases())
def test_fallbacks_take_the_tensor_path_and_are_reproducible(monkeypatch, chip, module, shape, arrays):
    first, second = (aimc.convert(copy.deepcopy(module), chip)[0] for _ in range(2))
    log = []
    _spy(monkeypatch, first.tile, log)
    for model in (first, second):
        aimc.program(model, seed=2)
        aimc.drift(model, DAY)
    x = torch.randn(shape)
    with torch.no_grad():
        y = first(x)
        assert y.shape == module(x).shape
        assert torch.equal(y, second(x))
    assert log and not any(took_fused for took_fused, _ in log)
    assert torch.isfinite(y).all() and y.abs().sum() > 0


@pytest.mark.parametrize("module,shape,arrays", _layer_cases())
def test_sar_without_mismatch_agrees_with_the_fused_ideal_adc(module, shape, arrays):
    """A SAR converter with matched capacitors decides like ideal rounding (apart from exact
    half-LSB ties, which read noise makes improbable), so the tensor path of a SAR chip and the
    compiled path of the same chip with an ideal ADC (the fused read-out; for Linear reads
    ``readout.read_linear_fast``) give the same outputs."""
    sar = HERMES.model_copy(update={"adc": ADC(kind="sar", bits=8, full_scale=12.0)})
    ideal, matched = (aimc.convert(copy.deepcopy(module), c)[0] for c in (HERMES, sar))
    for model in (ideal, matched):
        aimc.program(model, seed=4)
        aimc.drift(model, DAY)
    x = torch.randn(shape, generator=torch.Generator().manual_seed(3))  # seeded: no tie by chance
    with torch.no_grad():
        assert torch.equal(ideal(x), matched(x))


@pytest.mark.parametrize("module,shape,arrays", _layer_cases())
def test_offset_encoding_on_an_ideal_chip_is_the_digital_result(module, shape, arrays):
    chip = load_chip("ideal").model_copy(update={"encoding": Offset()})
    analog, _ = aimc.convert(copy.deepcopy(module), chip)
    aimc.program(analog, seed=0)
    x = torch.randn(shape)
    with torch.no_grad():
        y, ref = analog(x), module(x)
        magnitude = _magnitude(module, x)
    assert ((y - ref).abs() <= 1e-5 * magnitude).all(), (y - ref).abs().max()


def _pad(module, x):
    """``x`` padded as ``module`` pads its input."""
    pads = module._reversed_padding_repeated_twice
    if not any(pads):
        return x
    return F.pad(x, pads, mode="constant" if module.padding_mode == "zeros" else module.padding_mode)


def _magnitude(module, x):
    """Sum of |terms| of each output (the scale of float32 rounding of the sums)."""
    if isinstance(module, nn.Linear):
        return x.abs() @ module.weight.abs().T + module.bias.abs()
    return F.conv2d(_pad(module, x.abs()), module.weight.abs(), module.bias.abs(), module.stride, 0,
                    module.dilation)


# ---------------------------------------------------------------- 3. read_split == grouped read
def _integer_matrices(gen, arrays, out_per_array, channels, k):
    """Grouped-conv read matrices with small integer (variances: multiples of 2**-6) entries, so
    that every current and variance is an exact float32 sum whatever the convolution algorithm:
    any difference is the noise."""
    n = arrays * out_per_array
    return ReadMatrices(
        w=torch.randint(-3, 4, (n, channels, k, k), generator=gen).float(),
        var=torch.randint(0, 3, (n, channels, k, k), generator=gen).float() / 64,  # exact: 2**-6
        bias=torch.randint(0, 5, (n, 1, 1), generator=gen).float(),
        shot=torch.randint(0, 2, (n, channels, k, k), generator=gen).float())


def _conv_tile(adc):
    return Tile(torch.randn(8, 90), device=PCMDevice(), dac=DAC(), adc=adc)


@pytest.mark.parametrize("path", ["fused", "tensor"])
@pytest.mark.parametrize("arrays,stride,dilation", [(1, 1, 1), (2, 2, 1), (3, 1, 2)])
def test_read_split_equals_grouped_read_exact_currents(monkeypatch, path, arrays, stride, dilation):
    gen = torch.Generator().manual_seed(arrays)
    per_out, channels = 5, 4
    m = _integer_matrices(gen, arrays, per_out, channels, 3)
    levels = torch.randint(-20, 21, (2, arrays * channels, 9, 8), generator=gen).float()
    adc = ADC(bits=8, full_scale=12.0, noise=0.6, gain_error=0.01, offset=0.2)
    grouped_tile, split_tile = _conv_tile(adc), _conv_tile(adc)
    for tile in (grouped_tile, split_tile):
        tile.normals.seed(99)
        if path == "tensor":
            monkeypatch.setattr(tile, "_fused", lambda currents, out: False)
    grouped = grouped_tile.read(levels, m, partial(F.conv2d, stride=stride, dilation=dilation, groups=arrays),
                                channel_dim=1, arrays=arrays)
    # the layer's split read: channels-last levels and matrices, one convolution per array
    cl = ReadMatrices(*(t.contiguous(memory_format=torch.channels_last) if t.dim() == 4 else t for t in m))
    parts = list(levels.contiguous(memory_format=torch.channels_last).chunk(arrays, dim=1))
    split = split_tile.read_split(parts, _split_outputs(cl, arrays),
                                  partial(F.conv2d, stride=stride, dilation=dilation), channel_dim=1)
    assert grouped.shape == split.shape == (2, per_out, *grouped.shape[2:])
    assert torch.equal(grouped, split)
    currents = F.conv2d(levels, m.w, stride=stride, dilation=dilation, groups=arrays)
    assert currents.abs().max() > 1.5 * adc.max_code  # some ADCs clip: the whole chain is exercised


@pytest.mark.parametrize("module,shape,arrays", _layer_cases(convs_only=True))
def test_layer_forward_equals_grouped_convolution_read(module, shape, arrays):
    """The layer's per-array channels-last reads against one grouped convolution read (the
    layer's read before the split) on an identically programmed twin: the noise is drawn in the
    same order, so the codes agree up to the float32 summation order of the two convolution
    algorithms (at most one code per array where a current sits at a rounding boundary)."""
    layer, twin = (aimc.convert(copy.deepcopy(module), HERMES)[0] for _ in range(2))
    for model in (layer, twin):
        aimc.program(model, seed=6)
        aimc.drift(model, DAY)
    x = torch.randn(shape)
    codes = []
    original = layer.tile.read_split

    def capture(*args, **kwargs):
        codes.append(original(*args, **kwargs).clone())
        return codes[-1]

    layer.tile.read_split = capture
    with torch.no_grad():
        layer(x)
        tile = twin.tile
        levels, _ = tile.dac.to_levels(_pad(module, x), dims=(1, 2, 3))
        pad = tile.row_arrays * tile.granules_per_array - module.in_channels
        levels = F.pad(levels, (0, 0, 0, 0, 0, pad))
        m = tile.matrices(twin._conv_layout, key="grouped", bias_layout=_conv_bias_layout)
        op = partial(F.conv2d, stride=module.stride, dilation=module.dilation, groups=tile.row_arrays)
        grouped = tile.read(levels, m, op, channel_dim=1, arrays=tile.row_arrays)
    assert len(codes) == 1 and codes[0].shape == grouped.shape
    diff = (codes[0] - grouped).abs()
    assert diff.max() <= arrays and (diff > 0).float().mean() < 0.01
    assert codes[0].abs().sum() > 0


@pytest.mark.parametrize("out_format", [
    pytest.param(torch.contiguous_format, id="nchw"),
    pytest.param(torch.channels_last, id="channels_last")])
def test_read_onto_out_any_memory_format(monkeypatch, out_format):
    """``read(..., out=)`` adds onto earlier codes: in place when the output is channels-last,
    added after the read when it is not (NCHW); both as the tensor path."""
    gen = torch.Generator().manual_seed(1)
    m = _integer_matrices(gen, 1, 6, 4, 3)
    levels = torch.randint(-6, 7, (2, 4, 7, 7), generator=gen).float()
    earlier = torch.randint(-50, 50, (2, 6, 5, 5), generator=gen).float()
    results = []
    for path in ("fused", "tensor"):
        tile = _conv_tile(ADC(bits=8, full_scale=12.0, noise=0.3))
        tile.normals.seed(3)
        if path == "tensor":
            monkeypatch.setattr(tile, "_fused", lambda currents, out: False)
        out = earlier.clone().contiguous(memory_format=out_format)
        results.append(tile.read(levels, m, F.conv2d, channel_dim=1, out=out))
        assert results[-1].data_ptr() == out.data_ptr()  # onto the given tensor
    assert torch.equal(*results)
    assert not torch.equal(results[0], earlier)


# ---------------------------------------------------------------- 4. ideal chip: channels-last conv is exact
@pytest.mark.parametrize("module,shape", [
    (nn.Conv2d(40, 7, 3, stride=2, padding=1), (3, 40, 10, 9)),  # 2 arrays, stride
    (nn.Conv2d(70, 5, (3, 2), stride=(1, 2), dilation=(2, 1)), (2, 70, 9, 8)),  # 3 arrays (granule 6)
])
def test_ideal_chip_channels_last_conv_on_several_arrays_is_digital(monkeypatch, module, shape):
    analog, _ = aimc.convert(copy.deepcopy(module), load_chip("ideal"))
    log = []
    _spy(monkeypatch, analog.tile, log)
    aimc.program(analog, seed=0)
    assert analog.tile.row_arrays > 1
    x = torch.randn(shape)
    with torch.no_grad():
        for inputs in (x, x.contiguous(memory_format=torch.channels_last)):
            y, ref = analog(inputs), module(x)
            assert ((y - ref).abs() <= 1e-5 * _magnitude(module, x)).all(), (y - ref).abs().max()
    assert log and all(took_fused for took_fused, _ in log)


# ---------------------------------------------------------------- 5. input memory format
@pytest.mark.parametrize("module,shape,arrays", _layer_cases(convs_only=True))
def test_fused_conv_read_is_independent_of_input_memory_format(module, shape, arrays):
    chip = CHIPS["everything"]
    contiguous, channels_last = (aimc.convert(copy.deepcopy(module), chip)[0] for _ in range(2))
    for model in (contiguous, channels_last):
        aimc.program(model, seed=8)
        aimc.drift(model, DAY)
    x = torch.randn(shape) * 30
    with torch.no_grad():
        y = contiguous(x)
        assert torch.equal(y, channels_last(x.contiguous(memory_format=torch.channels_last)))
        # and a strided view (every other column of a wider image)
        wide = torch.zeros(*shape[:-1], 2 * shape[-1])
        wide[..., ::2] = x
        assert torch.equal(contiguous(x), channels_last(wide[..., ::2]))


def test_compiled_linear_read_is_independent_of_input_layout():
    """A column-major input reads as its contiguous copy (``readout.read_linear_fast``)."""
    module, shape, _ = LINEARS[2]
    a, b = (aimc.convert(copy.deepcopy(module), HERMES)[0] for _ in range(2))
    for model in (a, b):
        aimc.program(model, seed=9)
        aimc.drift(model, DAY)
    x = torch.randn(shape)
    with torch.no_grad():
        assert torch.equal(a(x), b(x.T.contiguous().T))  # column-major input
