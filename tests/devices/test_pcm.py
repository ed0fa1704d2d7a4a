"""PCM statistics against Nandakumar et al. (ICECS 2019), on 2e5 devices per check.

Tolerances: the relative standard error of a sample std over n = 2e5 normal draws is
1/sqrt(2n) = 0.16 %, of a sample mean of nu (CV <= 0.9) under 0.2 %; the 3 % (std) and 1 % (mean)
bounds are > 5 standard errors, and far below the changes a wrong coefficient would make.
"""

import math

import numpy as np
import pytest
import torch
from scipy import stats

from aimc.devices import PCM

N = 200_000
G_MAX = 25e-6


def sigma_prog_formula(g_t):
    g_r = g_t / G_MAX
    return (0.26348 + 1.9650 * g_r - 1.1731 * g_r**2) * 1e-6


def nu_params_formula(g_t):
    g_r = g_t / G_MAX
    mu = np.clip(-0.0155 * np.log(g_r) + 0.0244, 0.049, 0.1)
    sigma = np.clip(-0.0125 * np.log(g_r) - 0.0059, 0.008, 0.045)
    return mu, sigma


def program(g_t, seed=0, **kw):
    pcm = PCM(**kw)
    g = torch.full((N,), g_t, dtype=torch.float64)
    return pcm, pcm.program(g, torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("g_t", [2.5e-6, 5e-6, 10e-6, 17.5e-6, 25e-6])
def test_programming_noise_sigma_matches_formula(g_t):
    _, state = program(g_t)
    g = state["g_prog"].numpy()
    assert abs(g.mean() - g_t) < 5 * sigma_prog_formula(g_t) / math.sqrt(N)
    assert g.std() == pytest.approx(sigma_prog_formula(g_t), rel=0.03)


def test_programmed_conductance_never_negative():
    _, state = program(0.0)
    g = state["g_prog"]
    assert (g >= 0).all()
    # half the draws at g_T = 0 fall below zero and are clipped to exactly 0
    assert (g == 0).double().mean().item() == pytest.approx(0.5, abs=0.01)


def test_programming_noise_scales_with_g_max():
    _, state = program(50e-6, g_max=50e-6)
    assert state["g_prog"].std().item() == pytest.approx(2 * sigma_prog_formula(25e-6), rel=0.03)


@pytest.mark.parametrize("g_t", [0.5e-6, 5e-6, 25e-6])
def test_drift_exponent_is_folded_normal_of_formula(g_t):
    _, state = program(g_t)
    nu = state["nu"].numpy()
    mu, sigma = nu_params_formula(g_t)
    folded = stats.foldnorm(c=mu / sigma, scale=sigma)
    assert (nu >= 0).all()
    assert nu.mean() == pytest.approx(folded.mean(), rel=0.01)
    assert nu.std() == pytest.approx(folded.std(), rel=0.03)


@pytest.mark.parametrize("t", [1.0, 3600.0, 86400.0 * 365])
def test_drift_factor(t):
    pcm, state = program(10e-6)
    g_t = pcm.conductance(state, t)
    expected = state["g_prog"] * ((t + 20.0) / 20.0) ** (-state["nu"])
    torch.testing.assert_close(g_t, expected, rtol=1e-12, atol=0)
    # mean drift factor against the folded-normal nu of the formula (numerical expectation)
    mu, sigma = nu_params_formula(10e-6)
    nu_grid = stats.foldnorm(c=mu / sigma, scale=sigma)
    mean_factor = nu_grid.expect(lambda nu: ((t + 20.0) / 20.0) ** (-nu))
    ratio = (g_t / state["g_prog"]).numpy()
    assert ratio.mean() == pytest.approx(mean_factor, rel=2e-3)
    assert torch.equal(pcm.conductance(state, 0.0), state["g_prog"])


@pytest.mark.parametrize("g_t,t", [(2.5e-6, 1.0), (10e-6, 86400.0), (25e-6, 3.15e7)])
def test_read_noise_sigma(g_t, t):
    pcm, state = program(g_t)
    g = pcm.conductance(state, t)
    sigma = pcm.read_noise_std(state, g, t)
    g_r = g_t / G_MAX
    q_s = min(0.0088 / g_r**0.65, 0.2)
    expected = g * q_s * math.sqrt(math.log((t + 250e-9) / (2 * 250e-9)))
    torch.testing.assert_close(sigma, expected, rtol=1e-12, atol=0)
    # and a read of the crossbar has that spread: one device per column, driven at 1 V
    from aimc.array import NormalSource, column_currents
    reads = column_currents(torch.ones(1, 1, dtype=torch.float64), g[None, :].double(),
                            (sigma * sigma)[None, :].double(), NormalSource(seed=7))
    assert ((reads[0] - g) / sigma).std().item() == pytest.approx(1.0, rel=0.03)


def test_read_noise_cap_and_zero_before_t_read():
    pcm, state = program(1e-9)  # g_r tiny: Q_s capped at 0.2
    assert pcm.read_noise_q(state["g_target"]).max().item() == pytest.approx(0.2)
    g = pcm.conductance(state, 0.0)
    assert pcm.read_noise_std(state, g, 0.0) is None


def test_same_seed_same_devices_different_seed_different():
    _, a = program(10e-6, seed=3)
    _, b = program(10e-6, seed=3)
    _, c = program(10e-6, seed=4)
    assert torch.equal(a["g_prog"], b["g_prog"]) and torch.equal(a["nu"], b["nu"])
    assert not torch.equal(a["g_prog"], c["g_prog"])


def test_negative_time_rejected():
    pcm, state = program(10e-6)
    with pytest.raises(ValueError, match="time since programming"):
        pcm.conductance(state, -1.0)


@pytest.mark.parametrize("t", [float("inf"), float("nan"), -1.0])
def test_device_refuses_non_finite_or_negative_times(t):
    from aimc.devices.base import check_time

    with pytest.raises(ValueError, match="finite and >= 0 s"):
        check_time(t)
