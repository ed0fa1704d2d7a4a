import pytest
import torch
from torch import nn

import aimc
from aimc.chips import load_chip
from aimc.training import HWAConfig, Trainer, enable_hwa, noisy_weight, sync_input_ranges


def toy():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(512, 20, generator=g)
    w = torch.randn(20, 3, generator=g)
    return x, (x @ w).argmax(1)


def test_ideal_chip_noisy_weight_is_the_weight_and_gradient_is_straight_through():
    layer, _ = aimc.convert(nn.Linear(20, 3), load_chip("ideal"))
    enable_hwa(layer, HWAConfig(quantize_inputs=False))
    w = noisy_weight(layer, layer.hwa.config, layer.hwa.generator)
    torch.testing.assert_close(w, layer.weight, rtol=1e-5, atol=1e-6)
    w.sum().backward()
    assert torch.equal(layer.weight.grad, torch.ones_like(layer.weight))


def test_pcm_noise_is_drawn_fresh_and_of_device_size():
    layer, _ = aimc.convert(nn.Linear(200, 50), load_chip("ibm-hermes-pcm"))
    enable_hwa(layer, HWAConfig(t_inference=86400.0), seed=1)
    a = noisy_weight(layer, layer.hwa.config, layer.hwa.generator)
    b = noisy_weight(layer, layer.hwa.config, layer.hwa.generator)
    rel = ((a - layer.weight).std() / layer.weight.abs().max(dim=1).values.mean()).item()
    assert not torch.equal(a, b)
    assert 0.01 < rel < 0.1  # PCM programming + read noise: a few % of the largest weight


def test_training_forward_uses_noise_and_eval_uses_the_tile():
    layer, _ = aimc.convert(nn.Linear(20, 3), load_chip("ibm-hermes-pcm"))
    enable_hwa(layer, seed=0)
    x = torch.randn(4, 20)
    layer.train()
    assert not torch.equal(layer(x), layer(x))  # fresh noise every step
    layer.eval()
    with pytest.raises(RuntimeError, match="not programmed"):
        layer(x)


def test_trainer_learns_checkpoints_and_resumes_exactly(tmp_path):
    x, y = toy()

    def fresh():
        torch.manual_seed(0)
        model, _ = aimc.convert(nn.Sequential(nn.Linear(20, 16), nn.ReLU(), nn.Linear(16, 3)),
                                load_chip("ibm-hermes-pcm"))
        return enable_hwa(model, seed=0)

    def trainer(model, **kw):
        return Trainer(model, torch.optim.Adam(model.parameters(), lr=1e-2), seed=0, **kw)

    straight = trainer(fresh())
    losses = straight.fit((x, y), epochs=6, progress=False)
    assert losses[-1] < 0.5 * losses[0]
    first = trainer(fresh(), checkpoint=tmp_path / "ckpt.safetensors")
    first.fit((x, y), epochs=3, progress=False)
    resumed = trainer(fresh(), checkpoint=tmp_path / "ckpt.safetensors")
    assert resumed.epoch == 3
    resumed.fit((x, y), epochs=6, progress=False)
    for a, b in zip(straight.model.parameters(), resumed.model.parameters(), strict=True):
        torch.testing.assert_close(a, b)
    # after fit the tiles follow the trained weights
    aimc.program(resumed.model, seed=0)
    assert aimc.accuracy(resumed.model, (x, y)) > 0.8


def test_trainer_refuses_analog_layers_without_a_training_forward():
    x, y = toy()
    model, _ = aimc.convert(nn.Linear(20, 3), load_chip("ideal"))
    with pytest.raises(ValueError, match="enable_hwa"):
        Trainer(model).fit((x, y), epochs=1, progress=False)


def ideal_with_converters(**adc):
    data = load_chip("ideal").model_dump()
    data["dac"]["bits"] = 6
    data["adc"] = {**data["adc"], "bits": 5, "full_scale": 6.0, **adc}
    data["array"] = {"rows": 64, "cols": 64}
    return aimc.ChipSpec.model_validate(data)


@pytest.mark.parametrize("learned", [False, True])
@pytest.mark.parametrize("kind", ["linear", "conv"])
def test_training_forward_equals_the_programmed_chip_with_ideal_devices(kind, learned):
    # DAC levels, the tile's split over arrays, per-array ADC rounding and clipping: the same
    # numbers as the programmed tile computes, when devices are exact. learned: a fixed-range DAC
    # whose range is a trained parameter (set to -1.5: its magnitude counts), synced to the chip
    torch.manual_seed(0)
    if kind == "linear":
        digital, x = nn.Linear(150, 20), torch.randn(32, 150)  # 3 arrays of 64 rows
    else:
        digital, x = nn.Conv2d(20, 8, 3, padding=1), torch.randn(4, 20, 6, 6)  # 7 channels per array
    chip = ideal_with_converters()
    if learned:
        chip = chip.model_copy(update={"dac": chip.dac.model_copy(update={"scaling": "fixed"})})
    layer, _ = aimc.convert(digital, chip)
    enable_hwa(layer, HWAConfig(compensate=False, weight_clip=None, learn_input_range=learned))
    if learned:
        layer.input_range.data.fill_(-1.5)
    layer.train()
    trained = layer(x)
    if learned:
        sync_input_ranges(layer)
        assert layer.tile.dac.input_range == 1.5
    aimc.program(layer, seed=0)
    layer.eval()
    programmed = layer(x)
    assert layer.tile.row_arrays == 3
    close = torch.isclose(trained, programmed, rtol=1e-4, atol=1e-5)
    assert close.float().mean() > 0.995  # at most float ties round the other way
    clipped = (trained - (layer.digital_forward(x))).abs().max()
    assert clipped > 0  # the converters changed the result


