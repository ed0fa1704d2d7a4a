"""The noise-free linear read (:func:`aimc.tile.readout.read_linear_noise_free`: products into a
reused buffer, then one compiled pass for ADCs, digital sum, rescale and bias) against the
general path (``Tile.read_codes`` → ``readout.to_weight_units``), bit for bit.

Design promise (``Tile.forward``): a linear read without read, thermal or shot noise and with an
ideal noiseless ADC (read noise off, or all frozen into the read matrices) takes the compiled
pass on the CPU in float32 without gradients, with exactly the numbers of the general path; any
other read takes the general path. A spy checks which path ran.
"""

import copy

import pytest
import torch
from torch import nn

import aimc
from aimc.array import CircuitNoise
from aimc.chips import load_chip
from aimc.periphery import ADC, DAC
from aimc.tile import Tile, readout

DAY = 86400.0
HERMES = load_chip("ibm-hermes-pcm")


def _device(chip, **changes):
    return chip.model_copy(update={"device": chip.device.model_copy(update=changes)})


QUIET = _device(HERMES, read_noise_scale=0.0)
FROZEN = _device(HERMES, read_window=2 * HERMES.device.t_read)  # all 1/f read noise frozen
NOISE_FREE = {
    "read_noise_off": QUIET,
    "all_frozen": FROZEN,
    "gain_offset": QUIET.model_copy(
        update={"adc": ADC(bits=8, full_scale=12.0, gain_error=-0.04, offset=0.3)}),
    "unquantised": QUIET.model_copy(update={"adc": ADC(bits=None, full_scale=None)}),
    "clipping": QUIET.model_copy(update={"adc": ADC(bits=6, full_scale=0.5)}),
    "fixed_range_dac": QUIET.model_copy(update={"dac": DAC(bits=8, scaling="fixed", input_range=2.0)}),
    "ideal_chip": load_chip("ideal"),
}
NOISY = {  # these keep the general path
    "read_noise": HERMES,
    "thermal": QUIET.model_copy(update={"circuit_noise": CircuitNoise(thermal=True, integration_time=1e-9)}),
    "adc_noise": QUIET.model_copy(update={"adc": ADC(bits=8, full_scale=12.0, noise=0.7)}),
    "sar_adc": QUIET.model_copy(update={"adc": ADC(kind="sar", bits=8, full_scale=12.0, cap_mismatch=0.03)}),
}
LAYERS = [pytest.param(nn.Linear(n, 24, bias=bias), n, id=f"{n}in-{'bias' if bias else 'nobias'}")
          for n, bias in ((100, True), (300, False), (600, True), (513, True))]


def _programmed(module, chip, seed=7):
    model = aimc.convert(copy.deepcopy(module), chip)[0]
    aimc.program(model, seed=seed)
    aimc.drift(model, DAY)
    return model


def _calls(monkeypatch):
    calls = []
    original = readout.read_linear_noise_free

    def spy(*args, **kwargs):
        calls.append(args[0].shape)
        return original(*args, **kwargs)

    monkeypatch.setattr(readout, "read_linear_noise_free", spy)
    return calls


def _general(model, x):
    """The general path's output for ``x``: DAC, ``read_codes`` per array, ``to_weight_units``."""
    tile = next(m for m in model.modules() if isinstance(m, Tile))
    levels, step = tile._dac_compiled(x.reshape(-1, tile.in_features).float())
    y = readout.to_weight_units(tile.read_codes(levels), tile.output_scale, step, model.bias)
    return y.view(*x.shape[:-1], tile.out_features)


@pytest.mark.parametrize("module,n", LAYERS)
@pytest.mark.parametrize("name", list(NOISE_FREE))
def test_noise_free_read_equals_the_general_path(monkeypatch, name, module, n):
    model = _programmed(module, NOISE_FREE[name])
    tile = model.tile
    assert tile._read.var is None and tile._read.bias is None and tile._read.shot is None
    calls = _calls(monkeypatch)
    gen = torch.Generator().manual_seed(3)
    scale = 40.0 if name == "clipping" else 1.0
    with torch.no_grad():
        for shape in ((5, n), (2, 3, n), (1, n)):  # batch, leading dimensions, one vector
            x = torch.randn(shape, generator=gen) * scale
            y = model(x)
            assert torch.equal(y, _general(model, x)), name
            assert torch.isfinite(y).all() and y.abs().sum() > 0
    assert len(calls) == 3  # every read took the compiled pass
    if name == "clipping":  # the ADCs really clip: some outputs sit at the clipping bound
        codes = tile.read_codes(tile._dac_compiled(x.reshape(-1, n))[0])
        assert (codes.abs() >= tile.adc.max_code).any()


@pytest.mark.parametrize("name", list(NOISY))
def test_reads_with_noise_take_the_general_path(monkeypatch, name):
    module, n = nn.Linear(300, 24), 300
    model = _programmed(module, NOISY[name])
    calls = _calls(monkeypatch)
    with torch.no_grad():
        y = model(torch.randn(4, n))
    assert not calls and y.shape == (4, 24) and torch.isfinite(y).all()


def test_a_bias_that_needs_its_gradient_takes_the_general_path(monkeypatch):
    """Outside no_grad a trainable bias keeps its gradient (the compiled pass would cut it)."""
    model = _programmed(nn.Linear(300, 24), QUIET)
    calls = _calls(monkeypatch)
    x = torch.randn(4, 300)
    y = model(x)
    assert not calls and y.requires_grad
    y.sum().backward()
    assert torch.equal(model.bias.grad, torch.full((24,), 4.0))
    with torch.no_grad():
        assert torch.equal(model(x), y.detach())  # the compiled pass: the same numbers
    assert len(calls) == 1


def test_an_ideal_chip_reads_the_digital_result():
    """No noise, no drift, no converter rounding on the ideal chip: over three arrays the
    compiled pass gives the digital product up to float32 rounding of the sums (a relative
    1e-5 of the sum of |terms|; a misplaced array or a lost bias is off by far more)."""
    layer = nn.Linear(600, 16)
    x = torch.randn(8, 600, generator=torch.Generator().manual_seed(0))
    model = aimc.convert(copy.deepcopy(layer), "ideal")[0]
    aimc.program(model, seed=0)
    assert model.tile.row_arrays == 3
    with torch.no_grad():
        y, ref = model(x), layer(x)
        magnitude = x.abs() @ layer.weight.abs().T + layer.bias.abs()
    assert ((y - ref).abs() <= 1e-5 * magnitude).all(), (y - ref).abs().max()
