import math

import pytest
import torch
from torch import nn

import aimc
from aimc.chips import ChipSpec, load_chip
from aimc.evaluation import enob


def model_and_inputs():
    model = nn.Sequential(nn.Conv2d(4, 8, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(8 * 36, 10))
    g = torch.Generator().manual_seed(0)
    return model, torch.rand(64, 4, 6, 6, generator=g)


def test_ideal_chip_has_infinite_or_float_limited_enob():
    model, x = model_and_inputs()
    analog, _ = aimc.convert(model, load_chip("ideal"))
    aimc.program(analog, seed=0)
    for r in enob(analog, x):
        assert r.enob > 18 or math.isinf(r.enob)  # float32 rounding only


def test_converter_resolution_bounds_enob():
    model, x = model_and_inputs()
    for bits in (4, 8):
        chip = ChipSpec.model_validate({**load_chip("ideal").model_dump(),
                                        "dac": {"bits": bits}, "adc": {"bits": bits, "full_scale": 12.0}})
        analog, _ = aimc.convert(model, chip)
        aimc.program(analog, seed=0)
        results = {r.name: r.enob for r in enob(analog, x)}
        # an N-bit signed converter chain cannot beat ~N bits; it should give more than N-4
        assert all(bits - 4 < e < bits + 1.5 for e in results.values()), (bits, results)
        assert results["0"] == pytest.approx((r := enob(analog, x)[0]).enob) and r.sinad_db > 0


def test_pcm_drift_lowers_enob_and_gdc_restores_it():
    model, x = model_and_inputs()
    analog, _ = aimc.convert(model, load_chip("ibm-hermes-pcm"))
    aimc.program(analog, seed=0)
    fresh = enob(analog, x)[1].enob
    aimc.drift(analog, 3.15e7, compensate=False)
    aged = enob(analog, x)[1].enob
    aimc.drift(analog, 3.15e7, compensate=True)
    compensated = enob(analog, x)[1].enob
    assert aged < fresh - 1 and compensated > aged + 1


def test_digital_bias_does_not_count_as_signal():
    """The bias is added after the ADC: a large one must not raise the SINAD (before the fix a
    bias of -100 on the last layer took its ENOB from 6.4 to 15.3 bits)."""
    model, x = model_and_inputs()
    chip = ChipSpec.model_validate({**load_chip("ideal").model_dump(),
                                    "dac": {"bits": 8}, "adc": {"bits": 8, "full_scale": 12.0}})
    analog, _ = aimc.convert(model, chip)
    aimc.program(analog, seed=0)
    before = {r.name: r.enob for r in enob(analog, x)}
    for layer, shift in (("3", -100.0), ("0", 100.0)):  # a conv bias and a linear bias
        with torch.no_grad():
            dict(analog.named_children())[layer].bias += shift
        # same analog products, same errors (layer 0's shift changes layer 3's inputs, so
        # each layer is compared after its own shift); the float32 rounding of outputs near
        # 100 (ulp 8e-6) is far below the 8-bit quantisation error
        after = {r.name: r.enob for r in enob(analog, x)}
        assert after[layer] == pytest.approx(before[layer], abs=0.01), layer
    # and the SINAD uses the products only: recompute it by hand for the last layer
    with torch.no_grad():
        analog[0].bias -= 100.0
    hidden = analog[2](analog[1](analog[0](x)))
    with torch.no_grad():
        product = hidden @ analog[3].weight.T
        error = analog[3](hidden) - (product + analog[3].bias)
    sinad = 10 * math.log10(product.double().pow(2).sum() / error.double().pow(2).sum())
    assert enob(analog, x)[1].sinad_db == pytest.approx(sinad, abs=0.05)
