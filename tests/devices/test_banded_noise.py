"""1/f read noise split by frequency band: frozen over a read window, fresh at every read."""

import math

import pytest
import torch

import aimc
from aimc.devices import PCM, RRAM
from aimc.devices.base import one_over_f_split
from aimc.periphery import ADC, DAC
from aimc.tile import Tile

DAY, YEAR = 86400.0, 3.15576e7
T_READ = 250e-9


@pytest.mark.parametrize("t", [1e-7, 3e-7, 1.0, DAY, YEAR])
@pytest.mark.parametrize("window", [1e-9, 2 * T_READ, 1e-3, 1.0, 3600.0, 1e9])
def test_bands_add_to_the_published_total(t, window):
    frozen, fresh = one_over_f_split(t, T_READ, window)
    total = max(math.log((t + T_READ) / (2 * T_READ)), 0.0)
    assert frozen >= 0.0 and fresh >= 0.0
    assert frozen + fresh == pytest.approx(total, rel=1e-12, abs=1e-15)


def test_limits_of_the_split():
    assert one_over_f_split(DAY, T_READ, 2 * T_READ)[1] == 0.0  # all frozen
    assert one_over_f_split(DAY, T_READ, DAY + T_READ)[0] == 0.0  # all fresh
    assert one_over_f_split(DAY, T_READ, 1.0) == pytest.approx(
        (math.log((DAY + T_READ) / 1.0), math.log(1.0 / (2 * T_READ))))


def _state(device):
    g = torch.linspace(1e-6, 25e-6, 50)
    state = device.program(g, torch.Generator().manual_seed(0))
    return state, device.conductance(state, DAY)


@pytest.mark.parametrize("window", [2 * T_READ, 1.0, 3600.0])
def test_device_split_variances_add_to_total(window):
    pcm = PCM(read_window=window)
    state, g = _state(pcm)
    frozen, fresh = pcm.read_noise_split(state, g, DAY)
    total = pcm.read_noise_std(state, g, DAY)
    parts = [p.pow(2) for p in (frozen, fresh) if p is not None]
    torch.testing.assert_close(sum(parts), total.pow(2), rtol=1e-5, atol=0.0)


def test_white_noise_and_default_window_are_all_fresh():
    assert PCM.noise_spectrum == "1/f" and RRAM.noise_spectrum == "white"
    for device in (PCM(), RRAM(read_window=1.0)):
        state, g = _state(device)
        frozen, fresh = device.read_noise_split(state, g, DAY)
        assert frozen is None
        assert torch.equal(fresh, device.read_noise_std(state, g, DAY))


def _tile(device, out=64, seed=0):
    w = torch.rand(out, 256, generator=torch.Generator().manual_seed(1)) * 2 - 1
    tile = Tile(w, device=device, dac=DAC(bits=None), adc=ADC(bits=None, full_scale=None))
    tile.program(seed=seed)
    tile.drift_to(DAY)
    return tile


def test_window_at_or_beyond_t_is_todays_path_bit_for_bit():
    x = torch.randn(8, 256, generator=torch.Generator().manual_seed(2))
    today, wide = _tile(PCM()), _tile(PCM(read_window=YEAR))
    for _ in range(3):
        assert torch.equal(today(x), wide(x))
    white, white_w = _tile(RRAM()), _tile(RRAM(read_window=2 * T_READ))
    assert torch.equal(white(x), white_w(x))


def test_all_frozen_reads_repeat_within_a_window_and_not_across():
    tile = _tile(PCM(read_window=2 * T_READ))
    assert tile._read.var is None  # nothing is drawn per read
    x = torch.randn(8, 256, generator=torch.Generator().manual_seed(2))
    y = tile(x)
    assert torch.equal(tile(x), y)
    tile.new_read_window()
    assert not torch.equal(tile(x), y)


def test_frozen_draw_has_the_frozen_variance_and_windows_are_independent():
    # same programmed chip: all fresh vs banded (T_w = 1 s) at one day
    fresh, banded = _tile(PCM(), out=128), _tile(PCM(read_window=1.0), out=128)
    frozen_share, fresh_share = one_over_f_split(DAY, T_READ, 1.0)
    share = frozen_share / (frozen_share + fresh_share)
    total_var = fresh._read.var
    torch.testing.assert_close(banded._read.var, total_var * (1 - share), rtol=1e-4, atol=0.0)
    noisy = total_var > 0  # a pair programmed (clipped) to 0 S on both sides has no noise

    def z():
        return ((banded._read.w - fresh._read.w) / (total_var * share).sqrt())[noisy]

    z1 = z()
    assert noisy.sum() > 32000
    # about 32700 standard normals: the std is known to 0.4 %, the mean to 0.006
    assert z1.std().item() == pytest.approx(1.0, rel=0.03)
    assert abs(z1.mean().item()) < 0.03
    banded.new_read_window()
    z2 = z()
    # correlation of independent windows over 32768 devices: std 0.0055
    corr = torch.corrcoef(torch.stack([z1, z2]))[0, 1].item()
    assert abs(corr) < 0.03
    banded.drift_to(DAY)  # every drift starts a window too
    z3 = z()
    assert abs(torch.corrcoef(torch.stack([z2, z3]))[0, 1].item()) < 0.03


def test_windows_are_reproducible_from_the_seed():
    a, b = _tile(PCM(read_window=1.0)), _tile(PCM(read_window=1.0))
    a.new_read_window()
    b.new_read_window()
    assert torch.equal(a._read.w, b._read.w)
    assert not torch.equal(a._read.w, _tile(PCM(read_window=1.0), seed=1)._read.w)


def test_model_level_new_read_window():
    analog, _ = aimc.nn.convert(torch.nn.Sequential(torch.nn.Linear(16, 4)), "ibm-hermes-pcm")
    with pytest.raises(RuntimeError, match="not programmed"):
        aimc.nn.new_read_window(analog)
    aimc.nn.program(analog, seed=0)
    aimc.nn.new_read_window(analog)


def test_measured_device_splits_like_pcm(tmp_path):
    from aimc.devices.measured import MeasuredDevice, write_device_csv

    csv = write_device_csv(PCM(), tmp_path / "pcm.csv")
    dev = MeasuredDevice(csv=str(csv), read_window=1.0)
    assert dev.noise_spectrum == "1/f"
    state, g = _state(dev)
    frozen, fresh = dev.read_noise_split(state, g, DAY)
    share = one_over_f_split(DAY, T_READ, 1.0)
    torch.testing.assert_close(frozen.pow(2) / fresh.pow(2),
                               torch.full_like(g, share[0] / share[1]), rtol=1e-4, atol=0.0)
