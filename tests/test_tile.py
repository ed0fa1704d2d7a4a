import pytest
import torch

from aimc.calibration import GlobalDriftCompensation
from aimc.devices import PCM, Ideal
from aimc.periphery import ADC, DAC
from aimc.tile import Tile

DAY = 86400.0


def ideal_tile(w, rows=256, cols=256):
    return Tile(w, device=Ideal(), dac=DAC(bits=None), adc=ADC(bits=None, full_scale=None),
                array_rows=rows, array_cols=cols)


@pytest.mark.parametrize("shape,rows,grid", [((10, 20), 256, (1, 1)), ((300, 600), 256, (3, 2)),
                                             ((7, 785), 256, (4, 1)), ((5, 9), 2, (5, 1))])
def test_ideal_tile_equals_digital_matmul(shape, rows, grid):
    w = torch.randn(*shape)
    tile = ideal_tile(w, rows=rows)
    assert tile.array_grid == grid
    tile.program(seed=0)
    x = torch.randn(33, shape[1])
    assert_float_close(tile(x), x, w)


def assert_float_close(y, x, w):
    """Equal up to float32 rounding of the sums: |error| <= 1e-6 * sum |x_i w_ji|."""
    bound = 1e-6 * (x.abs() @ w.abs().T)
    assert ((y - x @ w.T).abs() <= bound).all()


def test_mapping_differential_pair_and_column_scaling():
    w = torch.tensor([[0.5, -1.0, 0.25], [0.0, 0.0, 0.0], [2.0, 1.0, -2.0]])  # [out, in]
    tile = ideal_tile(w)
    g_plus, g_minus = tile.g_target[0, 0], tile.g_target[1, 0]  # [in, out]
    g_max = Ideal().g_max
    torch.testing.assert_close(g_plus[:, 0], torch.tensor([0.5, 0.0, 0.25]) * g_max)
    torch.testing.assert_close(g_minus[:, 0], torch.tensor([0.0, 1.0, 0.0]) * g_max)
    torch.testing.assert_close(g_plus[:, 2], torch.tensor([1.0, 0.5, 0.0]) * g_max)
    assert torch.equal(g_plus[:, 1], torch.zeros(3)) and torch.equal(g_minus[:, 1], torch.zeros(3))
    assert (tile.g_target.amax(dim=(0, 1, 2))[[0, 2]] == g_max).all()


def test_partial_sums_are_digitised_per_array():
    # two rows of weight 1; inputs 1: each array sees 1 cell current, the sum is 2 cells
    w = torch.ones(1, 2)
    adc = ADC(bits=None, full_scale=1.5)  # clips at 1.5 cells
    split = Tile(w, device=Ideal(), dac=DAC(bits=None), adc=adc, array_rows=1)
    whole = Tile(w, device=Ideal(), dac=DAC(bits=None), adc=adc, array_rows=2)
    for t in (split, whole):
        t.program(0)
    x = torch.ones(1, 2)
    assert split(x).item() == pytest.approx(2.0)  # each partial sum within range
    assert whole(x).item() == pytest.approx(1.5)  # one array saturates its ADC


def test_quantised_tile_close_to_digital():
    w = torch.randn(64, 200)
    tile = Tile(w, device=Ideal(), dac=DAC(bits=8), adc=ADC(bits=8, full_scale=12.0))
    tile.program(0)
    x = torch.rand(128, 200)
    err = (tile(x) - x @ w.T).std() / (x @ w.T).std()
    assert 1e-4 < err < 0.05  # 8-bit I/O: small but non-zero error


def pcm_tile(w, compensation=True):
    return Tile(w, device=PCM(), dac=DAC(bits=8), adc=ADC(bits=8, full_scale=12.0),
                compensation=GlobalDriftCompensation() if compensation else None)


def test_gdc_restores_output_scale_at_one_day():
    w = torch.randn(128, 256) * 0.1
    x = torch.rand(512, 256) * 2 - 1
    tile = pcm_tile(w)
    tile.program(seed=1)
    scale_0 = tile(x).abs().mean().item()  # right after programming
    tile.drift_to(DAY, compensate=False)
    drifted = tile(x).abs().mean().item()
    tile.drift_to(DAY, compensate=True)
    compensated = tile(x).abs().mean().item()
    assert drifted / scale_0 < 0.8  # drift really shrinks outputs (~t^-0.06)
    assert compensated / scale_0 == pytest.approx(1.0, abs=0.02)


def test_same_seed_same_numbers_different_seed_different():
    w = torch.randn(32, 300)
    x = torch.randn(16, 300)
    outs = []
    for seed in (5, 5, 6):
        tile = pcm_tile(w)
        tile.program(seed=seed)
        tile.drift_to(3600.0)
        outs.append((tile(x), tile(x)))
    assert torch.equal(outs[0][0], outs[1][0]) and torch.equal(outs[0][1], outs[1][1])
    assert not torch.equal(outs[0][0], outs[0][1])  # read noise is fresh at every read
    assert not torch.equal(outs[0][0], outs[2][0])


