"""nn.MultiheadAttention on tiles: equal to PyTorch with the ideal chip over its options; the
Transformer encoder/decoder layers convert whole."""

import itertools

import pytest
import torch
from torch import nn

import aimc
from aimc.nn import AnalogMultiheadAttention, analog_tiles

# PyTorch's own deprecation note for a bool padding mask with a float attn_mask (same on both sides)
pytestmark = pytest.mark.filterwarnings("ignore:Support for mismatched key_padding_mask")

# float32: the tiles sum W x in another order than PyTorch's packed projection; measured
# <= ~1e-6 relative over the grid, bound 1e-5.
REL = 1e-5
E, HEADS, L, S, N = 8, 2, 5, 6, 3


def rel_err(a, b):
    return ((a - b).abs().max() / b.abs().max()).item()


GRID = list(itertools.product(
    ["packed", "kvdim"],          # packed in_proj_weight, or separate q/k/v (kdim/vdim differ)
    [False, True],                # batch_first
    ["none", "padding", "attn", "both", "causal"],  # masks
    [True, False],                # need_weights
    [True, False],                # bias
    [False, True],                # add_bias_kv (+ add_zero_attn)
))


def _cases():
    # a causal mask is square: self-attention (packed) only
    return [c for c in GRID if not (c[2] == "causal" and c[0] == "kvdim")]


@pytest.mark.parametrize("proj,batch_first,masks,need_weights,bias,bias_kv", _cases())
def test_mha_equals_pytorch_on_ideal_chip(ideal_chip, proj, batch_first, masks, need_weights, bias,
                                          bias_kv):
    kv = {"kdim": 5, "vdim": 7} if proj == "kvdim" else {}
    mha = nn.MultiheadAttention(E, HEADS, bias=bias, add_bias_kv=bias_kv, add_zero_attn=bias_kv,
                                batch_first=batch_first, **kv).eval()
    analog, report = aimc.convert(mha, ideal_chip)
    assert isinstance(analog, AnalogMultiheadAttention)
    assert "QKᵀ, softmax, AV digital" in str(report)
    aimc.program(analog, seed=0)
    self_attn = proj == "packed"
    query = torch.randn(N, L, E) if batch_first else torch.randn(L, N, E)
    if self_attn:
        key = value = query
        s = L
    else:
        shape = (N, S) if batch_first else (S, N)
        key, value = torch.randn(*shape, 5), torch.randn(*shape, 7)
        s = S
    kwargs = {"need_weights": need_weights}
    if masks in ("padding", "both"):
        pad = torch.zeros(N, s, dtype=torch.bool)
        pad[0, -2:] = True
        kwargs["key_padding_mask"] = pad
    if masks in ("attn", "both"):
        kwargs["attn_mask"] = torch.randn(L, s) * 0.5
    if masks == "causal":
        kwargs["attn_mask"] = nn.Transformer.generate_square_subsequent_mask(L)
        kwargs["is_causal"] = True
    with torch.no_grad():
        out, weights = analog(query, key, value, **kwargs)
        ref, ref_weights = mha(query, key, value, **kwargs)
    assert out.shape == ref.shape and rel_err(out, ref) <= REL
    if need_weights:
        assert rel_err(weights, ref_weights) <= REL
    else:
        assert weights is None and ref_weights is None


def test_mha_unbatched_per_head_weights_and_tiles(ideal_chip):
    mha = nn.MultiheadAttention(E, HEADS).eval()
    analog, _ = aimc.convert(mha, ideal_chip)
    aimc.program(analog, seed=0)
    x = torch.randn(L, E)
    with torch.no_grad():
        out, w = analog(x, x, x, average_attn_weights=False)
        ref, ref_w = mha(x, x, x, average_attn_weights=False)
    assert w.shape == (HEADS, L, L)
    assert rel_err(out, ref) <= REL and rel_err(w, ref_w) <= REL
    names = [n for n, _ in analog_tiles(analog)]
    assert names == ["q_proj.tile", "k_proj.tile", "v_proj.tile", "out_proj.tile"]
    aimc.drift(analog, 60.0)
    again, report = aimc.convert(analog, ideal_chip)
    assert again is not analog and report.already_analog == ["AnalogMultiheadAttention"]


