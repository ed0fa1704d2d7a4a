import pytest
import torch
from pydantic import ValidationError

from aimc.periphery import ADC, DAC


def test_dac_levels_and_clipping_exact():
    dac = DAC(bits=3, scaling="fixed", input_range=2.0)  # 3 levels per sign over full scale 2.0
    x = torch.tensor([0.0, 0.5, 1.0, 1.9, 2.0, 3.0, -0.34, -5.0])
    levels, step = dac.to_levels(x)
    assert step == 2.0 / 3
    assert torch.equal(levels, torch.tensor([0.0, 1, 2, 3, 3, 3, -1, -3]))
    # 8 bits: 255 levels, every level reachable and nothing in between
    dac8 = DAC(bits=8, scaling="fixed")
    levels8, _ = dac8.to_levels(torch.linspace(-1.2, 1.2, 20001))
    assert torch.equal(levels8, levels8.round()) and levels8.abs().max() == 127
    assert levels8.unique().numel() == 255


def test_dac_abs_max_uses_full_range_per_vector():
    dac = DAC(bits=None, scaling="abs_max")
    x = torch.tensor([[1.0, -4.0], [0.5, 0.25]])
    levels, step = dac.to_levels(x)
    torch.testing.assert_close(step, torch.tensor([[4.0], [0.5]]))
    torch.testing.assert_close(levels, torch.tensor([[0.25, -1.0], [1.0, 0.5]]))
    q, step8 = DAC(bits=8).to_levels(x)
    assert torch.equal(q, torch.tensor([[32.0, -127.0], [127.0, 64.0]]))  # 0.25*127 = 31.75
    torch.testing.assert_close(q * step8, x, atol=4.0 / 254, rtol=0)  # within half a level
    # an all-zero vector stays zero (no division by zero); dims share one scale
    zeros, _ = dac.to_levels(torch.zeros(1, 3))
    assert torch.equal(zeros, torch.zeros(1, 3))
    img = torch.tensor([[[[2.0, -1.0]], [[0.5, 0.0]]]])  # [1, 2, 1, 2]
    levels_img, step_img = dac.to_levels(img, dims=(1, 2, 3))
    assert step_img.shape == (1, 1, 1, 1) and step_img.item() == 2.0


def test_adc_codes_and_clipping_exact():
    adc = ADC(bits=4, full_scale=7.0)  # 7 codes each side; 1 code = 1 cell current
    assert adc.levels == 7 and adc.max_code == 7
    assert adc.unit_current(g_max=25e-6, v_read=0.2) == pytest.approx(5e-6)
    codes = adc.digitize(torch.tensor([0.4, 0.6, -2.5, 6.9, 7.4, 100.0, -100.0]))
    assert torch.equal(codes, torch.tensor([0.0, 1.0, -2.0, 7.0, 7.0, 7.0, -7.0]))


def test_adc_infinite_resolution_and_no_clipping():
    adc = ADC(bits=None, full_scale=None)
    x = torch.tensor([1e6, -3.3, 0.123])
    assert torch.equal(adc.digitize(x.clone()), x)
    clip_only = ADC(bits=None, full_scale=2.0)
    assert torch.equal(clip_only.digitize(x.clone()), torch.tensor([2.0, -2.0, 0.123]))


def test_adc_noise_statistics():
    adc = ADC(bits=None, full_scale=None, noise=0.5)
    g = torch.Generator().manual_seed(0)
    out = adc.digitize(torch.zeros(100_000), lambda shape: torch.randn(shape, generator=g))
    # std error of the sample std: 0.5/sqrt(2e5) ~ 0.2 %
    assert out.std().item() == pytest.approx(0.5, rel=0.02)


@pytest.mark.parametrize("kwargs,field", [({"bits": 0}, "bits"), ({"bits": -2}, "bits"),
                                          ({"full_scale": 0.0}, "full_scale"),
                                          ({"bits": "eight"}, "bits")])
def test_adc_bad_values_name_the_field(kwargs, field):
    with pytest.raises(ValidationError, match=field):
        ADC(**kwargs)


def test_quantising_adc_needs_range():
    with pytest.raises(ValidationError, match="full_scale"):
        ADC(bits=8, full_scale=None)


@pytest.mark.parametrize("cls", [ADC, DAC])
@pytest.mark.parametrize("bits", [17, 100])
def test_converter_bits_are_bounded_by_16(cls, bits):
    # bits = 100 used to yield a 1.7e26 W chip in the cost model (2**bits per conversion)
    with pytest.raises(ValidationError) as info:
        cls(bits=bits)
    text = str(info.value)
    assert "bits" in text and "less than or equal to 16" in text
    infinite = {"full_scale": None} if cls is ADC else {}
    assert cls(bits=16).bits == 16 and cls(bits=None, **infinite).bits is None
