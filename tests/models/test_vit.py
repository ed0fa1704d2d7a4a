"""The small ViT (aimc.models.vit): shapes, conversion of every matrix, ideal-chip equality and
hardware-aware training through attention."""

import warnings

import pytest
import torch
from torch import nn

import aimc
from aimc.models.vit import ViT, analog_matrix_count, vit
from aimc.nn import AnalogLayer, AnalogMultiheadAttention
from aimc.tile import Tile
from aimc.training import HWAConfig, enable_hwa

# float32: the tiles sum W x in another order than PyTorch (and the attention projections are
# split out of the packed in_proj); measured ~5e-7 relative on the default ViT, bound 1e-5.
REL = 1e-5


def _model(seed: int = 0, **kwargs) -> ViT:
    torch.manual_seed(seed)
    return vit(**kwargs)


def _images(n: int = 4, seed: int = 1) -> torch.Tensor:
    return torch.rand(n, 1, 28, 28, generator=torch.Generator().manual_seed(seed))


def test_output_shape_and_tokens():
    model = _model()
    assert model.tokens == 16
    assert model(_images(3)).shape == (3, 10)
    small = _model(patch=4, dim=32, depth=2, heads=2, mlp_dim=48, num_classes=5)
    assert small.tokens == 49 and small(_images(2)).shape == (2, 5)


def test_patches_are_the_image_cut_in_row_major_order():
    model = _model()
    x = torch.arange(28 * 28, dtype=torch.float32).view(1, 1, 28, 28)
    patches = model.patches(x)
    assert patches.shape == (1, 16, 49)
    # patch 5 = second patch row, second patch column: pixels rows 7-13, columns 7-13
    assert torch.equal(patches[0, 5], x[0, 0, 7:14, 7:14].reshape(-1))


@pytest.mark.parametrize("kwargs, message", [
    ({"patch": 5}, "patch must be a positive divisor"),
    ({"heads": 3}, "heads must be a positive divisor"),
    ({"depth": 0}, "must be >= 1"),
])
def test_bad_options_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        vit(**kwargs)


def test_wrong_image_shape_is_named():
    with pytest.raises(ValueError, match=r"ViT expects images \[N, 1, 28, 28\]"):
        _model()(torch.zeros(2, 1, 32, 32))


def test_convert_maps_every_matrix_and_leaves_norms_digital():
    model = _model()
    analog, report = aimc.convert(model, "ideal")
    assert report.digital == []
    # matrices counted from the report: an attention layer holds W_q, W_k, W_v, W_out
    per_entry = {"MultiheadAttention": 4, "Linear": 1}
    counted = sum(per_entry[r.kind] for r in report.layers if r.analog)
    assert counted == analog_matrix_count(model) == 2 + 6 * 3 == 20
    assert sum(isinstance(m, Tile) for m in analog.modules()) == counted
    attention = [r for r in report.layers if r.kind == "MultiheadAttention"]
    assert len(attention) == 3 and all("QKᵀ, softmax, AV digital" in r.detail for r in attention)
    assert sum(isinstance(m, AnalogMultiheadAttention) for m in analog.modules()) == 3
    norms = [m for m in analog.modules() if isinstance(m, nn.LayerNorm)]
    assert len(norms) == 2 * 3 + 1  # two per block and the final one, all still PyTorch's
    assert not any(isinstance(c, Tile | AnalogLayer) for n in norms for c in n.modules())
    # class token and position embedding stay digital parameters of the model itself
    assert analog.cls_token.shape == (1, 1, 64) and analog.pos_embed.shape == (1, 17, 64)


def test_ideal_chip_equals_pytorch():
    model = _model().eval()
    analog, _ = aimc.convert(model, "ideal")
    aimc.program(analog, seed=0)
    analog.eval()
    x = _images(6)
    with torch.no_grad():
        expected, got = model(x), analog(x)
    assert ((got - expected).abs().max() / expected.abs().max()).item() <= REL


def test_hwa_gradients_reach_every_analog_matrix():
    analog, _ = aimc.convert(_model(), "ibm-hermes-pcm")
    enable_hwa(analog, HWAConfig(), seed=0)
    analog.train()
    x, y = _images(4), torch.tensor([0, 3, 7, 9])
    loss = nn.functional.cross_entropy(analog(x), y)
    loss.backward()
    layers = [(n, m) for n, m in analog.named_modules() if isinstance(m, AnalogLayer)]
    assert len(layers) == 20
    for name, layer in layers:
        grad = layer.weight.grad
        assert grad is not None and torch.isfinite(grad).all(), name
        assert grad.abs().sum() > 0, name
    for p in (analog.cls_token, analog.pos_embed, analog.norm.weight):
        assert p.grad is not None and p.grad.abs().sum() > 0


def test_compile_maps_every_matrix_once_per_token():
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no layer left out of the mapping
        mapping = aimc.compile(_model(), "ibm-hermes-pcm", torch.zeros(1, 1, 28, 28))
    assert len(mapping.analog_layers) == 20 and mapping.tokens == 17
    vectors = {layer.name: layer.vectors for layer in mapping.analog_layers}
    assert vectors["patch_embed"] == 16 and vectors["head"] == 1  # patches; the class token only
    assert vectors["encoder.layers.0.self_attn.q_proj"] == vectors["encoder.layers.2.linear2"] == 17
