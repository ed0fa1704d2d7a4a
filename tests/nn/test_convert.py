import pytest
import torch
from torch import nn

import aimc
from aimc.nn import AnalogConv1d, AnalogConv2d, AnalogLinear, UnsupportedLayerError


def float_close(a, b, scale):
    """Equal up to float32 rounding: |a - b| <= 1e-5 * scale (scale ~ sum of |terms|)."""
    assert ((a - b).abs() <= 1e-5 * scale).all(), (a - b).abs().max()


class Custom(nn.Module):
    """Nested, custom forward, ModuleDict, a Conv1d branch: convert must find them all."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(3, 20, 3, padding=1), nn.ReLU(),
                                      nn.Conv2d(20, 40, 5, stride=2, padding="valid"), nn.ReLU())
        self.branch = nn.ModuleDict({"seq": nn.Conv1d(4, 6, 3, padding="same", padding_mode="reflect")})
        self.head = nn.Linear(40 * 4 * 4 + 6 * 10, 300)  # 700 rows: 3 arrays
        self.out = nn.Linear(300, 10, bias=False)

    def forward(self, img, seq):
        a = self.features(img).flatten(1)
        b = self.branch["seq"](seq).flatten(1)
        return self.out(torch.relu(self.head(torch.cat([a, b], dim=1))))


def test_ideal_chip_reproduces_digital_outputs(ideal_chip):
    model = Custom().eval()
    analog, report = aimc.convert(model, ideal_chip)
    assert report.converted == ["features.0", "features.2", "branch.seq", "head", "out"]
    assert isinstance(analog.features[0], AnalogConv2d)
    assert isinstance(analog.branch["seq"], AnalogConv1d)
    assert isinstance(analog.head, AnalogLinear) and analog.head.tile.array_grid == (3, 2)
    assert isinstance(model.head, nn.Linear)  # the digital model is untouched
    aimc.program(analog, seed=0)
    img, seq = torch.randn(8, 3, 12, 12), torch.randn(8, 4, 10)
    with torch.no_grad():
        ref = model(img, seq)
        out = analog(img, seq)
        # each layer separately, with exact reference inputs
        float_close(analog.features[0](img), model.features[0](img), 10)
        float_close(analog.branch["seq"](seq), model.branch["seq"](seq), 10)
    float_close(out, ref, 10)


@pytest.mark.parametrize("layer,shape", [
    (nn.Linear(700, 300), (5, 700)),
    (nn.Linear(16, 4), (2, 3, 16)),  # extra leading dims
    (nn.Conv1d(100, 8, 5, stride=2, dilation=2), (3, 100, 40)),  # 500 rows: 2 arrays
    (nn.Conv2d(64, 70, 3, padding=2, dilation=2), (2, 64, 9, 9)),  # 576 rows: 3 arrays
    (nn.Conv2d(3, 5, (2, 3), stride=(2, 1), padding="same" if False else 1,
               padding_mode="circular"), (2, 3, 7, 6)),
])
def test_single_layers_exact(ideal_chip, layer, shape):
    analog, _ = aimc.convert(layer, ideal_chip)
    aimc.program(analog, seed=1)
    x = torch.randn(*shape)
    with torch.no_grad():
        float_close(analog(x), layer(x), 10)


class _Attention(nn.MultiheadAttention):
    """A subclass: not registered, so it stays digital (nn.MultiheadAttention itself converts)."""


def test_unsupported_layers_stay_digital_and_strict_names_them(ideal_chip):
    model = nn.Sequential(nn.Linear(8, 8), nn.Conv2d(4, 4, 3, groups=2),
                          _Attention(8, 2), nn.Conv3d(1, 1, 1), nn.Embedding(5, 8))
    analog, report = aimc.convert(model, ideal_chip)
    assert report.converted == ["0"]
    assert set(report.digital) == {"1", "2", "3", "4"}
    assert type(analog[2].out_proj) is nn.modules.linear.NonDynamicallyQuantizableLinear
    text = str(report)
    assert "groups=2" in text and "Conv3d has no analog implementation" in text
    with pytest.raises(UnsupportedLayerError, match=r"1 \(Conv2d\).*2 \(_Attention\)"):
        aimc.convert(model, ideal_chip, strict=True)


def test_convert_errors(ideal_chip):
    with pytest.raises(TypeError, match="nn.Module"):
        aimc.convert("not a model", ideal_chip)
    with pytest.raises(ValueError, match="unknown chip"):
        aimc.convert(nn.Linear(2, 2), "no-such-chip")
    with pytest.raises(ValueError, match="no analog layers"):
        aimc.program(nn.Linear(2, 2), seed=0)
    analog, _ = aimc.convert(nn.Linear(2, 2), ideal_chip)
    with pytest.raises(RuntimeError, match="aimc.program"):
        analog(torch.ones(1, 2))


def test_program_is_reproducible_per_seed(pcm_chip):
    analog, _ = aimc.convert(nn.Sequential(nn.Linear(30, 20), nn.ReLU(), nn.Linear(20, 5)), pcm_chip)
    x = torch.randn(4, 30)
    outs = []
    for seed in (0, 0, 1):
        aimc.program(analog, seed=seed)
        aimc.drift(analog, 86400.0)
        outs.append(analog(x))
    assert torch.equal(outs[0], outs[1])
    assert not torch.equal(outs[0], outs[2])
    # the two layers got different seeds: their programming noise is not the same draw
    t0, t1 = analog[0].tile, analog[2].tile
    assert not torch.equal(t0.state["g_prog"].flatten()[:50], t1.state["g_prog"].flatten()[:50])


def test_gradients_flow_to_inputs(ideal_chip):
    analog, _ = aimc.convert(nn.Linear(6, 3), ideal_chip)
    aimc.program(analog, seed=0)
    x = torch.randn(2, 6, requires_grad=True)
    analog(x).sum().backward()
    torch.testing.assert_close(x.grad, analog.weight.sum(0).expand(2, 6))


def test_kernel_larger_than_array_uses_im2col(ideal_chip):
    chip = type(ideal_chip).model_validate({**ideal_chip.model_dump(), "array": {"rows": 4, "cols": 4}})
    conv = nn.Conv2d(3, 5, 3, padding=1)
    analog, report = aimc.convert(conv, chip)
    assert analog.tile.row_granule == 1 and analog.tile.array_grid == (7, 2)  # 27 rows, 5 cols
    aimc.program(analog, seed=0)
    x = torch.randn(2, 3, 6, 6)
    with torch.no_grad():
        float_close(analog(x), conv(x), 10)


def test_conv_tile_keeps_whole_kernels_per_array(pcm_chip):
    analog, _ = aimc.convert(nn.Conv2d(64, 8, 3), pcm_chip)
    tile = analog.tile
    # 28 channels (252 rows) fit a 256-row array: 64 channels need 3 arrays of 22 channels
    assert (tile.row_granule, tile.row_arrays, tile.granules_per_array) == (9, 3, 22)
    aimc.program(analog, seed=0)
    aimc.drift(analog, 3600.0)
    x = torch.rand(2, 64, 5, 5)
    y = analog(x)
    assert y.shape == (2, 8, 3, 3) and torch.isfinite(y).all()
    ref = nn.functional.conv2d(x, analog.weight, analog.bias)
    assert torch.corrcoef(torch.stack([y.flatten(), ref.flatten()]))[0, 1] > 0.95


def test_converting_a_converted_model_says_it_is_already_analog(ideal_chip, pcm_chip):
    analog, first = aimc.convert(nn.Sequential(nn.Linear(8, 4), nn.ReLU(), nn.Linear(4, 2)), ideal_chip)
    again, report = aimc.convert(analog, ideal_chip)
    assert report.converted == [] and report.digital == [] and report.already_analog == ["0", "2"]
    assert report.summary() == ("convert -> ideal: 0 analog, 0 digital, 2 already analog "
                                "(the model was converted before; nothing to do)")
    assert str(report).startswith(report.summary()) and "already analog (8x4 on 1x1 arrays)" in str(report)
    assert isinstance(again[0], AnalogLinear) and again[0].chip == ideal_chip
    # onto another chip the layers are kept where they are, and the report says so
    _, other = aimc.convert(analog, pcm_chip)
    assert "kept on ideal, not re-mapped to ibm-hermes-pcm" in str(other)
    # a single converted layer as the root, and a model half converted before
    _, root = aimc.convert(analog[0], ideal_chip)
    assert root.already_analog == ["AnalogLinear"]
    mixed = nn.Sequential(analog[0], nn.Linear(4, 3))
    _, part = aimc.convert(mixed, ideal_chip)
    assert part.converted == ["1"] and part.already_analog == ["0"]
    assert part.summary() == "convert -> ideal: 1 analog, 0 digital, 1 already analog"


def test_unsupported_reason_is_public_and_shared_with_the_compiler():
    from aimc.compiler import mapping
    from aimc.nn.convert import unsupported_reason

    assert mapping.unsupported_reason is unsupported_reason
    assert unsupported_reason(nn.Linear(2, 2)) is None
    assert "transposed" in unsupported_reason(nn.ConvTranspose2d(2, 2, 3))


@pytest.mark.parametrize("conv", [torch.nn.Conv2d(3, 4, 3, padding=1), torch.nn.Conv1d(3, 4, 3, padding=1)])
def test_convolution_of_an_empty_batch(conv):
    analog, _ = aimc.convert(torch.nn.Sequential(conv), "ideal")
    aimc.program(analog, 0)
    shape = (0, 3, 6, 6) if isinstance(conv, torch.nn.Conv2d) else (0, 3, 6)
    with torch.no_grad():
        assert analog.eval()(torch.randn(shape)).shape == conv(torch.randn(shape)).shape
