"""Reference cells: drift-factor estimates, per-column prediction, closed-loop controller,
their place in the compiler and the cost model."""

import math

import numpy as np
import pytest
import torch

import aimc
from aimc.calibration import ClosedLoop, ReferenceBank, ReferenceCells
from aimc.chips import load_chip
from aimc.cost import reference_cells_cost
from aimc.devices import PCM
from aimc.devices.temperature import celsius, device_at, device_time
from aimc.encoding import BitSliced, Differential, Offset
from aimc.periphery import ADC, DAC
from aimc.tile import Tile

HOT = celsius(85.0)


def make_tile(seed=0, out=40, rows=300, encoding=None, **kw):
    g = torch.Generator().manual_seed(seed)
    weight = torch.randn(out, rows, generator=g) * torch.linspace(0.2, 1.0, out).unsqueeze(1)
    return Tile(weight, device=PCM(), dac=DAC(), adc=ADC(), encoding=encoding or Differential(), **kw)


def at(device, tau, temperature):
    return device_at(device, temperature), device_time(device, tau, temperature)


@pytest.mark.parametrize("tau, temperature", [(86400.0, 300.0), (3.15e7, 300.0), (86400.0, HOT)])
def test_estimates_match_the_true_drift_factor_within_their_noise(tau, temperature):
    """30 chip instances: the estimate's error is unbiased (mean within 3 standard errors, plus
    the dither's residual of at most 1/16 LSB, 0.3 % of a column read at 20 codes) and its
    spread is the few-permille noise of 8 averaged column reads."""
    tile = make_tile()
    errors = []
    for seed in range(30):
        bank = ReferenceBank(tile, ReferenceCells())
        bank.program(seed)
        dev, t = at(tile.device_model, tau, temperature)
        est, true = bank.level_factor(dev, t), bank.true_level_factor(dev, t)
        errors.append((est / true - 1).flatten())
    errors = torch.stack(errors)  # [instances, arrays * levels]
    spread = errors.std(dim=0)
    assert float(spread.max()) < 0.02
    assert (errors.mean(dim=0).abs() < 3 * spread / math.sqrt(len(errors)) + 2e-3).all()
    # the per-array factor is the ratio of the column sums
    bank = ReferenceBank(tile, ReferenceCells(reads=1))
    bank.program(0)
    dev, t = at(tile.device_model, tau, temperature)
    cols = bank.read_columns(dev, t)
    torch.testing.assert_close(bank.array_factor(dev, t), cols.sum(-1) / bank.baseline.sum(-1))


def true_column_factor(tile, device, t):
    state = tile.state
    g0 = tile.device_model.conductance(state, 0.0)[..., :tile.out_features]
    gt = device.conductance(state, t)[..., :tile.out_features]
    # each device's significance in the output: analog coefficient times its ADC group's digital one
    pairs = zip(tile.alpha, tile.group, strict=True)
    alpha = torch.tensor([abs(float(a) * tile.beta[grp]) for a, grp in pairs])
    alpha = alpha.view(-1, 1, 1, 1)
    return (alpha * gt).sum(dim=(0, 1, 2)) / (alpha * g0).sum(dim=(0, 1, 2))


@pytest.mark.parametrize("encoding", [Differential(), BitSliced(slices=2, bits_per_slice=2)],
                         ids=["differential", "bit-sliced"])
def test_per_column_prediction_tracks_each_columns_true_factor_better_than_one_factor(encoding):
    """Hot (85 °C) reads scale low conductances 3.5x and high ones 1.2x: the per-column
    prediction from the levels follows each column's own factor; one factor per array cannot.
    Bit slices: the high slice counts beta = 4 times the low one (before weighting by beta the
    bit-sliced error was 8 %)."""
    tile = make_tile(seed=3, encoding=encoding)
    tile.program(seed=4)
    bank = ReferenceBank(tile, ReferenceCells())
    bank.program(5)
    dev, t = at(tile.device_model, 86400.0, HOT)
    true = true_column_factor(tile, dev, t)
    per_column = 1 / bank.column_scale(dev, t)
    per_array = 1 / bank.array_scale(dev, t)
    err_col = (per_column / true - 1).abs()
    err_arr = (per_array / true - 1).abs()
    assert float(err_col.max()) < 0.05
    assert float(err_col.mean()) < 0.5 * float(err_arr.mean())


