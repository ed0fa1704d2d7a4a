"""Aging: endurance cycles and worn-out devices stuck through the fault model."""

import math

import pytest
import torch

from aimc.calibration import ENDURANCE, Endurance, Wear
from aimc.devices import PCM, RRAM
from aimc.periphery import ADC, DAC
from aimc.tile import Tile


def make_tile(device=None):
    weight = torch.randn(16, 64, generator=torch.Generator().manual_seed(0))
    return Tile(weight, device=device or PCM(), dac=DAC(), adc=ADC())


def test_worn_out_devices_appear_at_the_budget():
    tile = make_tile()
    wear = Wear(tile, Endurance(budget=3), seed=0)
    for _ in range(2):
        wear.add(1.0)
    assert wear.worn_count == 0
    wear.add(1.0)  # the third cycle reaches the budget
    assert wear.worn_count == tile.device_shape.numel()


def test_spread_budget_half_worn_at_the_median():
    """Log-normal budgets around the median: half the devices are worn at the median (n = 2048
    devices: 4 standard errors = 0.044), almost none at a third of it."""
    tile = make_tile()
    wear = Wear(tile, Endurance(budget=100, spread=0.3), seed=1)
    n = tile.device_shape.numel()
    wear.add(100 / 3)
    assert wear.worn_count / n < 0.01  # P(xi < ln(1/3)/0.3 = -3.7) = 1e-4
    wear.add(100 - 100 / 3)
    assert abs(wear.worn_count / n - 0.5) < 4 * math.sqrt(0.25 / n)


def test_worn_devices_are_stuck_in_their_technologys_failure_state():
    assert ENDURANCE["pcm"] == (1e8, "off") and Endurance().resolve("ideal")[0] is None
    tile = make_tile()
    tile.program(seed=2)
    wear = Wear(tile, Endurance(budget=1, spread=2.0), seed=3)
    wear.add(1.0)
    worn = wear.worn
    assert 0 < int(worn.sum()) < worn.numel()
    wear.apply(tile)
    tile.drift_to(3600.0)
    g = tile.conductances()
    assert torch.equal(g[worn], torch.full_like(g[worn], PCM().g_min))
    assert (g[~worn] > 0).float().mean() > 0.3  # the others keep their conductances
    rram = make_tile(RRAM())
    rram.program(seed=4)
    wear = Wear(rram, Endurance(budget=1), seed=5)
    wear.add(1.0)
    wear.apply(rram)
    rram.drift_to(1.0)
    assert torch.equal(rram.conductances(), torch.full(rram.device_shape, RRAM().g_max))  # stuck-on


def test_budgets_are_validated():
    with pytest.raises(ValueError):
        Endurance(budget=0)


def test_cycles_keep_counting_past_float32_precision():
    """float32 stops adding 1 at 2**24; the counts are float64."""
    tile = make_tile()
    wear = Wear(tile, Endurance(budget=1e9), seed=0)
    wear.add(float(2 ** 24))
    wear.add(1.0)
    assert wear.cycles.dtype == torch.float64
    assert float(wear.cycles.flatten()[0]) == 2 ** 24 + 1
