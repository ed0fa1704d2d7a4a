"""Analog models move with ``model.to(device)`` and ``model.to(dtype)`` (``Tile._apply``).

What a dtype means for a tile: the tile computes in float32 (ADC codes and DAC levels of the
chip), and its chip instance is drawn on the CPU from seeded generators, so ``.to(float64)``
changes the layer's digital weight and bias and the output dtype only. The float64 model thus
differs from the float32 one only by the rounding of the digital bias add and of activations
between layers (float32 epsilon 1.2e-7 relative): ``rtol=1e-5`` leaves room for a few such
roundings per layer, and a changed DAC/ADC level (an activation exactly at a rounding
boundary) would exceed it, so the test would catch a chip drawn differently.
"""

import copy

import pytest
import torch
from torch import nn

import aimc
from aimc.chips import load_chip
from aimc.models import digits_cnn


def _models():
    torch.manual_seed(0)
    chip = load_chip("ibm-hermes-pcm")
    cnn, _ = aimc.convert(digits_cnn(), chip)
    mlp, _ = aimc.convert(nn.Sequential(nn.Linear(64, 48), nn.ReLU(), nn.Linear(48, 10)), chip)
    g = torch.Generator().manual_seed(1)
    return [(cnn, torch.rand(4, 1, 8, 8, generator=g)), (mlp, torch.rand(5, 64, generator=g))]


def _read(model, x, move=None, x_to=None):
    """Program (seed 3), drift to one hour, optionally move, read once."""
    model = copy.deepcopy(model).eval()
    aimc.program(model, seed=3)
    aimc.drift(model, 3600.0)
    if move is not None:
        model = move(model)
    with torch.no_grad():
        return model(x if x_to is None else x.to(x_to))


@pytest.mark.parametrize("case", [0, 1], ids=["cnn", "mlp"])
def test_to_cpu_is_bit_identical(case):
    model, x = _models()[case]
    assert torch.equal(_read(model, x, lambda m: m.to("cpu")), _read(model, x))


@pytest.mark.parametrize("case", [0, 1], ids=["cnn", "mlp"])
def test_float64_and_back(case):
    model, x = _models()[case]
    ref = _read(model, x)
    y64 = _read(model, x, lambda m: m.to(torch.float64), torch.float64)
    assert y64.dtype == torch.float64
    torch.testing.assert_close(y64, ref.double(), rtol=1e-5, atol=1e-5 * ref.abs().max().item())
    back = _read(model, x, lambda m: m.to(torch.float64).to(torch.float32))
    assert back.dtype == torch.float32 and torch.equal(back, ref)  # float32 -> 64 -> 32 is exact


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("case", [0, 1], ids=["cnn", "mlp"])
def test_cuda_matches_cpu(case):
    """Same chip, same noise numbers (drawn on the CPU); only the GPU's summation order
    differs (TF32 off). A float difference changes an ADC code only where a partial sum lies
    within ~1e-6 codes of a rounding boundary, so nearly all outputs agree and the relative L2
    error stays far below one ADC step (1/127 of full scale)."""
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    model, x = _models()[case]
    ref = _read(model, x)
    y = _read(model, x, lambda m: m.to("cuda"), "cuda").cpu()
    assert ((y - ref).norm() / ref.norm()).item() < 1e-3
    # programmed and drifted after the move: the same chip instance
    model_gpu = copy.deepcopy(model).to("cuda")
    y2 = _read(model_gpu, x, None, "cuda").cpu()
    assert ((y2 - ref).norm() / ref.norm()).item() < 1e-3


@pytest.mark.parametrize("case", [0, 1], ids=["cnn", "mlp"])
def test_programmed_after_float64_move_is_the_same_chip(case):
    """Programming and drifting a float64 model draws the same chip instance: the tile keeps
    its mapped weights and read matrices in float32."""
    model, x = _models()[case]
    ref = _read(model, x)
    model64 = copy.deepcopy(model).to(torch.float64).eval()
    aimc.program(model64, seed=3)
    aimc.drift(model64, 3600.0)
    with torch.no_grad():
        y64 = model64(x.double())
    torch.testing.assert_close(y64, ref.double(), rtol=1e-5, atol=1e-5 * ref.abs().max().item())
    tiles = [m for m in model64.modules() if isinstance(m, aimc.tile.Tile)]
    assert tiles and all(t.target_weight.dtype == torch.float32 and t._read.w.dtype == torch.float32
                         for t in tiles)
    back = _read(model64.to(torch.float32), x)
    assert torch.equal(back, ref)


def test_output_follows_input_dtype_without_bias():
    chip = load_chip("ibm-hermes-pcm")
    torch.manual_seed(0)
    model, _ = aimc.convert(nn.Sequential(nn.Linear(64, 10, bias=False)), chip)
    x = torch.rand(3, 64, generator=torch.Generator().manual_seed(2))
    ref = _read(model, x)
    y64 = _read(model, x, lambda m: m.to(torch.float64), torch.float64)
    assert y64.dtype == torch.float64 and torch.equal(y64, ref.double())  # float32 tile, cast


@pytest.mark.parametrize("kind", ["lstm", "encoder"])
def test_float64_recurrent_and_attention(kind):
    """Recurrent and attention layers hold their matrices as AnalogLinear tiles: a float64
    model computes the float32 model's numbers up to the rounding of its digital parts
    (same tolerance as above)."""
    torch.manual_seed(0)
    if kind == "lstm":
        digital, x = nn.LSTM(8, 6, batch_first=True), torch.rand(2, 5, 8)
    else:
        digital = nn.TransformerEncoderLayer(16, 2, 32, dropout=0.0, batch_first=True)
        x = torch.rand(2, 4, 16)
    model, _ = aimc.convert(digital, load_chip("ibm-hermes-pcm"))

    def first(y):
        return y[0] if isinstance(y, tuple) else y

    ref = first(_read(model, x))
    y64 = first(_read(model, x, lambda m: m.to(torch.float64), torch.float64))
    assert y64.dtype == torch.float64
    torch.testing.assert_close(y64, ref.double(), rtol=1e-5, atol=1e-5 * ref.abs().max().item())