def test_adc_clipping_stops_the_gradient_and_noise_is_drawn():
    layer, _ = aimc.convert(nn.Linear(64, 4, bias=False), ideal_with_converters(full_scale=0.5))
    enable_hwa(layer, HWAConfig(compensate=False, weight_clip=None, quantize_inputs=False))
    layer.train()
    x = torch.ones(2, 64)
    with torch.no_grad():
        layer.weight.fill_(0.1)
    layer(x).sum().backward()  # every column saturates the 0.5-cell ADC range
    assert torch.equal(layer.weight.grad, torch.zeros_like(layer.weight))
    noisy, _ = aimc.convert(nn.Linear(64, 4), ideal_with_converters(noise=2.0))
    enable_hwa(noisy, HWAConfig(compensate=False))
    noisy.train()
    assert not torch.equal(noisy(x), noisy(x))


def test_trainer_clips_weights_to_their_spread():
    from aimc.training.hwa import clip_weights
    x, y = toy()
    model, _ = aimc.convert(nn.Linear(20, 3), load_chip("ibm-hermes-pcm"))
    enable_hwa(model, HWAConfig(weight_clip=2.0), seed=0)
    with torch.no_grad():
        model.weight[0, 0] = 50.0  # an outlier
    before = model.weight.detach().clone()
    clip_weights(model)
    bound = 2.0 * before.std()
    assert model.weight[0, 0].item() == pytest.approx(bound.item())
    inside = before.abs() < bound
    assert torch.equal(model.weight[inside], before[inside])  # the rest untouched
    with torch.no_grad():
        model.weight[0, 0] = 50.0
    Trainer(model, torch.optim.SGD(model.parameters(), lr=1e-3)).fit((x[:64], y[:64]), epochs=1,
                                                                    batch_size=64, progress=False)
    assert model.weight.abs().max() < 20.0  # the trainer clipped after its step


def test_pact_clips_with_a_gradient_to_the_range_and_quantises_straight_through():
    from aimc.training.hwa import _pact

    x = torch.tensor([-2.0, -0.5, 0.3, 3.0], requires_grad=True)
    alpha = torch.tensor(1.0, requires_grad=True)
    y = _pact(x, alpha, levels=3, quantize=True)
    torch.testing.assert_close(y.detach(), torch.tensor([-1.0, -2 / 3, 1 / 3, 1.0]))  # levels of 1/3
    g = torch.tensor([1.0, 2.0, 3.0, 4.0])
    (y * g).sum().backward()
    torch.testing.assert_close(x.grad, torch.tensor([0.0, 2.0, 3.0, 0.0]))  # straight through inside
    assert alpha.grad.item() == -1.0 + 4.0  # clipped inputs: sign(x) times their gradient


def test_learned_input_range_trains_from_too_small_and_is_written_into_the_chip():
    from aimc.periphery import DAC

    g = torch.Generator().manual_seed(0)
    x = torch.randn(3072, 20, generator=g) * 3
    y = (x @ torch.randn(20, 3, generator=g)).argmax(1)
    chip = load_chip("ideal").model_copy(update={"dac": DAC(bits=5, scaling="fixed", input_range=0.5)})
    accuracy, ranges = {}, {}
    for learn in (False, True):
        torch.manual_seed(0)
        analog, _ = aimc.convert(nn.Sequential(nn.Linear(20, 16), nn.ReLU(), nn.Linear(16, 3)), chip)
        enable_hwa(analog, HWAConfig(learn_input_range=learn), seed=0)
        Trainer(analog, torch.optim.Adam(analog.parameters(), lr=1e-2), seed=0).fit(
            (x[:2048], y[:2048]), epochs=10, progress=False)
        aimc.program(analog, seed=0)
        accuracy[learn] = aimc.accuracy(analog, (x[2048:], y[2048:]))
        ranges[learn] = [(m.tile.dac.input_range, m.chip.dac.input_range, getattr(m, "input_range", None))
                         for m in analog if isinstance(m, aimc.AnalogLinear)]
    assert all(tile == spec == 0.5 and p is None for tile, spec, p in ranges[False])
    for tile, spec, alpha in ranges[True]:
        assert tile == spec == abs(alpha.item()) > 1.0  # grew from 0.5, synced into the converter
    assert accuracy[True] > accuracy[False] + 0.05, accuracy
    # a range set afterwards (calibration) is the trained parameter's too; a run that does not
    # learn the range drops the parameter and keeps the DAC's range
    layer = analog[0]
    from aimc.nn import set_input_range

    set_input_range(layer, 5.0)
    assert layer.input_range.item() == 5.0
    enable_hwa(analog, HWAConfig(learn_input_range=False), seed=0)
    assert not hasattr(layer, "input_range")
    Trainer(analog, torch.optim.Adam(analog.parameters(), lr=1e-2), seed=0).fit(
        (x[:256], y[:256]), epochs=1, progress=False)
    assert layer.tile.dac.input_range == 5.0


