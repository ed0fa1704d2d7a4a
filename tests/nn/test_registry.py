"""The public layer registry: a custom weight layer (GPT-2's ``Conv1D``) converts like a built-in."""

import pytest
import torch
from torch import nn

import aimc
from aimc.nn import MatrixAdapter, analog_tiles, register_layer, unregister_layer
from aimc.nn.convert import unsupported_reason

REL = 1e-5


class Conv1D(nn.Module):
    """As in Hugging Face's GPT-2: weight stored ``[in, out]``, ``y = x @ W + b``."""

    def __init__(self, nf: int, nx: int):
        super().__init__()
        self.nf = nf
        self.weight = nn.Parameter(torch.randn(nx, nf) * 0.2)
        self.bias = nn.Parameter(torch.randn(nf) * 0.1)

    def forward(self, x):
        size_out = x.size()[:-1] + (self.nf,)
        x = torch.addmm(self.bias, x.view(-1, x.size(-1)), self.weight)
        return x.view(size_out)


class SubConv1D(Conv1D):
    pass


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.c_fc = Conv1D(12, 6)
        self.act = nn.GELU()
        self.c_proj = Conv1D(6, 12)

    def forward(self, x):
        return self.c_proj(self.act(self.c_fc(x)))


def rel_err(a, b):
    return ((a - b).abs().max() / b.abs().max()).item()


@pytest.fixture
def conv1d_registered():
    register_layer(Conv1D, MatrixAdapter(weight=lambda m: m.weight.T))
    yield
    unregister_layer(Conv1D)


def test_custom_layer_converts_and_equals_original_on_ideal_chip(conv1d_registered, ideal_chip):
    model = Block()
    analog, report = aimc.convert(model, ideal_chip)
    assert report.converted == ["c_fc", "c_proj"] and not report.digital
    assert {r.kind for r in report.layers} == {"Conv1D"}
    assert "6x12 on 1x1 arrays" in str(report)
    aimc.program(analog, seed=0)
    x = torch.randn(3, 5, 6)
    with torch.no_grad():
        assert rel_err(analog(x), model(x)) <= REL
    names = [name for name, _ in analog_tiles(analog)]
    assert names == ["c_fc.tile", "c_proj.tile"]
    aimc.drift(analog, 3600.0)  # drift finds the tiles too
    again, report2 = aimc.convert(analog, ideal_chip)
    assert report2.already_analog == ["c_fc", "c_proj"]


def test_custom_layer_with_wrap_and_noisy_chip(pcm_chip):
    wrapped = []

    def wrap(linear, module):
        wrapped.append(type(module).__name__)
        return nn.Sequential(linear)

    register_layer(Conv1D, MatrixAdapter(weight=lambda m: m.weight.T, wrap=wrap))
    try:
        model = Block()
        analog, report = aimc.convert(model, pcm_chip)
        assert wrapped == ["Conv1D", "Conv1D"] and report.converted == ["c_fc", "c_proj"]
        aimc.program(analog, seed=1)
        aimc.drift(analog, 60.0)
        x = torch.randn(4, 6)
        with torch.no_grad():
            assert rel_err(analog(x), model(x)) < 0.3
    finally:
        unregister_layer(Conv1D)


def test_unregistered_and_subclasses_stay_digital(conv1d_registered, ideal_chip):
    model = nn.Sequential(SubConv1D(4, 4), nn.Linear(4, 4))
    analog, report = aimc.convert(model, ideal_chip)
    assert report.converted == ["1"]
    assert type(analog[0]) is SubConv1D
    unregister_layer(Conv1D)
    analog, report = aimc.convert(nn.Sequential(Conv1D(4, 4)), ideal_chip)
    assert type(analog[0]) is Conv1D and "Conv1D" not in str(report)


def test_builtins_are_registered():
    from aimc.nn import CONVERTERS, AnalogLinear, AnalogLSTM

    assert CONVERTERS[nn.Linear] is AnalogLinear and CONVERTERS[nn.LSTM] is AnalogLSTM
    assert unsupported_reason(nn.modules.linear.NonDynamicallyQuantizableLinear(2, 2)) is None


def test_bad_registrations_are_refused(conv1d_registered):
    with pytest.raises(TypeError, match="nn.Module subclass"):
        register_layer("Conv1D", MatrixAdapter(weight=lambda m: m.weight))
    with pytest.raises(TypeError, match="nn.Module subclass"):
        register_layer(int, MatrixAdapter(weight=lambda m: m.weight))
    with pytest.raises(TypeError, match="from_digital"):
        register_layer(SubConv1D, lambda m: m.weight)
    with pytest.raises(TypeError, match="MatrixAdapter.weight must be a function"):
        MatrixAdapter(weight="weight")
    with pytest.raises(ValueError, match="registered already"):
        register_layer(Conv1D, MatrixAdapter(weight=lambda m: m.weight))
    register_layer(Conv1D, MatrixAdapter(weight=lambda m: m.weight), replace=True)


def test_adapter_returning_bad_shapes_is_explained(ideal_chip):
    register_layer(SubConv1D, MatrixAdapter(weight=lambda m: m.weight.flatten()))
    try:
        with pytest.raises(ValueError, match="2-D weight"):
            aimc.convert(nn.Sequential(SubConv1D(3, 2)), ideal_chip)
        register_layer(SubConv1D, MatrixAdapter(weight=lambda m: m.weight, bias=lambda m: m.bias[:1]),
                       replace=True)
        with pytest.raises(ValueError, match="bias of shape"):
            aimc.convert(nn.Sequential(SubConv1D(3, 2)), ideal_chip)
    finally:
        unregister_layer(SubConv1D)
