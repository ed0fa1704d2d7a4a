import pytest
import torch

from aimc.array import NormalSource, column_currents


def test_currents_are_g_times_v_hand_computed():
    g = torch.tensor([[10e-6, 0.0, 25e-6], [5e-6, 20e-6, 1e-6]], dtype=torch.float64)  # 2 rows x 3 cols
    v = torch.tensor([[0.2, 0.1], [-0.1, 0.0]], dtype=torch.float64)
    i = column_currents(v, g)
    expected = torch.tensor([[0.2 * 10e-6 + 0.1 * 5e-6, 0.1 * 20e-6, 0.2 * 25e-6 + 0.1 * 1e-6],
                             [-1e-6, 0.0, -2.5e-6]], dtype=torch.float64)
    torch.testing.assert_close(i, expected, rtol=1e-15, atol=0)


def test_stacked_arrays_broadcast():
    g = torch.rand(3, 4, 5)
    v = torch.rand(3, 7, 4)
    torch.testing.assert_close(column_currents(v, g), torch.stack([v[k] @ g[k] for k in range(3)]))


def test_read_noise_variance_law():
    # one column of two devices with sigma 1 and 2 (S), voltages 3 and 1 V: var = 9*1 + 1*4 = 13
    g = torch.zeros(2, 1, dtype=torch.float64)
    var = torch.tensor([[1.0], [4.0]], dtype=torch.float64)
    v = torch.tensor([[3.0, 1.0]], dtype=torch.float64).expand(200_000, 2)
    i = column_currents(v, g, var, NormalSource(seed=0))
    assert i.mean().item() == pytest.approx(0.0, abs=5 * 13**0.5 / 200_000**0.5)
    assert i.var().item() == pytest.approx(13.0, rel=0.02)  # 2 % > 6 std errors (0.32 %)


def test_normal_source_reproducible_and_standard():
    a, b = NormalSource(seed=3), NormalSource(seed=3)
    za = a.draw((400, 1000)).clone()
    assert torch.equal(za, b.draw((400, 1000)))
    assert not torch.equal(za, a.draw((400, 1000)))  # fresh numbers at every draw
    # 4e5 samples: std errors of mean and std are 0.0016 and 0.0011
    assert abs(za.mean().item()) < 0.008 and za.std().item() == pytest.approx(1.0, abs=0.006)
    # consecutive halves of one draw are uncorrelated (|r| < 5 / sqrt(2e5))
    flat = za.flatten()
    assert abs(torch.corrcoef(torch.stack([flat[:200_000], flat[200_000:]]))[0, 1].item()) < 0.011
