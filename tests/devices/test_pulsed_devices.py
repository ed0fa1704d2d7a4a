"""Pulsed update responses: statistics against their formulas.

Sample sizes are chosen so that the standard error (SE) of each estimate is far below the
tolerance; the tolerances are 5 SE or a few percent where the SE is smaller still.
"""

import math

import pytest
import torch
from pydantic import ValidationError

from aimc.devices import ConstantStep, ExpStep, SoftBounds

N = 100_000
NO_D2D = dict(dw_min_dtod=0.0, up_down_dtod=0.0, w_max_dtod=0.0, w_min_dtod=0.0)


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def test_device_to_device_draws_have_the_configured_mean_and_spread():
    dev = ConstantStep(dw_min=0.002, dw_min_dtod=0.3, up_down=0.0, up_down_dtod=0.05,
                       w_max=1.0, w_max_dtod=0.2, w_min=-0.8, w_min_dtod=0.1)
    s = dev.draw((N,), gen())
    gain = (s["up"] + s["down"]) / 2 / dev.dw_min  # β cancels in the mean of both directions
    beta = (s["up"] - s["down"]) / (s["up"] + s["down"])
    # SE of a mean: std / sqrt(N) = 0.3 / 316 ≈ 1e-3; of a std: about std / sqrt(2N) ≈ 7e-4
    assert abs(gain.mean().item() - 1.0) < 5e-3
    assert abs(gain.std().item() - 0.3) < 0.01
    assert abs(beta.mean().item()) < 1e-3 and abs(beta.std().item() - 0.05) < 2e-3
    assert abs(s["w_max"].mean().item() - 1.0) < 4e-3 and abs(s["w_max"].std().item() - 0.2) < 6e-3
    assert abs(s["w_min"].mean().item() + 0.8) < 2e-3 and abs(s["w_min"].std().item() - 0.08) < 3e-3
    assert (s["up"] >= 0).all() and (s["w_max"] > 0).all() and (s["w_min"] < 0).all()


def test_constant_step_mean_and_cycle_to_cycle_spread_after_n_pulses():
    n, sigma, size = 20, 0.3, 50_000
    dev = ConstantStep(dw_min=0.001, dw_min_std=sigma, **NO_D2D)
    s = dev.draw((size,), gen(1))
    g = gen(2)
    w = torch.zeros(size)
    up = torch.ones(size, dtype=torch.bool)
    for _ in range(n):  # one pulse at a time, Gaussian step noise per pulse
        w = dev.pulse(w, up, s, torch.randn(size, generator=g))
    counts = dev.apply(torch.zeros(size), torch.full((size,), float(n)), torch.zeros(size), s,
                       torch.randn(size, generator=g))
    std = sigma * dev.dw_min * math.sqrt(n)  # the sum of n independent step errors
    for result in (w, counts):
        assert abs(result.mean().item() - n * dev.dw_min) < 5 * std / math.sqrt(size)
        assert abs(result.std().item() / std - 1) < 0.02  # SE of a std: 1 / sqrt(2 size) = 0.3 %


def test_constant_step_stops_at_the_hard_bound():
    dev = ConstantStep(dw_min=0.1, dw_min_std=0.0, **NO_D2D)
    s = dev.draw((3,), gen())
    w = dev.apply(torch.zeros(3), torch.tensor([5.0, 20.0, 0.0]), torch.tensor([0.0, 0.0, 30.0]), s)
    torch.testing.assert_close(w, torch.tensor([0.5, 1.0, -1.0]))


def test_soft_bounds_approach_w_max_exponentially_one_pulse_at_a_time_and_in_closed_form():
    dev = SoftBounds(dw_min=0.01, dw_min_std=0.0, **NO_D2D)
    s = dev.draw((4,), gen())
    a = dev.dw_min / dev.w_max
    w = torch.tensor([-0.5, 0.0, 0.3, 0.9])
    stepped = w.clone()
    for _ in range(200):
        stepped = dev.pulse(stepped, torch.ones(4, dtype=torch.bool), s)
    formula = dev.w_max - (dev.w_max - w) * (1 - a) ** 200
    closed = dev.apply(w, torch.full((4,), 200.0), torch.zeros(4), s)
    torch.testing.assert_close(stepped, formula, rtol=0, atol=1e-5)
    torch.testing.assert_close(closed, formula, rtol=0, atol=1e-5)
    saturated = dev.apply(w, torch.full((4,), 1e5), torch.zeros(4), s)
    torch.testing.assert_close(saturated, torch.full((4,), dev.w_max))


