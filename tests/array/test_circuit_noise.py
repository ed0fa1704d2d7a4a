"""Thermal (Johnson-Nyquist) and shot noise of column currents against their formulas."""

import pytest
import torch
from pydantic import ValidationError

from aimc.array import CircuitNoise
from aimc.array.circuit_noise import K_B, Q_E
from aimc.devices import Ideal
from aimc.periphery import ADC, DAC
from aimc.tile import Tile

N_READS = 20_000  # std error of a sample std: 0.5 %


def tile_with(noise, w):
    t = Tile(w, device=Ideal(temperature_k=350.0), dac=DAC(bits=None, scaling="fixed"),
             adc=ADC(bits=None, full_scale=None), circuit_noise=noise)
    t.program(0)
    return t


def currents_std(tile, x):
    y = tile(x.expand(N_READS, -1))  # weight units
    unit = tile.weight_per_siemens / tile.dac.v_read  # weight units per ampere... per siemens*volt
    return (y.std(dim=0) / unit)  # amperes


def test_thermal_noise_needs_no_input_and_matches_4kTG_df():
    w = torch.rand(6, 50)
    noise = CircuitNoise(thermal=True, integration_time=50e-9)
    tile = tile_with(noise, w)
    std = currents_std(tile, torch.zeros(1, 50))
    g = tile.conductances()[:, 0]  # [2, rows, cols]: G+ and G- columns both add
    expected = (4 * K_B * 350.0 / (2 * 50e-9) * g.sum(dim=(0, 1))).sqrt()
    torch.testing.assert_close(std, expected.float(), rtol=0.03, atol=0)


def test_shot_noise_matches_2qI_df():
    w = torch.rand(4, 30)
    noise = CircuitNoise(shot=True, integration_time=100e-9)
    tile = tile_with(noise, w)
    x = torch.rand(1, 30)
    std = currents_std(tile, x)
    g = tile.conductances()[:, 0]
    cell_currents = (x[0, :, None] * 0.2 * g).sum(dim=(0, 1))  # sum of |V_i| G_ij over both planes
    expected = (2 * Q_E / (2 * 100e-9) * cell_currents).sqrt()
    torch.testing.assert_close(std, expected.float(), rtol=0.03, atol=0)
    assert currents_std(tile, torch.zeros(1, 30)).abs().max() == 0  # no current, no shot noise


def test_shot_noise_variance_scales_with_the_fano_factor():
    assert CircuitNoise(shot=True).fano == 1.0  # Schottky's Poisson value is the default
    per_amp = CircuitNoise(shot=True, integration_time=100e-9).shot_variance_per_ampere()
    assert per_amp == 2 * Q_E / (2 * 100e-9)
    for fano in (0.0, 1 / 3, 2.0):
        assert CircuitNoise(shot=True, fano=fano).shot_variance_per_ampere() == fano * per_amp
    # and through a whole read: the std scales with sqrt(F)
    w, x = torch.rand(4, 30), torch.rand(1, 30)
    poisson = currents_std(tile_with(CircuitNoise(shot=True), w), x)
    third = currents_std(tile_with(CircuitNoise(shot=True, fano=1 / 3), w), x)
    # same seed, so the same normal numbers: the ratio is sqrt(1/3) up to float32 rounding
    torch.testing.assert_close(third / poisson, torch.full_like(poisson, 3 ** -0.5), rtol=1e-4, atol=0)


def test_negative_fano_factor_is_refused():
    with pytest.raises(ValidationError, match="fano"):
        CircuitNoise(shot=True, fano=-1.0)
