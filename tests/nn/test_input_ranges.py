"""Percentile calibration of fixed DAC input ranges."""

import math

import pytest
import torch
from torch import nn

import aimc
from aimc.chips import load_chip
from aimc.periphery import DAC


def fixed_chip(bits=6, input_range=1.0):
    return load_chip("ideal").model_copy(
        update={"dac": DAC(bits=bits, scaling="fixed", input_range=input_range)})


def model_and_data():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(20, 32), nn.ReLU(), nn.Linear(32, 5))
    x = torch.randn(2000, 20, generator=torch.Generator().manual_seed(1)) * 3
    return model, x


def test_ranges_are_the_input_quantiles_and_end_the_clipping():
    model, x = model_and_data()
    analog, _ = aimc.convert(model, fixed_chip())
    aimc.program(analog, seed=0)
    with torch.no_grad():
        reference = model(x)
        before = (analog(x) - reference).abs().mean().item()
        ranges = aimc.calibrate_input_ranges(analog, (x, None), quantile=0.999)
        after = (analog(x) - reference).abs().mean().item()
        hidden = torch.relu(model[0](x))
    for name, inputs in (("0", x), ("2", hidden)):
        values = inputs.abs().reshape(-1).sort().values  # every value kept: the exact order statistic
        assert ranges[name] == values[math.ceil(0.999 * values.numel()) - 1].item()
        assert analog.get_submodule(name).tile.dac.input_range == ranges[name]
    assert ranges["0"] > 8  # |x| of 3-sigma inputs reaches ~10: a range of 1 clipped them
    assert after < 0.1 * before
    # the calibrated converter is part of the layer's chip: a new tile keeps it
    layer = analog.get_submodule("0")
    layer.remap()
    assert layer.tile.dac.input_range == ranges["0"] and layer.chip.dac.input_range == ranges["0"]
    assert layer.tile.dac.bits == 6 and analog.training  # nothing else changed


def test_abs_max_layers_and_bad_arguments():
    model, x = model_and_data()
    analog, _ = aimc.convert(model, load_chip("ibm-hermes-pcm"))  # per-vector abs-max scaling
    assert aimc.calibrate_input_ranges(analog, x) == {}
    with pytest.raises(ValueError, match="quantile"):
        aimc.calibrate_input_ranges(analog, x, quantile=0.0)
    with pytest.raises(ValueError, match="no analog layers"):
        aimc.calibrate_input_ranges(model, x)
    with pytest.raises(ValueError, match="non-empty"):
        aimc.calibrate_input_ranges(analog, x[:0])


def test_subsampling_is_seeded_and_close_to_the_full_quantile():
    model, x = model_and_data()
    full, _ = aimc.convert(model, fixed_chip())
    exact = aimc.calibrate_input_ranges(full, x, quantile=0.99)
    ranges = []
    for seed in (0, 0, 1):
        analog, _ = aimc.convert(model, fixed_chip())
        ranges.append(aimc.calibrate_input_ranges(analog, x, quantile=0.99, max_samples=8000, seed=seed))
    assert ranges[0] == ranges[1] and ranges[0] != ranges[2]
    for name in exact:  # 8000 samples: the 99 % quantile to within a few percent
        assert abs(ranges[2][name] / exact[name] - 1) < 0.05


def test_calibrating_a_programmed_chip_keeps_its_drift_compensation_valid():
    # GDC reads at full scale whatever the range: programming before or after calibration is the same
    base = load_chip("ibm-hermes-pcm")
    dac = base.dac.model_copy(update={"scaling": "fixed", "input_range": 1.0})
    chip = base.model_copy(update={"dac": dac})
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(20, 16))
    x = torch.randn(500, 20, generator=torch.Generator().manual_seed(2)) * 3
    outputs = []
    for calibrate_first in (True, False):
        analog, _ = aimc.convert(model, chip)
        if calibrate_first:
            aimc.calibrate_input_ranges(analog, x)
        aimc.program(analog, seed=0)
        if not calibrate_first:
            aimc.calibrate_input_ranges(analog, x)
        aimc.drift(analog, 86400.0)
        with torch.no_grad():
            outputs.append(analog(x))
    torch.testing.assert_close(outputs[0], outputs[1])
    error = (outputs[0] - model(x)).norm() / model(x).norm()
    assert error < 0.2  # compensated drift and read noise, not a wrong scale


def test_each_batch_keeps_its_share_and_bad_data_is_refused():
    model = nn.Sequential(nn.Linear(4, 2))
    analog, _ = aimc.convert(model, fixed_chip())
    x = torch.ones(257, 4)
    x[-1] = 100.0  # a short last batch of one outlier row must not fill half the sample
    ranges = aimc.calibrate_input_ranges(analog, x, quantile=0.99, max_samples=512, batch_size=256)
    assert ranges["0"] == 1.0
    with pytest.raises(ValueError, match="tuple"):
        aimc.calibrate_input_ranges(analog, [x, x])