def test_read_noise_of_tile_matches_device_sigma():
    # one input row driven at full scale: output variance = sigma(G+)^2 + sigma(G-)^2
    w = torch.full((200, 1), 0.5)
    w[::2] = -0.5
    tile = Tile(w, device=PCM(prog_noise_scale=0.0, drift_scale=0.0), dac=DAC(bits=None),
                adc=ADC(bits=None, full_scale=None))
    tile.program(seed=0)
    tile.drift_to(DAY)
    reads = torch.stack([tile(torch.ones(1, 1))[0] for _ in range(2000)])  # [reads, 200]
    pcm = PCM()
    sigma = pcm.read_noise_std(tile.state, tile.conductances(), DAY)  # [2, 1, 1, 200]
    expected_std = sigma.pow(2).sum(dim=(0, 1, 2)).sqrt() * tile.weight_per_siemens
    ratio = reads.std(dim=0) / expected_std
    # 200 columns x 2000 reads: pooled std of the ratio is known to ~0.4 %
    assert ratio.mean().item() == pytest.approx(1.0, rel=0.02)


def test_errors():
    with pytest.raises(ValueError, match="2-D"):
        ideal_tile(torch.randn(3))
    with pytest.raises(ValueError, match="NaN"):
        ideal_tile(torch.tensor([[float("nan")]]))
    tile = ideal_tile(torch.randn(2, 3))
    with pytest.raises(RuntimeError, match="not programmed"):
        tile(torch.randn(1, 3))
    tile.program(0)
    with pytest.raises(ValueError, match="3 features"):
        tile(torch.randn(1, 4))


@pytest.mark.parametrize("t", [float("inf"), float("nan"), -1.0])
def test_drift_to_needs_a_finite_non_negative_time(t):
    # issue 11: drift(t=inf) was accepted and the next forward blamed its input for NaN
    tile = Tile(torch.randn(4, 8), device=PCM(), dac=DAC(), adc=ADC())
    tile.program(seed=0)
    with pytest.raises(ValueError, match="finite number of seconds >= 0"):
        tile.drift_to(t)
    assert tile.time == 0.0


def test_open_loop_state_is_drawn_again_bit_for_bit():
    # the programmed state is not stored: moving to another time and back gives the same matrices
    tile = Tile(torch.randn(20, 300), device=PCM(), dac=DAC(), adc=ADC())
    tile.program(seed=5)
    first = tile.state
    assert torch.equal(first["g_prog"], tile.state["g_prog"]) and torch.equal(first["nu"], tile.state["nu"])
    tile.drift_to(DAY)
    w_day = tile.matrices().w.clone()
    tile.drift_to(3.0e7)
    tile.drift_to(DAY)
    assert torch.equal(w_day, tile.matrices().w)
    other = Tile(torch.randn(20, 300), device=PCM(), dac=DAC(), adc=ADC())
    other.load_state_dict(tile.state_dict())
    other.program(seed=5)
    assert torch.equal(other.state["g_prog"], first["g_prog"])


def test_read_layouts_are_views_of_one_matrix():
    tile = Tile(torch.randn(30, 300), device=PCM(), dac=DAC(), adc=ADC())
    tile.program(seed=0)
    tile.drift_to(DAY)
    from aimc.tile import _output_major
    linear = tile.matrices(_output_major, key="linear")
    base = tile._read
    assert linear.w.untyped_storage().data_ptr() == base.w.untyped_storage().data_ptr()
    assert linear.var.untyped_storage().data_ptr() == base.var.untyped_storage().data_ptr()


def test_loads_a_state_dict_that_holds_conductance_planes():
    # files written before tiles stored their mapped weights hold "g_target" planes instead
    w = torch.randn(6, 300)
    tile = Tile(w, device=PCM(), dac=DAC(), adc=ADC())
    old = {k: v for k, v in tile.state_dict().items() if k != "target_weight"}
    old["g_target"] = tile.g_target
    fresh = Tile(torch.randn(6, 300), device=PCM(), dac=DAC(), adc=ADC())
    fresh.load_state_dict(old)
    torch.testing.assert_close(fresh.target_weight, w, rtol=1e-5, atol=1e-6)


def test_output_scale_follows_its_inputs():
    """The tile keeps its output scale between reads; a new drift compensation factor, new
    weights per siemens (a loaded state, in place) or another DAC must still change it."""
    w = torch.randn(16, 40) * 0.1
    tile = pcm_tile(w)
    tile.program(seed=2)
    tile.drift_to(DAY)

    def fresh():
        per_level = tile._unit_current() * tile.dac.full_scale_levels / tile.dac.v_read
        return tile.weight_per_siemens * (per_level * tile.gdc_scale)

    first = tile.output_scale
    assert tile.output_scale is first and torch.equal(first, fresh())
    tile.gdc_scale = tile.gdc_scale * 1.25
    assert torch.equal(tile.output_scale, fresh()) and not torch.equal(tile.output_scale, first)
    with torch.no_grad():
        tile.weight_per_siemens.mul_(2.0)  # in place: the same tensor, a new version
    assert torch.equal(tile.output_scale, fresh())
    tile.dac = DAC(bits=6)
    assert torch.equal(tile.output_scale, fresh())
