"""The fast linear read (:func:`aimc.tile.readout.read_linear_fast`: products into reused buffers,
compiled passes for noise, ADCs, digital sum, rescale and bias) against the general path
(``Tile.read_codes`` → ``readout.to_weight_units``), bit for bit.

Design promise (``Tile.forward``): on the CPU in float32 without gradients, a linear read with
an ideal noiseless ADC, no reference column and one ADC group takes the fast path, with or
without read, thermal and shot noise, and gives exactly the numbers of the general path (the
same normal numbers, drawn in the same order); any other read takes the general path. Each test
builds two identically programmed twins (same seed and drift time, so the same noise streams),
sends one through the general path (``Tile.fast_linear_reads = False``) and spies on which path
the other took.
"""

import copy

import pytest
import torch
from torch import nn

import aimc
from aimc.array import CircuitNoise
from aimc.chips import load_chip
from aimc.encoding import BitSliced, Offset
from aimc.periphery import ADC, DAC
from aimc.tile import readout

DAY = 86400.0
HERMES = load_chip("ibm-hermes-pcm")  # PCM read noise and drift, 8-bit converters, GDC


def _device(chip, **changes):
    return chip.model_copy(update={"device": chip.device.model_copy(update=changes)})


QUIET = _device(HERMES, read_noise_scale=0.0)
FAST = {  # noise-free reads (the one-pass kernel) first, then reads with noise
    "read_noise_off": QUIET,
    "all_frozen": _device(HERMES, read_window=2 * HERMES.device.t_read),
    "gain_offset_quiet": QUIET.model_copy(
        update={"adc": ADC(bits=8, full_scale=12.0, gain_error=-0.04, offset=0.3)}),
    "unquantised_quiet": QUIET.model_copy(update={"adc": ADC(bits=None, full_scale=None)}),
    "clipping_quiet": QUIET.model_copy(update={"adc": ADC(bits=6, full_scale=0.5)}),
    "fixed_range_dac": QUIET.model_copy(update={"dac": DAC(bits=8, scaling="fixed", input_range=2.0)}),
    "ideal_chip": load_chip("ideal"),
    "read_noise": HERMES,
    "banded": _device(HERMES, read_window=1e-3),
    "speech_pcm": load_chip("ibm-speech-pcm"),
    "gain_offset": HERMES.model_copy(
        update={"adc": ADC(bits=8, full_scale=12.0, gain_error=-0.04, offset=0.3)}),
    "unquantised": HERMES.model_copy(update={"adc": ADC(bits=None, full_scale=None)}),
    "clipping": HERMES.model_copy(update={"adc": ADC(bits=6, full_scale=0.5)}),
    "thermal": QUIET.model_copy(update={"circuit_noise": CircuitNoise(thermal=True, integration_time=1e-9)}),
    "shot": QUIET.model_copy(update={"circuit_noise": CircuitNoise(shot=True, integration_time=1e-10)}),
    "everything_but_adc_noise": HERMES.model_copy(update={
        "circuit_noise": CircuitNoise(thermal=True, shot=True, integration_time=1e-9),
        "adc": ADC(bits=7, full_scale=1.0, gain_error=0.02, offset=-0.3)}),
}
GENERAL = {  # these keep the general path
    "adc_noise": HERMES.model_copy(update={"adc": ADC(bits=8, full_scale=12.0, noise=0.7)}),
    "sar_adc": HERMES.model_copy(update={"adc": ADC(kind="sar", bits=8, full_scale=12.0, cap_mismatch=0.03)}),
    "offset_encoding": HERMES.model_copy(update={"encoding": Offset()}),
    "bit_sliced": HERMES.model_copy(update={"encoding": BitSliced()}),  # two ADC groups
}
LAYERS = [pytest.param(nn.Linear(n, 24, bias=bias), n, id=f"{n}in-{'bias' if bias else 'nobias'}")
          for n, bias in ((100, True), (300, False), (600, True), (513, True))]


def _twins(module, chip, seed=7, t=DAY):
    """Two copies of ``module`` on ``chip``, programmed with ``seed`` and drifted to ``t``; the
    second reads through the general path."""
    fast, general = (aimc.convert(copy.deepcopy(module), chip)[0] for _ in range(2))
    general.tile.fast_linear_reads = False
    for model in (fast, general):
        aimc.program(model, seed=seed)
        aimc.drift(model, t)
    return fast, general


def _calls(monkeypatch):
    calls = []
    original = readout.read_linear_fast

    def spy(*args, **kwargs):
        calls.append(args[0].shape)
        return original(*args, **kwargs)

    monkeypatch.setattr(readout, "read_linear_fast", spy)
    return calls


