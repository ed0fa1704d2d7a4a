"""RRAM statistics against the Wan et al. (Nature 2022) fits; 2e5 devices per check
(std error of a sample std: 0.16 %; tolerances 3 %)."""

import math

import pytest
import torch

from aimc.devices import RRAM

N = 200_000
C_1S = (0.348, 16.030, -43.853, 45.393, -16.815)
C_DAY = (0.701, 22.086, -50.773, 47.095, -16.458)
# 2 days after programming (Wan et al. 2022, Extended Data Fig. 3, as fitted in IBM aihwkit's
# ReRamWan2022NoiseModel); the model does not use it, it extrapolates the 1-day fit in log time
C_2DAY = (0.782, 20.274, -43.507, 37.062, -11.934)


def poly(c, x):
    return sum(ci * x**i for i, ci in enumerate(c)) * 1e-6


def program(g_t, seed=0, **kw):
    dev = RRAM(**kw)
    return dev, dev.program(torch.full((N,), g_t, dtype=torch.float64), torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("g_t", [10e-6, 20e-6, 30e-6])
def test_programming_sigma_and_split(g_t):
    dev, state = program(g_t)
    expected = poly(C_1S, g_t / 40e-6)
    assert state["g_prog"].std().item() == pytest.approx(expected, rel=0.03)
    assert state["d2d"].std().item() == pytest.approx(expected * math.sqrt(0.5), rel=0.03)
    # at 1 s nothing has relaxed yet
    assert torch.equal(dev.conductance(state, 1.0), state["g_prog"])


@pytest.mark.parametrize("g_t", [10e-6, 30e-6])
def test_relaxation_meets_one_day_fit_and_grows_in_log_time(g_t):
    dev, state = program(g_t)
    x = g_t / 40e-6
    day = dev.conductance(state, 86400.0) - g_t
    assert day.std().item() == pytest.approx(poly(C_DAY, x), rel=0.03)
    hour = dev.conductance(state, 3600.0) - g_t
    share = math.log(3600) / math.log(86400)
    var_hour = poly(C_1S, x) ** 2 + (poly(C_DAY, x) ** 2 - poly(C_1S, x) ** 2) * share
    assert hour.std().item() == pytest.approx(math.sqrt(var_hour), rel=0.03)


def test_arrhenius_speeds_up_relaxation():
    cold, hot = RRAM(), RRAM(temperature_k=358.0)
    factor = math.exp(1.1 / 8.617333262e-5 * (1 / 300 - 1 / 358))
    assert hot.arrhenius_factor(1.1, 300.0) == pytest.approx(factor)
    g = torch.full((10,), 20e-6)
    # 1 s at 85 C relaxes as much as `factor` seconds at 27 C
    torch.testing.assert_close(hot.relaxation_std(g, 1.0), cold.relaxation_std(g, factor))


def test_window_levels_and_read_noise():
    dev = RRAM(levels=16)
    g = dev.snap(torch.tensor([0.0, 1.2e-6, 20e-6, 50e-6]))
    step = (40e-6 - 1e-6) / 15
    assert g[0] == 1e-6 and g[-1] == 40e-6  # clipped to [g_min, g_max]
    assert torch.allclose((g - 1e-6) / step, ((g - 1e-6) / step).round(), atol=1e-4)
    state = dev.program(torch.full((4,), 20e-6), torch.Generator().manual_seed(0))
    sigma = dev.read_noise_std(state, dev.conductance(state, 1.0), 1.0)
    assert torch.allclose(sigma, torch.full((4,), 0.4e-6))


def test_bad_window():
    from pydantic import ValidationError
    with pytest.raises(ValidationError, match="g_min"):
        RRAM(g_min=50e-6)


def test_rewrite_keeps_the_device_to_device_part_and_redraws_the_rest():
    dev, state = program(20e-6)
    target = torch.full((N,), 20e-6, dtype=torch.float64)
    again = dev.reprogram(state, target, torch.Generator().manual_seed(5))
    assert torch.equal(again["d2d"], state["d2d"])
    sigma = poly(C_1S, 0.5)
    # between two writes of the same devices only the c2c part differs: Var = 2 (1 - f) sigma^2
    assert (again["g_prog"] - state["g_prog"]).std().item() == pytest.approx(sigma, rel=0.03)
    assert (again["relax_xi"] != state["relax_xi"]).all()
    # a new chip (program) draws new offsets
    other = dev.program(torch.full((N,), 20e-6, dtype=torch.float64), torch.Generator().manual_seed(5))
    assert not torch.equal(other["d2d"], state["d2d"])


@pytest.mark.parametrize("g_t", [4e-6, 10e-6, 20e-6, 30e-6, 40e-6])
def test_extrapolation_to_two_days_against_the_published_two_day_fit(g_t):
    """The relaxation law is fitted to 1 s and 1 day; at 2 days it predicts (analytically, x =
    g_T / 40 uS) 0.717 uS vs the published 0.782 uS at x = 0 (-8 %), +3.8 % at x = 0.2, +1.7 %
    at x = 0.5, +1.5 % at x = 1: within 4 % (and 0.13 uS, 0.3 % of g_max) for x >= 0.1.
    Monte Carlo over 2e5 devices adds 0.16 % sampling error; tolerance 5 %."""
    dev, state = program(g_t)
    two_days = (dev.conductance(state, 2 * 86400.0) - g_t).std().item()
    published = poly(C_2DAY, g_t / 40e-6)
    assert two_days == pytest.approx(published, rel=0.05)
    assert abs(two_days - published) < 0.15e-6


def test_extrapolation_error_over_the_whole_window():
    x = torch.linspace(0, 1, 101, dtype=torch.float64)
    share = math.log(2 * 86400) / math.log(86400)
    var = poly(C_1S, x) ** 2 + (poly(C_DAY, x) ** 2 - poly(C_1S, x) ** 2) * share
    relative = var.sqrt() / poly(C_2DAY, x) - 1
    assert relative.max() < 0.04 and relative.min() > -0.09  # -8.3 % at x = 0, +3.8 % max
    assert (relative[x >= 0.1].abs() < 0.04).all()
    # the device's own relaxation_std gives the same (analytic) prediction
    dev = RRAM()
    g = x[1:] * 40e-6
    predicted = (dev.programming_std(g) ** 2 + dev.relaxation_std(g, 2 * 86400.0) ** 2).sqrt()
    torch.testing.assert_close(predicted, var[1:].sqrt())
