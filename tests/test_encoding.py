"""Every weight encoding reproduces the digital result exactly with ideal devices/converters."""

import pytest
import torch

import aimc
from aimc.chips import ChipSpec
from aimc.devices import Ideal
from aimc.encoding import BitSliced, Differential, MultiPair, Offset
from aimc.periphery import ADC, DAC
from aimc.tile import Tile

ENCODINGS = [Differential(), MultiPair(), MultiPair(pairs=3, significance=2.0), Offset(),
             BitSliced(slices=2, bits_per_slice=4), BitSliced(slices=3, bits_per_slice=2)]


def on_grid(w: torch.Tensor, encoding) -> torch.Tensor:
    """Bit slicing stores |w| on a grid of 2**bits - 1 steps of each column's max: put w there."""
    if not isinstance(encoding, BitSliced):
        return w
    top = 2 ** (encoding.slices * encoding.bits_per_slice) - 1
    peak = w.abs().amax(dim=1, keepdim=True)
    return torch.round(w / peak * top) * peak / top


def assert_exact(y, x, w):
    """Equal up to float32 rounding of the sums."""
    assert ((y - x @ w.T).abs() <= 2e-6 * (x.abs() @ w.abs().T) + 1e-7).all()


@pytest.mark.parametrize("encoding", ENCODINGS, ids=lambda e: repr(e))
@pytest.mark.parametrize("shape,rows", [((12, 30), 256), ((20, 600), 256)])
def test_encoding_exact_with_ideal_device(encoding, shape, rows):
    w = on_grid(torch.randn(*shape), encoding)
    enc = encoding.encode(w.T, 25e-6)
    assert (enc.g_target >= 0).all() and (enc.g_target <= 25e-6 * (1 + 1e-6)).all()
    torch.testing.assert_close(enc.decode(), w.T, rtol=1e-5, atol=1e-6)
    tile = Tile(w, device=Ideal(), dac=DAC(bits=None), adc=ADC(bits=None, full_scale=None),
                array_rows=rows, encoding=encoding)
    tile.program(seed=0)
    x = torch.randn(17, shape[1])
    assert_exact(tile(x), x, w)


@pytest.mark.parametrize("encoding", ENCODINGS, ids=lambda e: repr(e))
def test_encoding_exact_in_converted_conv_and_linear(encoding):
    chip = ChipSpec.model_validate({**aimc.load_chip("ideal").model_dump(),
                                    "encoding": encoding.model_dump()})
    conv = torch.nn.Conv2d(40, 6, 3, padding=1)  # 360 rows: 2 arrays
    with torch.no_grad():
        conv.weight.copy_(on_grid(conv.weight.flatten(1), encoding).view_as(conv.weight))
    analog, _ = aimc.convert(conv, chip)
    aimc.program(analog, seed=0)
    x = torch.randn(2, 40, 5, 5)
    with torch.no_grad():
        y, ref = analog(x), conv(x)
    assert ((y - ref).abs() <= 1e-4 * ref.abs().max()).all()


def test_planes_and_groups():
    w = torch.tensor([[0.5, -1.0]])  # [in=1, out=2] after transpose in the tile
    multi = MultiPair(pairs=2, significance=3.0).encode(w, 1.0)
    assert multi.alpha == (3.0, -3.0, 1.0, -1.0) and multi.groups == 1
    offset = Offset().encode(w, 1.0)
    assert offset.reference_column and offset.g_target.shape == (1, 1, 3)
    torch.testing.assert_close(offset.g_target[0, 0], torch.tensor([1.0, 0.0, 0.5]))
    sliced = BitSliced(slices=2, bits_per_slice=2).encode(torch.tensor([[5 / 15], [-1.0]]), 1.0)
    assert sliced.beta == (1.0, 4.0) and sliced.group == (0, 0, 1, 1)
    # 5 = 0b0101: low digit 1, high digit 1 -> G+ of both slices at 1/3 g_max
    torch.testing.assert_close(sliced.g_target[:, 0, 0], torch.tensor([1 / 3, 0.0, 1 / 3, 0.0]))
    # -15 = -0b1111: both digits 3 on the G- devices
    torch.testing.assert_close(sliced.g_target[:, 1, 0], torch.tensor([0.0, 1.0, 0.0, 1.0]))


def test_multi_pair_averages_programming_noise():
    """Four devices instead of two: the relative weight error shrinks (PCM noise, same seed)."""
    w = torch.randn(64, 256) * 0.1
    errors = {}
    for enc in (Differential(), MultiPair(pairs=2, significance=1.0)):
        tile = Tile(w, device=aimc.devices.PCM(), dac=DAC(bits=None),
                    adc=ADC(bits=None, full_scale=None), encoding=enc)
        tile.program(seed=0)
        x = torch.eye(256)
        errors[enc.kind] = ((tile(x) - w.T).pow(2).mean() / w.pow(2).mean()).sqrt().item()
    # independent errors on twice the devices: ~1/sqrt(2) of the error
    assert errors["multi_pair"] < 0.8 * errors["differential"]


def test_bad_encoding_values():
    from pydantic import ValidationError
    with pytest.raises(ValidationError, match="pairs"):
        MultiPair(pairs=1)
    with pytest.raises(ValidationError, match="significance"):
        MultiPair(significance=0.5)
    with pytest.raises(ValidationError, match="encoding"):
        ChipSpec.model_validate({"encoding": {"kind": "quantum"}})
