"""SAR and ramp ADC non-idealities against their defining equations."""

import pytest
import torch
from pydantic import ValidationError

from aimc.periphery import ADC
from aimc.periphery.adc import inl_dnl


def test_ideal_sar_and_ramp_equal_rounding():
    x = torch.linspace(-140, 140, 5601) + 0.0123  # no exact ties (round-half-even vs SAR)
    ideal = ADC(bits=8).transfer(x)
    assert torch.equal(ADC(kind="sar", bits=8).transfer(x), ideal)
    assert torch.equal(ADC(kind="ramp", bits=8).transfer(x), ideal)
    assert ideal.abs().max() == 127


def test_gain_and_offset():
    adc = ADC(bits=8, gain_error=0.1, offset=2.0)
    assert adc.transfer(torch.tensor([10.0])).item() == 13.0  # 10 * 1.1 + 2


def test_sar_dnl_at_the_msb_transition_follows_the_drawn_capacitors():
    adc = ADC(kind="sar", bits=8, cap_mismatch=0.05)
    weights = adc.draw_instance(torch.Generator().manual_seed(3))
    nominal = 2.0 ** torch.arange(7)
    assert not torch.equal(weights, nominal)
    inl, dnl = inl_dnl(adc, weights)
    # code 63 spans from the transition into 63 to the one into 64 (MSB alone):
    # transition into 64 is at w_6 - 0.5, into 63 at w_0 + ... + w_5 - 0.5
    expected = (weights[6] - weights[:6].sum()).item() - 1.0
    assert dnl[62].item() == pytest.approx(expected, abs=1 / 64 + 1e-6)
    # and the transition into 64 sits where the MSB capacitor says
    assert inl[63].item() == pytest.approx(weights[6].item() - 64.0, abs=1 / 64 + 1e-6)


def test_sar_mismatch_statistics_follow_pelgrom_scaling():
    adc = ADC(kind="sar", bits=8, cap_mismatch=0.02)
    draws = torch.stack([adc.draw_instance(torch.Generator().manual_seed(s)) for s in range(4000)])
    rel = draws / 2.0 ** torch.arange(7) - 1
    # relative error of bit b: 0.02 / sqrt(2^b); 4000 draws -> 2.2 % std error of a std
    expected = 0.02 / torch.sqrt(2.0 ** torch.arange(7))
    torch.testing.assert_close(rel.std(dim=0), expected, rtol=0.08, atol=0)


def test_ramp_bow_gives_peak_inl_at_mid_range():
    adc = ADC(kind="ramp", bits=8, ramp_inl=2.0)
    inl, dnl = inl_dnl(adc)
    mid = inl[62:65]
    assert mid.abs().max().item() == pytest.approx(2.0, abs=0.2)
    assert inl[:3].abs().max() < 0.2 and inl[-3:].abs().max() < 0.2  # zero at the ends


def test_noise_and_bad_configs():
    adc = ADC(bits=8, noise=1.0)
    g = torch.Generator().manual_seed(0)
    out = adc.digitize(torch.full((100_000,), 10.25), lambda s: torch.randn(s, generator=g))
    assert out.std().item() == pytest.approx((1.0 + 1 / 12) ** 0.5, rel=0.03)  # noise + rounding
    with pytest.raises(ValidationError, match="kind='sar'"):
        ADC(cap_mismatch=0.01)
    with pytest.raises(ValidationError, match="finite bits"):
        ADC(kind="ramp", bits=None, full_scale=None)
