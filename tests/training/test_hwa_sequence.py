"""Hardware-aware training of recurrent and attention layers: gradients reach every matrix, one
chip instance per matrix and sequence (fresh reads per step), and training works."""

import pytest
import torch
from torch import nn

import aimc
from aimc.chips import load_chip
from aimc.nn import AnalogLinear
from aimc.training import HWAConfig, enable_hwa
from aimc.training import hwa as hwa_module

pytestmark = pytest.mark.filterwarnings("ignore:LSTM with projections is not supported")


def matrices(model):
    return [m for m in model.modules() if isinstance(m, AnalogLinear)]


class Seq(nn.Module):
    """Runs a recurrent layer, an attention layer or a transformer layer and sums the output."""

    def __init__(self, layer):
        super().__init__()
        self.layer, self.attention = layer, isinstance(layer, nn.MultiheadAttention)

    def forward(self, x):
        if self.attention:
            out = self.layer(x, x, x)[0]
        else:
            out = self.layer(x)
        return (out[0] if isinstance(out, tuple) else out).square().mean()


@pytest.mark.parametrize("make", [
    lambda: nn.LSTM(6, 8, num_layers=2, bidirectional=True, proj_size=4, batch_first=True),
    lambda: nn.GRU(6, 8, num_layers=2, batch_first=True),
    lambda: nn.RNN(6, 8, batch_first=True),
    lambda: nn.MultiheadAttention(6, 2, batch_first=True),
    lambda: nn.TransformerEncoderLayer(6, 2, 12, dropout=0.0, batch_first=True),
], ids=["lstm", "gru", "rnn", "mha", "encoder_layer"])
def test_gradients_reach_every_matrix(make):
    torch.manual_seed(0)
    model, _ = aimc.convert(Seq(make()), "ibm-hermes-pcm")
    enable_hwa(model, seed=0)
    model.train()
    model(torch.randn(3, 5, 6)).backward()
    found = matrices(model)
    assert len(found) >= 2
    for m in found:
        assert m.weight.grad is not None and torch.isfinite(m.weight.grad).all()
        assert m.weight.grad.abs().sum() > 0


def test_one_instance_per_matrix_and_sequence_whatever_the_length(monkeypatch):
    calls = []
    original = hwa_module._programmed
    monkeypatch.setattr(hwa_module, "_programmed", lambda layer, g: calls.append(layer) or original(layer, g))
    model, _ = aimc.convert(nn.LSTM(4, 6, batch_first=True), "ibm-hermes-pcm")
    enable_hwa(model, seed=0)
    model.train()
    for steps in (3, 20):
        calls.clear()
        model(torch.randn(2, steps, 4))
        assert len(calls) == 2 and set(map(id, calls)) == {id(m) for m in matrices(model)}


def test_realisation_fixed_within_a_sequence_different_across_calls_and_seeded(monkeypatch):
    layer, _ = aimc.convert(nn.Linear(30, 10), "ibm-hermes-pcm")
    enable_hwa(layer, HWAConfig(quantize_outputs=False, quantize_inputs=False), seed=3)
    x = torch.randn(1, 30)
    first = layer.hwa.sequence(layer)
    a, b = first(x), first(x)
    assert not torch.equal(a, b)  # each read has its own read noise
    monkeypatch.setattr(hwa_module, "_read_noise", lambda x, var, g: 0.0)
    assert torch.equal(first(x), first(x))  # ... on one programmed instance
    second = layer.hwa.sequence(layer)
    assert not torch.equal(first(x), second(x))  # the next sequence: another instance


def test_recurrent_noise_differs_between_forward_calls_and_repeats_with_the_seed():
    def run():
        torch.manual_seed(0)
        model, _ = aimc.convert(nn.GRU(4, 6, batch_first=True), "ibm-hermes-pcm")
        enable_hwa(model, seed=5)
        model.train()
        x = torch.randn(2, 7, 4, generator=torch.Generator().manual_seed(0))
        return model(x)[0], model(x)[0]

    (a, b), (c, d) = run(), run()
    assert not torch.equal(a, b)
    assert torch.equal(a, c) and torch.equal(b, d)


def test_hwa_training_of_a_tiny_lstm_lowers_the_loss():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(64, 6, 3, generator=g)
    y = (x[:, :, 0].sum(1) > 0).long()  # the sign of a sum over time: needs the recurrence

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm = nn.LSTM(3, 8, batch_first=True)
            self.head = nn.Linear(8, 2)

        def forward(self, v):
            return self.head(self.lstm(v)[0][:, -1])

    torch.manual_seed(0)
    model, _ = aimc.convert(Net(), load_chip("ibm-speech-pcm"))
    enable_hwa(model, seed=0)
    model.train()
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=3e-2)
    losses = []
    for _ in range(20):
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    # the noise makes single steps jumpy: compare means of five steps
    assert sum(losses[-5:]) / 5 < 0.75 * sum(losses[:5]) / 5, losses


def test_attention_projections_read_each_token_with_fresh_noise_on_one_instance(monkeypatch):
    calls = []
    original = hwa_module._programmed
    monkeypatch.setattr(hwa_module, "_programmed", lambda layer, g: calls.append(layer) or original(layer, g))
    torch.manual_seed(0)
    mha, _ = aimc.convert(nn.MultiheadAttention(8, 2, batch_first=True), "ibm-hermes-pcm")
    enable_hwa(mha, HWAConfig(quantize_outputs=False, quantize_inputs=False), seed=0)
    mha.train()
    x = torch.randn(1, 1, 8).expand(2, 16, 8)  # the same token everywhere
    out = mha(x, x, x)[0]
    assert len(calls) == 4  # one instance per projection and call
    # identical tokens still differ: every token's reads have their own noise (was one draw for all)
    assert not torch.allclose(out[0, 0], out[0, 1]) and not torch.allclose(out[0, 0], out[1, 0])


def test_realised_weight_is_an_instance_plus_one_read():
    """_realised reads the instance _instance describes: same programming draws (same seed), and
    the read noise it draws per device decodes to _instance's variance. Without compensation the
    two share every draw up to the read (with it, the read noise is drawn before the calibration
    reads, which keeps the draws of earlier versions)."""
    layer, _ = aimc.convert(nn.Linear(64, 48), "ibm-hermes-pcm")
    config = HWAConfig(compensate=False)
    mean, var, _, scale = hwa_module._instance(layer, config, torch.Generator().manual_seed(1))
    noisy, _, scale2 = hwa_module._realised(layer, config, torch.Generator().manual_seed(1))
    assert scale2 == scale == 1.0
    noisy_cells = var > 0  # a weight whose devices have no read noise reads exactly its mean
    assert torch.allclose(noisy[~noisy_cells], mean[~noisy_cells]) and noisy_cells.sum() > 3000
    z = (noisy - mean)[noisy_cells] / var[noisy_cells].sqrt()
    # ~3072 standard normal draws: mean within ~5 SE (0.09), std within ~5 SE (0.064)
    assert abs(float(z.mean())) < 0.09 and abs(float(z.std()) - 1) < 0.064