def test_reference_bank_refuses_an_offset_encoding_and_arrays_without_weight_columns():
    with pytest.raises(ValueError, match="reference column"):
        ReferenceBank(make_tile(encoding=Offset()), ReferenceCells())
    with pytest.raises(ValueError, match="leaves no column"):
        ReferenceBank(make_tile(array_cols=4), ReferenceCells(columns=4))


def test_controller_converges_on_a_step_change_of_temperature():
    """Steady at 25 °C, then the chip jumps to 85 °C: with gain g the remaining error after n
    updates is (1 - g)^n of the step (plus the estimate's noise)."""
    tile = make_tile(seed=6)
    bank = ReferenceBank(tile, ReferenceCells())
    bank.program(7)
    loop = ClosedLoop(period_s=3600.0, gain=0.5)
    tau = 86400.0
    scale = torch.ones(tile.out_features)
    for k in range(20):  # settle at 25 °C
        dev, t = at(tile.device_model, tau + 3600.0 * k, celsius(25.0))
        scale = loop.step(scale, bank.column_scale(dev, t))
    dev, t = at(tile.device_model, tau + 3600.0 * 20, HOT)
    target = bank.column_scale(dev, t)
    step = (target - scale).abs()
    assert float((step / target).min()) > 0.15  # a real step
    history = []
    for k in range(loop.updates_to_settle(0.01)):
        dev, t = at(tile.device_model, tau + 3600.0 * (21 + k), HOT)
        scale = loop.step(scale, bank.column_scale(dev, t))
        history.append(float(((scale - target).abs() / step).max()))
    assert history[0] == pytest.approx(0.5, abs=0.05)  # one update: half the step
    assert history[-1] < 0.02  # settled: 1 % of the step plus the estimate's own drift over 7 h
    assert loop.updates_to_settle(0.01) == 7


def test_reference_columns_in_the_compiler_and_the_cost_model():
    from aimc.models import digits_cnn

    plain = load_chip("ibm-hermes-pcm")
    assert plain.reference_cells is None
    ref = plain.model_copy(update={"reference_cells": ReferenceCells(columns=4)})
    x = torch.zeros(1, 1, 8, 8)
    a, b = aimc.compile(digits_cnn(), plain, x), aimc.compile(digits_cnn(), ref, x)
    assert all(layer.reference_columns == 0 for layer in a.layers)
    for la, lb in zip(a.layers, b.layers, strict=True):
        assert lb.reference_columns == 4 * lb.row_arrays * lb.col_arrays
        assert (la.col_arrays, la.utilization) == (lb.col_arrays, lb.utilization)  # narrow layers
    cost = reference_cells_cost(b)
    assert cost["columns"] == sum(layer.reference_columns for layer in b.layers)
    assert cost["cell_share"] == pytest.approx(4 / 256)
    assert cost["column_read_j"] > 0 and cost["area_m2"] > 0
    assert reference_cells_cost(a)["columns"] == 0
    # a layer that fills every column needs another column of arrays once the references take 4
    wide = torch.nn.Sequential(torch.nn.Linear(64, 256))
    wa, wb = aimc.compile(wide, plain, torch.zeros(1, 64)), aimc.compile(wide, ref, torch.zeros(1, 64))
    assert (wa.layers[0].col_arrays, wb.layers[0].col_arrays) == (1, 2)
    assert wb.layers[0].utilization == pytest.approx(64 * 256 / (2 * 256 * 256))


def test_reference_levels_are_validated():
    with pytest.raises(ValueError, match="levels for"):
        ReferenceCells(columns=2, levels=(0.5,))
    with pytest.raises(ValueError, match="increase strictly"):
        ReferenceCells(columns=2, levels=(0.5, 0.2))
    assert np.allclose(ReferenceCells(columns=2).targets, (0.25, 0.75))