def test_mha_noisy_chip_is_close_and_train_mode_dropout_runs(pcm_chip):
    mha = nn.MultiheadAttention(16, 4, dropout=0.1, batch_first=True).eval()
    analog, report = aimc.convert(mha, pcm_chip)
    aimc.program(analog, seed=0)
    aimc.drift(analog, 3600.0)
    x = torch.randn(2, 7, 16)
    with torch.no_grad():
        noisy, exact = analog(x, x, x)[0], mha(x, x, x)[0]
        assert not torch.equal(noisy, exact)
        assert torch.cosine_similarity(noisy.flatten(), exact.flatten(), dim=0) > 0.9
        ref, _ = analog.digital_forward(x, x, x)
        assert rel_err(ref, mha(x, x, x)[0]) <= REL
        analog.train()
        assert analog(x, x, x)[0].shape == (2, 7, 16)


def _check_layer(layer, ideal_chip, *inputs, **kwargs):
    layer.eval()
    analog, report = aimc.convert(layer, ideal_chip)
    assert not report.digital
    assert not [m for m in analog.modules() if isinstance(m, nn.Linear | nn.MultiheadAttention)]
    aimc.program(analog, seed=0)
    with torch.no_grad():
        out, ref = analog(*inputs, **kwargs), layer(*inputs, **kwargs)
    assert rel_err(out, ref) <= REL
    return analog, report


@pytest.mark.parametrize("batch_first", [True, False])
@pytest.mark.parametrize("with_mask", [False, True])
def test_transformer_encoder_layer_converts_and_skips_the_fast_path(ideal_chip, batch_first, with_mask):
    layer = nn.TransformerEncoderLayer(E, HEADS, dim_feedforward=16, dropout=0.0, batch_first=batch_first)
    x = torch.randn(N, L, E) if batch_first else torch.randn(L, N, E)
    kwargs = {}
    if with_mask:
        pad = torch.zeros(N, L, dtype=torch.bool)
        pad[1, -2:] = True
        kwargs["src_key_padding_mask"] = pad
    analog, report = _check_layer(layer, ideal_chip, x, **kwargs)
    assert isinstance(analog.self_attn, AnalogMultiheadAttention)
    assert set(report.converted) == {"self_attn", "linear1", "linear2"}


@pytest.mark.filterwarnings("ignore:The PyTorch API of nested tensors")
def test_transformer_encoder_stack_with_padding_mask(ideal_chip):
    layer = nn.TransformerEncoderLayer(E, HEADS, dim_feedforward=16, dropout=0.0, batch_first=True)
    stack = nn.TransformerEncoder(layer, num_layers=2, enable_nested_tensor=True).eval()
    x = torch.randn(N, L, E)
    pad = torch.zeros(N, L, dtype=torch.bool)
    pad[1, -2:] = True
    analog, report = aimc.convert(stack, ideal_chip)
    assert not report.digital
    aimc.program(analog, seed=0)
    with torch.no_grad():
        out, ref = analog(x, src_key_padding_mask=pad), stack(x, src_key_padding_mask=pad)
    keep = ~pad  # PyTorch's nested fast path leaves padded positions as zeros
    assert rel_err(out[keep], ref[keep]) <= REL


def test_transformer_decoder_layer_converts(ideal_chip):
    layer = nn.TransformerDecoderLayer(E, HEADS, dim_feedforward=16, dropout=0.0, batch_first=True)
    tgt, memory = torch.randn(N, L, E), torch.randn(N, S, E)
    mask = nn.Transformer.generate_square_subsequent_mask(L)
    analog, report = _check_layer(layer, ideal_chip, tgt, memory, tgt_mask=mask, tgt_is_causal=True)
    assert isinstance(analog.self_attn, AnalogMultiheadAttention)
    assert isinstance(analog.multihead_attn, AnalogMultiheadAttention)
    rows = {r.name: r.detail for r in report.layers}
    assert "QKᵀ, softmax, AV digital" in rows["multihead_attn"]


def test_mha_subclass_stays_digital(ideal_chip):
    class MyAttention(nn.MultiheadAttention):
        pass

    analog, report = aimc.convert(nn.Sequential(MyAttention(E, HEADS)), ideal_chip)
    assert type(analog[0]) is MyAttention and report.digital == ["0"]
