"""Stuck cells and dead lines: rates within binomial tolerance, positions fixed per chip."""

import pytest
import torch
from pydantic import ValidationError

from aimc.array import Faults
from aimc.devices import Ideal
from aimc.encoding import Offset
from aimc.periphery import ADC, DAC
from aimc.tile import Tile


def test_fault_rates_and_exclusivity():
    faults = Faults(stuck_on=0.02, stuck_off=0.05, dead_rows=0.1, dead_cols=0.03)
    maps = faults.draw(torch.Size([2, 4, 256, 256]), torch.Generator().manual_seed(0))
    n = 2 * 4 * 256 * 256
    # binomial std of a rate p over n draws: sqrt(p(1-p)/n) < 5e-4 here; tolerance 5 std
    assert maps["stuck_on"].float().mean().item() == pytest.approx(0.02, abs=5 * (0.02 / n) ** 0.5)
    assert maps["stuck_off"].float().mean().item() == pytest.approx(0.05, abs=5 * (0.05 / n) ** 0.5)
    assert not (maps["stuck_on"] & maps["stuck_off"]).any()
    rows_dead = maps["dead"].all(dim=(0, 3))  # a dead row is dead in every plane and column
    assert rows_dead.float().mean().item() == pytest.approx(0.1, abs=5 * (0.1 * 0.9 / 1024) ** 0.5)


def tile_with(faults, w):
    return Tile(w, device=Ideal(g_min=1e-6), dac=DAC(bits=None), adc=ADC(bits=None, full_scale=None),
                faults=faults)


def test_faults_fixed_per_chip_instance_and_drawn_from_seed():
    w = torch.randn(64, 100)
    tile = tile_with(Faults(stuck_on=0.05, stuck_off=0.05, dead_rows=0.05), w)
    tile.program(seed=3)
    maps = {k: v.clone() for k, v in tile.fault_maps.items()}
    g_before = tile.conductances()
    tile.drift_to(86400.0)
    assert torch.equal(tile.conductances(), g_before)  # ideal device: faults do not move
    tile.program(seed=3)
    assert all(torch.equal(maps[k], tile.fault_maps[k]) for k in maps)
    tile.program(seed=4)
    assert not torch.equal(maps["stuck_on"], tile.fault_maps["stuck_on"])


def test_stuck_and_dead_conductances():
    w = torch.randn(8, 16)
    tile = tile_with(Faults(stuck_on=0.3, stuck_off=0.3, dead_cols=0.2), w)
    tile.program(seed=0)
    g, m = tile.conductances(), tile.fault_maps
    assert (g[m["stuck_on"] & ~m["dead"]] == 25e-6).all()
    assert (g[m["stuck_off"] & ~m["dead"]] == 1e-6).all()
    assert (g[m["dead"]] == 0).all()


def test_no_faults_and_g_min_keep_exactness():
    w = torch.randn(10, 40)
    for encoding in (None, Offset()):
        tile = Tile(w, device=Ideal(g_min=5e-6), dac=DAC(bits=None), adc=ADC(bits=None, full_scale=None),
                    faults=Faults(), encoding=encoding)
        tile.program(seed=0)
        x = torch.randn(6, 40)
        assert ((tile(x) - x @ w.T).abs() <= 1e-5 * (x.abs() @ w.abs().T)).all()


def test_bad_rates():
    with pytest.raises(ValidationError, match="stuck_on"):
        Faults(stuck_on=1.5)
    with pytest.raises(ValidationError, match="must not exceed 1"):
        Faults(stuck_on=0.6, stuck_off=0.6)
