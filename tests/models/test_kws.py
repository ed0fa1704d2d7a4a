"""The recurrent keyword spotter: shapes, pooling, conversion to tiles, ideal-chip equality."""

import pytest
import torch

import aimc
from aimc.models.kws import KeywordSpotter, kws_gru, kws_lstm
from aimc.nn import AnalogGRU, AnalogLinear, AnalogLSTM, program


@pytest.mark.parametrize("pooling", ["mean", "last"])
@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_shapes_and_pooling_match_the_frame_logits(cell, pooling):
    model = KeywordSpotter(cell=cell, pooling=pooling)
    x = torch.randn(3, 20, 40)
    y = model(x)
    assert y.shape == (3, 12)
    frames, _ = model.frame_logits(x)
    assert frames.shape == (3, 20, 12)
    pooled = frames.mean(dim=1) if pooling == "mean" else frames[:, -1]
    torch.testing.assert_close(y, pooled, rtol=1e-5, atol=1e-6)  # head is linear: pool then read


def test_frame_logits_carry_state_across_chunks():
    model = kws_gru()
    x = torch.randn(2, 30, 40)
    whole, _ = model.frame_logits(x)
    a, state = model.frame_logits(x[:, :11])
    b, _ = model.frame_logits(x[:, 11:], state)
    torch.testing.assert_close(torch.cat([a, b], dim=1), whole, rtol=1e-5, atol=1e-6)


def test_normalization_is_part_of_the_model():
    model = kws_lstm()
    feats = 3.0 + 2.0 * torch.randn(50, 20, 40)
    model.set_normalization(feats)
    assert model.mean.mean().item() == pytest.approx(3.0, abs=0.05)
    assert model.std.mean().item() == pytest.approx(2.0, abs=0.05)
    assert "mean" in model.state_dict() and "std" in model.state_dict()


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="cell"):
        KeywordSpotter(cell="rnn")
    with pytest.raises(ValueError, match=r"\[batch, time, 40\]"):
        KeywordSpotter()(torch.zeros(2, 40))


@pytest.mark.parametrize("cell, analog_cls", [("lstm", AnalogLSTM), ("gru", AnalogGRU)])
def test_converts_to_tiles_and_equals_digital_on_the_ideal_chip(cell, analog_cls):
    model = KeywordSpotter(cell=cell).eval()
    model.set_normalization(torch.randn(20, 20, 40))
    x = torch.randn(4, 20, 40)
    with torch.no_grad():
        ref = model(x)
    analog, report = aimc.convert(model, aimc.load_chip("ideal"))
    assert isinstance(analog.rnn, analog_cls) and isinstance(analog.head, AnalogLinear)
    assert analog.rnn.batch_first
    program(analog, seed=0)
    analog.eval()
    with torch.no_grad():
        out = analog(x)
    # ideal chip: float32 rounding of the tile path only (relative to the output scale)
    assert ((out - ref).abs().max() / ref.abs().max()).item() <= 1e-6
    assert torch.equal(analog.mean, model.mean)


def test_pcm_chip_perturbs_but_keeps_the_output_scale(pcm_chip):
    model = kws_lstm().eval()
    x = torch.randn(4, 20, 40)
    with torch.no_grad():
        ref = model(x)
        analog, _ = aimc.convert(model, pcm_chip)
        program(analog, seed=1)
        out = analog.eval()(x)
    err = ((out - ref).norm() / ref.norm()).item()
    assert 1e-4 < err < 0.5  # noisy reads change the result, but it is still the same network