def pcm_without_read_noise(**update):
    data = load_chip("ibm-hermes-pcm").model_dump()
    data["device"]["read_noise_scale"] = 0.0
    data["array"] = {"rows": 64, "cols": 64}
    for key, value in update.items():
        data[key] = value
    return aimc.ChipSpec.model_validate(data)


def test_drift_compensation_is_the_chips_calibration_read_not_the_true_weights():
    # the same programmed PCM instance (programming noise, drift exponents) in the training forward
    # and on the tile: the training forward's compensation factor is the tile's GDC factor (same
    # calibration inputs, DAC levels, 3 arrays, ADC rounding), and the ADC sees the drifted
    # currents before the factor rescales its output, so the two outputs agree. The oracle of
    # earlier versions (sum |w| / sum |realised|) differs from the chip's factor by ~1 % here.
    from aimc.tile import split_seed
    from aimc.training.hwa import _realised

    month = 30 * 86400.0
    torch.manual_seed(0)
    layer, _ = aimc.convert(nn.Linear(150, 20), pcm_without_read_noise())
    assert layer.tile.row_arrays == 3 and layer.tile.padded_rows == 150  # no padding: same draws
    config = HWAConfig(t_inference=month, weight_clip=None)
    enable_hwa(layer, config)
    x = torch.randn(32, 150)
    program_seed = split_seed(7, 4)[0]
    layer.hwa.generator.manual_seed(program_seed)
    _, _, factor = _realised(layer, config, layer.hwa.generator)
    layer.hwa.generator.manual_seed(program_seed)
    layer.train()
    trained = layer(x)
    layer.tile.program(7)  # the tile's own seed (aimc.program spawns one per tile)
    layer.tile.drift_to(month)
    layer.eval()
    chip = layer(x)
    assert factor == pytest.approx(layer.tile.gdc_scale, rel=1e-5)
    assert factor > 1.1  # a month of PCM drift
    close = torch.isclose(trained, chip, rtol=1e-4, atol=1e-5)
    assert close.float().mean() > 0.99  # at most float ties round the other way
    w = layer.weight.detach().T
    realised = layer.tile.encoding.encode(w, 25e-6).decode(layer.tile.conductances().flatten(1, 2))
    oracle = float(w.abs().sum() / realised.abs().sum())  # g_min = 0 for this PCM
    assert abs(oracle / factor - 1) > 0.003, (oracle, factor)


def test_a_chip_without_compensation_trains_without_it():
    layer, _ = aimc.convert(nn.Linear(150, 20), pcm_without_read_noise(compensation={"method": "none"}))
    enable_hwa(layer, HWAConfig(t_inference=365 * 86400.0, weight_clip=None), seed=0)
    from aimc.training.hwa import _realised

    w, _, factor = _realised(layer, layer.hwa.config, layer.hwa.generator)
    assert factor == 1.0
    w, v = w.detach(), layer.weight.detach()
    shrink = float((w * v).sum() / (v * v).sum())
    assert 0.3 < shrink < 0.6  # a year of drift left in: (1 year / 20 s)**-nu = 0.24-0.50 for nu in 0.05-0.1


def test_calibration_read_noise_matches_the_tiles_read():
    # with read noise on, the training forward's calibration reading of one programmed instance
    # has the mean and spread of the tile's own reading (per-vector read noise, then the ADC).
    # 300 reads each: the std of a std estimate is ~4 %, of the mean ~0.06 std.
    from aimc.training.hwa import calibration_readout

    torch.manual_seed(0)
    data = load_chip("ibm-hermes-pcm").model_dump()
    data["array"] = {"rows": 64, "cols": 64}
    layer, _ = aimc.convert(nn.Linear(150, 20), aimc.ChipSpec.model_validate(data))
    config = HWAConfig(t_inference=86400.0)
    enable_hwa(layer, config)
    tile = layer.tile
    tile.program(3)
    tile.drift_to(86400.0, compensate=False)
    encoded = tile.encoding.encode(layer.weight.detach().T, 25e-6)
    state = {k: v.flatten(1, 2) for k, v in tile.state.items()}  # [planes, in, out]
    generator = torch.Generator().manual_seed(0)
    ours = torch.tensor([calibration_readout(layer, config, encoded, state, 86400.0, generator)
                         for _ in range(300)])
    theirs = []
    for k in range(300):
        tile.normals.seed(k)
        theirs.append(tile.compensation.readout(tile))
    theirs = torch.tensor(theirs)
    assert theirs.std() > 0.001 * theirs.mean()  # the reading is noisy at all
    assert abs(ours.mean() - theirs.mean()) < 0.2 * theirs.std()
    assert 0.85 < ours.std() / theirs.std() < 1.15