@pytest.mark.parametrize("module,n", LAYERS)
@pytest.mark.parametrize("name", list(FAST))
def test_fast_read_equals_the_general_path(monkeypatch, name, module, n):
    fast, general = _twins(module, FAST[name])
    read = fast.tile._read
    noise_free = name.endswith("_quiet") or name in ("read_noise_off", "all_frozen", "fixed_range_dac",
                                                     "ideal_chip")
    assert (read.var is None and read.bias is None and read.shot is None) == noise_free
    calls = _calls(monkeypatch)
    gen = torch.Generator().manual_seed(3)
    scale = 40.0 if "clipping" in name else 1.0
    with torch.no_grad():
        for shape in ((5, n), (2, 3, n), (1, n)):  # batch, leading dimensions, one vector
            x = torch.randn(shape, generator=gen) * scale
            y = fast(x)
            assert torch.equal(y, general(x)), name  # the streams stay in step read after read
            assert torch.isfinite(y).all() and y.abs().sum() > 0
    assert len(calls) == 3  # every read of the twin took the fast path
    if "clipping" in name:  # the ADCs really clip: some codes sit at the clipping bound
        codes = fast.tile.read_codes(fast.tile._dac_compiled(x.reshape(-1, n))[0])
        assert (codes.abs() >= fast.tile.adc.max_code).any()


@pytest.mark.parametrize("name", ["read_noise", "everything_but_adc_noise"])
def test_fast_read_equals_the_general_path_at_programming_time_and_after_redrift(monkeypatch, name):
    fast, general = _twins(nn.Linear(300, 24), FAST[name], seed=3, t=0.0)
    calls = _calls(monkeypatch)
    x = torch.randn(4, 300)
    with torch.no_grad():
        assert torch.equal(fast(x), general(x))
        for model in (fast, general):
            aimc.drift(model, 3600.0)
        assert torch.equal(fast(x), general(x))
    assert len(calls) == 2


@pytest.mark.parametrize("name", ["read_noise", "read_noise_off"])
def test_fast_read_in_inference_mode_and_on_an_empty_batch(monkeypatch, name):
    """Programmed and drifted inside inference mode, read inside and outside it: the numbers of
    a twin that never saw inference mode; an empty batch gives an empty output."""
    module = nn.Linear(600, 24)
    fast = aimc.convert(copy.deepcopy(module), FAST[name])[0]
    general = aimc.convert(copy.deepcopy(module), FAST[name])[0]
    general.tile.fast_linear_reads = False
    with torch.inference_mode():
        aimc.program(fast, seed=5)
        aimc.drift(fast, DAY)
    aimc.program(general, seed=5)
    aimc.drift(general, DAY)
    calls = _calls(monkeypatch)
    x = torch.randn(6, 600)
    with torch.inference_mode():
        y = fast(x)
    with torch.no_grad():
        assert torch.equal(y, general(x))
        assert torch.equal(fast(x), general(x))  # outside inference mode, the stream in step
        assert fast(torch.randn(0, 600)).shape == (0, 24)
    assert len(calls) == 3


def test_bfloat16_noise_variances_and_the_counter_sampler_take_the_fast_path_too(monkeypatch):
    fast, general = _twins(nn.Linear(600, 24), HERMES)
    for model in (fast, general):
        aimc.nn.set_noise_precision(model, torch.bfloat16)
        aimc.nn.set_noise_sampler(model, "counter")
    calls = _calls(monkeypatch)
    x = torch.randn(8, 600)
    with torch.no_grad():
        assert torch.equal(fast(x), general(x))
        assert torch.equal(fast(x), general(x))
    assert len(calls) == 2


@pytest.mark.parametrize("name", list(GENERAL))
def test_other_reads_take_the_general_path(monkeypatch, name):
    fast, general = _twins(nn.Linear(300, 24), GENERAL[name])
    calls = _calls(monkeypatch)
    x = torch.randn(4, 300)
    with torch.no_grad():
        y = fast(x)
        assert torch.equal(y, general(x))
    assert not calls and y.shape == (4, 24) and torch.isfinite(y).all()


def test_a_bias_that_needs_its_gradient_takes_the_general_path(monkeypatch):
    """Outside no_grad a trainable bias keeps its gradient (the compiled pass would cut it)."""
    fast, _ = _twins(nn.Linear(300, 24), QUIET)
    calls = _calls(monkeypatch)
    x = torch.randn(4, 300)
    y = fast(x)
    assert not calls and y.requires_grad
    y.sum().backward()
    assert torch.equal(fast.bias.grad, torch.full((24,), 4.0))
    with torch.no_grad():
        assert torch.equal(fast(x), y.detach())  # the fast path: the same numbers
    assert len(calls) == 1


def test_an_ideal_chip_reads_the_digital_result(monkeypatch):
    """No noise, no drift, no converter rounding on the ideal chip: over three arrays the fast
    path gives the digital product up to float32 rounding of the sums (a relative 1e-5 of the
    sum of |terms|; a misplaced array or a lost bias is off by far more)."""
    layer = nn.Linear(600, 16)
    x = torch.randn(8, 600, generator=torch.Generator().manual_seed(0))
    model = aimc.convert(copy.deepcopy(layer), "ideal")[0]
    aimc.program(model, seed=0)
    assert model.tile.row_arrays == 3
    calls = _calls(monkeypatch)
    with torch.no_grad():
        y, ref = model(x), layer(x)
        magnitude = x.abs() @ layer.weight.abs().T + layer.bias.abs()
    assert len(calls) == 1
    assert ((y - ref).abs() <= 1e-5 * magnitude).all(), (y - ref).abs().max()
