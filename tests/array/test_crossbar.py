import pytest
import torch

from aimc.array import NormalSource, column_currents
from aimc.array.crossbar import per_device_currents


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


def clamped_moments(g, sigma):
    """Mean and variance of max(g + sigma * N(0, 1), 0)."""
    z = g / sigma
    cdf, pdf = torch.special.ndtr(z), torch.exp(-0.5 * z * z) / (2 * torch.pi) ** 0.5
    mean = g * cdf + sigma * pdf
    return mean, (g * g + sigma * sigma) * cdf + g * sigma * pdf - mean * mean


def test_per_device_read_clamps_at_zero_and_matches_its_moments():
    # one device with g/sigma = 0.5: 31 % of reads would be negative and read 0 instead
    g, sigma = torch.tensor([[[0.5]]], dtype=torch.float64), torch.tensor([[[1.0]]], dtype=torch.float64)
    reads = per_device_currents(torch.ones(1, 1, dtype=torch.float64), g, sigma, (1.0,),
                                torch.Generator().manual_seed(0), reads=40_000).flatten()
    mean, var = clamped_moments(g.flatten(), sigma.flatten())
    assert (reads >= 0).all() and (reads == 0).double().mean().item() == pytest.approx(0.3085, abs=0.01)
    assert reads.mean().item() == pytest.approx(mean.item(), abs=5 * var.sqrt().item() / 200)
    assert reads.var().item() == pytest.approx(var.item(), rel=0.03)


def test_per_device_read_equals_output_noise_law_when_nothing_clamps():
    gen = torch.Generator().manual_seed(1)
    g = (5 + 20 * torch.rand(2, 16, 3, generator=gen, dtype=torch.float64)) * 1e-6
    sigma = 0.05 * g  # 20 sigma from zero: no read clamps
    v = torch.rand(1, 16, generator=gen, dtype=torch.float64) * 0.2
    reads = per_device_currents(v, g, sigma, (1.0, -1.0), gen, reads=20_000)[:, 0]  # [reads, 3]
    mean = v @ (g[0] - g[1])
    std = ((v * v) @ (sigma[0] ** 2 + sigma[1] ** 2)).sqrt()
    assert ((reads.mean(0) - mean).abs() < 5 * std / 20_000**0.5).all()
    torch.testing.assert_close(reads.std(0), std[0], rtol=0.03, atol=0)


@pytest.mark.parametrize("t,gain_range", [(1.0, (-6e-4, -1e-4)), (3.15e7, (-1.2e-3, -4e-4))])
def test_output_noise_against_clamped_per_device_noise_on_pcm(t, gain_range):
    # the regime stated in aimc.array.crossbar (numbers: benchmarks/study_read_noise_clamp.py):
    # with clamping the read-noise std is 0.5 % lower, and the mean output shrinks by a common
    # factor of 3e-4 (1 s) to 7e-4 (1 year), with a residual bias below 0.3 % of the output std
    from aimc.devices import PCM
    from aimc.periphery import ADC, DAC
    from aimc.tile import Tile

    gen = torch.Generator().manual_seed(0)
    tile = Tile(torch.randn(128, 128, generator=gen), device=PCM(), dac=DAC(bits=None),
                adc=ADC(bits=None, full_scale=None), array_rows=128, array_cols=128)
    tile.program(seed=0)
    g32 = tile.conductances(t)
    sigma = tile.device_model.read_noise_std(tile.state, g32, t).double()[:, 0]
    g = g32.double()[:, 0]
    v = (torch.rand(64, 128, generator=gen, dtype=torch.float64) * 2 - 1) * 0.2
    ideal = v @ (g[0] - g[1])
    std_a = ((v * v) @ (sigma[0] ** 2 + sigma[1] ** 2)).sqrt()  # aimc's law
    keep = sigma > 0
    moments = [clamped_moments(g[d].where(keep[d], 1.0), sigma[d].where(keep[d], 1.0)) for d in (0, 1)]
    mean = [m.where(keep[d], g[d]) for d, (m, _) in enumerate(moments)]
    var = [s.where(keep[d], 0.0) for d, (_, s) in enumerate(moments)]
    mean_b, std_b = v @ (mean[0] - mean[1]), ((v * v) @ (var[0] + var[1])).sqrt()
    gain = float((mean_b * ideal).sum() / (ideal * ideal).sum())
    assert gain_range[0] < gain - 1 < gain_range[1]
    assert ((mean_b - gain * ideal).pow(2).mean().sqrt() / ideal.std()).item() < 3e-3
    assert 0.99 < (std_b.mean() / std_a.mean()).item() < 0.999
