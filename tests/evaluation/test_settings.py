"""One pass over chip instances for several compensation settings, held device states, worker
threads and the bfloat16 noise variance: same numbers (or, for bfloat16, the stated error)."""

import numpy as np
import pytest
import torch
from torch import nn

import aimc
from aimc.chips import load_chip
from aimc.evaluation import evaluate_over_time, evaluate_settings
from aimc.nn import analog_tiles, holding_state, set_noise_precision


def small_cnn():
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 40, 3), nn.ReLU(),
                         nn.Flatten(), nn.Linear(40 * 36, 10))


def data(n=96):
    g = torch.Generator().manual_seed(1)
    x = torch.rand(n, 1, 8, 8, generator=g)
    with torch.no_grad():
        y = small_cnn()(x).argmax(1)  # labels the digital network gets right
    return x, y


def chip(window=None):
    """Hermes PCM with GDC; 64-row arrays so the second convolution spans 6 arrays."""
    spec = load_chip("ibm-hermes-pcm")
    return spec.model_copy(update={"array": spec.array.model_copy(update={"rows": 64}),
                                   "device": spec.device.model_copy(update={"read_window": window})})


@pytest.mark.parametrize("window", [None, 10.0], ids=["all fresh", "banded 1/f"])
def test_settings_in_one_pass_equal_separate_runs(window):
    analog, _ = aimc.convert(small_cnn(), chip(window))
    assert max(t.row_arrays for _, t in analog_tiles(analog)) > 1
    times = [1.0, 3600.0, 86400.0 * 365]
    separate = {c: evaluate_over_time(analog, data(), times, repeats=3, seed=7, compensate=c,
                                      progress=False) for c in (False, True)}
    both = evaluate_settings(analog, data(), times, repeats=3, seed=7, progress=False)
    for c in (False, True):
        assert np.array_equal(both[c].accuracies, separate[c].accuracies)
        assert both[c].seeds == separate[c].seeds and both[c].compensate == c
    # the settings differ (drift lowers the uncompensated accuracy at one year), so the test can fail
    assert not np.array_equal(both[False].accuracies, both[True].accuracies)


def test_worker_threads_give_the_same_numbers():
    analog, _ = aimc.convert(small_cnn(), chip())
    one = evaluate_settings(analog, data(), [1.0, 86400.0], repeats=5, seed=2, progress=False)
    two = evaluate_settings(analog, data(), [1.0, 86400.0], repeats=5, seed=2, progress=False, workers=2)
    for c in one:
        assert np.array_equal(one[c].accuracies, two[c].accuracies)
    assert one[True].std[1] > 0  # instances differ
    with pytest.raises(ValueError, match="workers"):
        evaluate_settings(analog, data(), [1.0], workers=0, progress=False)
    with pytest.raises(ValueError, match="at least one setting"):
        evaluate_settings(analog, data(), [1.0], compensate=(), progress=False)


def test_holding_state_keeps_the_drawn_state_and_the_numbers():
    analog, _ = aimc.convert(small_cnn(), chip())
    x, _ = data(8)
    tile = next(t for _, t in analog_tiles(analog))
    aimc.program(analog, seed=4)
    aimc.drift(analog, 3600.0)
    with torch.no_grad():
        plain = analog(x)
    with holding_state(analog) as held:
        assert held and tile.hold_state
        aimc.program(analog, seed=4)
        first = tile.state
        assert tile.state is first  # held: not drawn again
        aimc.drift(analog, 3600.0)
        with torch.no_grad():
            kept = analog(x)
    assert not tile.hold_state and tile._held_state is None  # released at the end of the block
    assert tile.state is not tile.state  # drawn again at each access, as before
    assert torch.equal(plain, kept)


def test_holding_state_refuses_when_memory_is_short(monkeypatch):
    from aimc.nn import lifecycle
    analog, _ = aimc.convert(small_cnn(), chip())
    monkeypatch.setattr(lifecycle, "available_memory", lambda: 1024)
    with holding_state(analog) as held:
        assert not held
        assert not any(t.hold_state for _, t in analog_tiles(analog))


def test_bfloat16_noise_variance_changes_the_noise_std_by_a_few_thousandths_at_most():
    layer = nn.Linear(512, 256)
    analog, _ = aimc.convert(layer, load_chip("ibm-hermes-pcm"))
    aimc.program(analog, seed=0)
    aimc.drift(analog, 86400.0)
    tile = analog.tile
    x = torch.randn(256, 512, generator=torch.Generator().manual_seed(0))
    levels, _ = tile.dac.to_levels(x)
    stds = {}
    for dtype in (torch.float32, torch.bfloat16):
        set_noise_precision(analog, dtype)
        m = tile.matrices(aimc.tile._output_major, key="linear", bias_layout=aimc.tile._output_major_bias)
        assert m.var.dtype == dtype and m.w.dtype == torch.float32  # the signal stays float32
        rows = tile.rows_per_array
        parts = [tile.products(levels[:, a * rows:(a + 1) * rows], m.array(a), nn.functional.linear)[1]
                 for a in range(tile.row_arrays)]
        stds[dtype] = torch.cat(parts, 1).sqrt()
    rel = stds[torch.bfloat16] / stds[torch.float32] - 1
    # 8-bit mantissas: the variance is rounded to bfloat16 (< 2^-8 relative), so the std is off by
    # < 2^-9 ~ 0.2 % (plus the rounding of the inputs, which averages out); unbiased on average
    assert rel.abs().max() < 5e-3 and abs(rel.mean()) < 2e-4
    assert rel.abs().max() > 0  # bfloat16 really was used
    with pytest.raises(ValueError, match="noise precision"):
        set_noise_precision(analog, torch.int8)