def test_soft_bounds_mean_follows_the_formula_with_cycle_to_cycle_noise():
    # multiplicative step noise has zero mean and the response is linear in w, so the mean
    # weight follows w_n = w_max - (w_max - w_0)(1 - a)^n exactly
    dev = SoftBounds(dw_min=0.005, dw_min_std=0.3, **NO_D2D)
    n, pulses = 20_000, 60
    s = dev.draw((n,), gen(3))
    g = gen(4)
    w = torch.zeros(n)
    up = torch.ones(n, dtype=torch.bool)
    for _ in range(pulses):
        w = dev.pulse(w, up, s, torch.randn(n, generator=g))
    mean = dev.w_max * (1 - (1 - dev.dw_min / dev.w_max) ** pulses)
    assert abs(w.mean().item() - mean) < 5 * w.std().item() / math.sqrt(n)
    # spread: the error of pulse k, sigma * step_k = sigma * dw (1 - a)^k, is contracted by the
    # later pulses, (1 - a)^(n - 1 - k): std = sigma dw (1 - a)^(n - 1) sqrt(n) to first order
    a = dev.dw_min / dev.w_max
    std = 0.3 * dev.dw_min * (1 - a) ** (pulses - 1) * math.sqrt(pulses)
    assert abs(w.std().item() / std - 1) < 0.04  # SE of a std: 1 / sqrt(2n) = 0.5 %


def test_soft_bounds_interleaved_pulses_and_the_symmetry_point():
    dev = SoftBounds(dw_min=0.01, up_down=0.2, dw_min_std=0.0, **NO_D2D)
    s = dev.draw((1,), gen())
    w = torch.tensor([0.5])
    alternating = w.clone()
    for k in range(100):
        alternating = dev.pulse(alternating, torch.tensor([k % 2 == 0]), s)
    closed = dev.apply(w, torch.tensor([50.0]), torch.tensor([50.0]), s)
    # uniform interleaving vs strict alternation differ by a fraction of one step
    assert abs(closed.item() - alternating.item()) < 0.5 * dev.dw_min
    for _ in range(600):
        w = dev.pulse(dev.pulse(w, torch.tensor([True]), s), torch.tensor([False]), s)
    sym = dev.symmetry_point(s)
    up, down = dev.dw_min * 1.2, dev.dw_min * 0.8
    assert abs(sym.item() - (up - down) / (up / dev.w_max + down / -dev.w_min)) < 1e-6
    assert abs(w.item() - sym.item()) < 2 * dev.dw_min  # alternating pulses converge there
    generic = super(SoftBounds, dev).symmetry_point(s)  # bisection agrees with the formula
    assert abs(generic.item() - sym.item()) < 1e-5


def test_exp_step_follows_aihwkit_formula_and_counts_match_single_pulses():
    dev = ExpStep(dw_min_std=0.0, **NO_D2D)
    s = dev.draw((3,), gen())
    w = torch.tensor([-0.4, 0.0, 0.5])
    up, down = dev.steps(w, s)
    z = 2 * dev.a * w / (dev.w_max - dev.w_min) + dev.b
    y_up = (1 - dev.A_up * torch.exp(dev.gamma_up * z)).clamp(min=0)
    y_down = (1 - dev.A_down * torch.exp(-dev.gamma_down * z)).clamp(min=0)
    torch.testing.assert_close(up, dev.dw_min * y_up)
    torch.testing.assert_close(down, dev.dw_min * y_down)
    stepped = w.clone()
    for _ in range(30):
        stepped = dev.pulse(stepped, torch.ones(3, dtype=torch.bool), s)
    counted = dev.apply(w, torch.full((3,), 30.0), torch.zeros(3), s)  # midpoint rule
    change = (stepped - w).abs().max().item()  # the rule's error is second order in the step
    torch.testing.assert_close(counted, stepped, rtol=0, atol=2e-3 * change)


def test_in_place_apply_matches_apply():
    dev = SoftBounds(dw_min_std=0.3)
    s = dev.draw((50,), gen(5))
    w = torch.rand(50, generator=gen(6)) - 0.5
    n_up, n_down = torch.randint(0, 3, (50,)).float(), torch.randint(0, 3, (50,)).float()
    xi = torch.randn(50, generator=gen(7))
    expected = dev.apply(w, n_up, n_down, s, xi)
    dev.apply_(w, n_up.clone(), n_down.clone(), s, xi.clone())
    torch.testing.assert_close(w, expected)


def test_invalid_devices_are_refused():
    with pytest.raises(ValidationError):
        SoftBounds(w_min=0.2)
    with pytest.raises(ValidationError):
        ConstantStep(dw_min=0.0)
    with pytest.raises(ValidationError):
        ConstantStep(typo=1.0)
    assert ConstantStep(dw_min=0.0016).states == pytest.approx(1250.0)
