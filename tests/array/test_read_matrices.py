"""Assembling the read matrices at a time t (``aimc.array.read_matrices``) from a hand-made
programmed state, without a tile."""

import pytest
import torch

from aimc.array import CircuitNoise
from aimc.array.circuit_noise import K_B, Q_E
from aimc.array.read_matrices import add_circuit_noise, assemble, output_major
from aimc.devices import PCM, Ideal

SHAPE = (3, 2, 5, 4)  # planes, arrays, rows, columns
HOUR = 3600.0


def _g(seed, device):
    return device.g_min + (device.g_max - device.g_min) * torch.rand(
        SHAPE, generator=torch.Generator().manual_seed(seed))


def test_planes_of_one_group_combine_in_analog_and_groups_stay_apart():
    """Planes 0 and 1 form a differential pair (ADC group 0), plane 2 is group 1 on its own;
    the matrices are stored output-major, so the ``F.linear`` layout is a view."""
    dev = Ideal()
    g = _g(0, dev)
    m = assemble({"g_prog": g}, {}, HOUR, device=dev, shape=SHAPE, alpha=(1.0, -1.0, 2.0), group=(0, 0, 1),
                 groups=2, to_codes=1e4)
    assert m.var is None and m.bias is None and m.shot is None
    assert torch.equal(m.w[0], 1e4 * g[0] - 1e4 * g[1])
    assert torch.equal(m.w[1], 2e4 * g[2])
    linear = output_major(m.w)
    assert linear.shape == (2, 2 * 4, 5) and linear.is_contiguous() and linear.data_ptr() == m.w.data_ptr()


def test_fresh_read_noise_becomes_variances_in_codes():
    dev = PCM(read_window=None)  # all of the 1/f band fresh
    state = dev.program(_g(1, dev), torch.Generator().manual_seed(2))
    m = assemble(state, {}, HOUR, device=dev, shape=SHAPE, alpha=(1.0, -1.0, 1.0), group=(0, 0, 1),
                 groups=2, to_codes=1e4)
    sigma = dev.read_noise_std(state, dev.conductance(state, HOUR), HOUR)
    assert torch.allclose(m.var[0], 1e8 * (sigma[0] ** 2 + sigma[1] ** 2), rtol=1e-6)
    assert torch.allclose(m.var[1], 1e8 * sigma[2] ** 2, rtol=1e-6)
    assert torch.equal(m.w[1], 1e4 * dev.conductance(state, HOUR)[2])


def test_the_frozen_band_is_one_draw_per_read_window():
    """The slow band is drawn into the conductances from the window's generator (same seed, same
    matrix; another seed, another one); the fresh band's variance does not depend on it."""
    dev = PCM(read_window=1e-3)
    state = dev.program(_g(3, dev), torch.Generator().manual_seed(4))

    def at(seed):
        return assemble(state, {}, HOUR, device=dev, shape=SHAPE, alpha=(1.0, -1.0, 1.0), group=(0, 0, 1),
                        groups=2, to_codes=1e4, frozen_generator=torch.Generator().manual_seed(seed))

    first, again, other = at(5), at(5), at(6)
    assert torch.equal(first.w, again.w) and not torch.equal(first.w, other.w)
    assert torch.equal(first.var, other.var)
    frozen, _ = dev.read_noise_split(state, dev.conductance(state, HOUR), HOUR)
    z = (first.w[1] / 1e4 - dev.conductance(state, HOUR)[2]) / frozen[2]  # plane 2 alone in group 1
    assert abs(z.mean().item()) < 4 / z.numel() ** 0.5 and 0.5 < z.std().item() < 1.5  # 40 draws


@pytest.mark.parametrize("thermal,shot", [(True, False), (False, True), (True, True)])
def test_circuit_noise_in_codes_squared(thermal, shot):
    """Thermal: ``4 k_B T Δf`` per siemens of every device on the column, whatever the input;
    shot: ``2 q Δf`` per ampere, i.e. per siemens and volt of the row's DAC level."""
    noise = CircuitNoise(thermal=thermal, shot=shot, integration_time=1e-7)
    g = torch.full((2, 5, 4), 1e-5)
    unit, volts = 1e-7, 0.2 / 127
    bias, shot_var = add_circuit_noise(g, -2.0, 1, None, None, circuit_noise=noise, temperature_k=300.0,
                                       unit=unit, volts_per_level=volts, groups=2)
    df = 1 / 2e-7
    if thermal:
        assert bias.shape == (2, 2, 4) and torch.equal(bias[0], torch.zeros(2, 4))
        assert torch.allclose(bias[1], torch.full((2, 4), 4 * 4 * K_B * 300 * df * 5e-5 / unit**2), rtol=1e-5)
    else:
        assert bias is None
    if shot:
        assert shot_var.shape == (2, 2, 5, 4) and torch.equal(shot_var[0], torch.zeros(2, 5, 4))
        assert torch.allclose(shot_var[1], torch.full((2, 5, 4), 4 * 2 * Q_E * df * 1e-5 * volts / unit**2),
                              rtol=1e-5)
    else:
        assert shot_var is None
    assert add_circuit_noise(g, 1.0, 0, None, None, circuit_noise=None, temperature_k=None, unit=unit,
                             volts_per_level=volts, groups=2) == (None, None)
