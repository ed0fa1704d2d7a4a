"""Regression tests for defects found in review: each would have failed before its fix."""

import numpy as np
import pytest
import torch
from torch import nn

import aimc
from aimc.array import Faults
from aimc.chips import ChipSpec, load_chip
from aimc.devices import PCM, RRAM, Ideal, write_device_csv
from aimc.encoding import BitSliced, Offset
from aimc.periphery import ADC, DAC
from aimc.tile import Tile

DAY = 86400.0
IDEAL_IO = {"dac": DAC(bits=None), "adc": ADC(bits=None, full_scale=None)}


def test_offset_encoding_needs_odd_levels_and_is_unbiased_with_them():
    w = torch.randn(64, 512)
    with pytest.raises(ValueError, match="odd number of levels"):
        Tile(w, device=Ideal(levels=256), encoding=Offset(), **IDEAL_IO)
    tile = Tile(w, device=Ideal(levels=255), encoding=Offset(), **IDEAL_IO)
    tile.program(0)
    x = torch.rand(256, 512)
    err = tile(x) - x @ w.T
    assert abs(err.mean().item()) < 0.01 * (x @ w.T).std().item()


def test_offset_reference_is_subtracted_before_the_adc():
    # the common-mode current of single-ended cells would saturate a 12-cell ADC
    w = torch.randn(32, 256) * 0.1
    x = torch.rand(64, 256)
    tile = Tile(w, device=Ideal(), encoding=Offset(), dac=DAC(bits=8), adc=ADC(bits=8, full_scale=12.0))
    tile.program(0)
    rel = ((tile(x) - x @ w.T).pow(2).mean() / (x @ w.T).pow(2).mean()).sqrt().item()
    assert rel < 0.1


def test_bit_slicing_is_exact_at_32_bits_and_rejects_more():
    with pytest.raises(ValueError, match="<= 32 bits"):
        BitSliced(slices=8, bits_per_slice=8)
    enc = BitSliced(slices=4, bits_per_slice=8)
    w = torch.randn(20, 6, dtype=torch.float64)
    torch.testing.assert_close(enc.encode(w, 1.0).decode(), w, rtol=1e-6, atol=1e-8)


def test_stuck_on_pcm_cells_read_with_the_noise_of_g_max():
    w = torch.full((1, 400), 0.5)
    tile = Tile(w, device=PCM(prog_noise_scale=0, drift_scale=0), faults=Faults(stuck_on=0.5),
                **IDEAL_IO)
    tile.program(0)
    tile.drift_to(DAY)
    stuck = tile.fault_maps["stuck_on"]
    sigma = PCM().read_noise_std(tile._noise_state(), tile.conductances(), DAY)
    expected = PCM().read_noise_std({"g_target": torch.tensor([25e-6])}, torch.tensor([25e-6]), DAY)
    torch.testing.assert_close(sigma[stuck], expected.expand(int(stuck.sum())), rtol=1e-6, atol=0)


def test_dead_columns_read_exactly_zero_even_with_constant_read_noise():
    tile = Tile(torch.randn(8, 16), device=RRAM(), faults=Faults(dead_cols=1.0), **IDEAL_IO)
    tile.program(0)
    assert torch.equal(tile(torch.rand(4, 16)), torch.zeros(4, 8))


def test_backward_through_noisy_multi_array_tile_and_two_forwards():
    layer, _ = aimc.convert(nn.Linear(600, 4), load_chip("ibm-hermes-pcm"))
    aimc.program(layer, seed=0)
    aimc.drift(layer, 3600.0)
    x = torch.rand(3, 600, requires_grad=True)
    y1, y2 = layer(x), layer(x)
    (y1.sum() + y2.sum()).backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()


def test_reads_at_a_time_do_not_depend_on_earlier_times():
    model = nn.Sequential(nn.Linear(20, 16), nn.ReLU(), nn.Linear(16, 4))
    analog, _ = aimc.convert(model, load_chip("ibm-hermes-pcm"))
    g = torch.Generator().manual_seed(0)
    x = torch.randn(200, 20, generator=g)
    y = model(x).argmax(1)
    only = aimc.evaluate_over_time(analog, (x, y), [DAY], repeats=3, progress=False)
    both = aimc.evaluate_over_time(analog, (x, y), [1.0, DAY], repeats=3, progress=False)
    assert np.array_equal(only.accuracies[:, 0], both.accuracies[:, 1])


def test_loading_weights_requires_programming_again():
    analog, _ = aimc.convert(nn.Linear(8, 4), load_chip("ideal"))
    other, _ = aimc.convert(nn.Linear(8, 4), load_chip("ideal"))
    aimc.program(analog, seed=0)
    analog.load_state_dict(other.state_dict())
    with pytest.raises(RuntimeError, match="not programmed"):
        analog(torch.ones(1, 8))


def test_float64_default_dtype():
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        analog, _ = aimc.convert(nn.Linear(300, 5), load_chip("ibm-hermes-pcm"))
        aimc.program(analog, seed=0)
        aimc.drift(analog, DAY)
        assert analog(torch.rand(2, 300)).shape == (2, 5)
    finally:
        torch.set_default_dtype(old)


def test_measured_csv_path_is_relative_to_the_chip_yaml(tmp_path, monkeypatch):
    write_device_csv(PCM(), tmp_path / "wafer.csv")
    (tmp_path / "chip.yaml").write_text("device:\n  name: measured\n  csv: wafer.csv\n")
    monkeypatch.chdir("/")
    assert load_chip(tmp_path / "chip.yaml").device.name == "measured"


def test_clear_errors_and_unbatched_conv():
    analog, _ = aimc.convert(nn.Sequential(nn.Conv1d(3, 4, 3), nn.Flatten(0)), load_chip("ideal"))
    aimc.program(analog, seed=0)
    conv = analog[0]
    x = torch.randn(3, 10)
    torch.testing.assert_close(conv(x), conv(x[None])[0])  # [C, L] as nn.Conv1d accepts
    with pytest.raises(ValueError, match="NaN"):
        conv(torch.full((1, 3, 10), float("nan")))
    with pytest.raises(TypeError, match="non-negative integer"):
        aimc.program(analog, seed=1.5)
    assert isinstance(ChipSpec(), ChipSpec)
