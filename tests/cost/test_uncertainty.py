"""Parameter ranges and their Monte Carlo propagation to the headline cost figures."""

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from pydantic import ValidationError
from rich.console import Console

import aimc
from aimc.chips import ChipSpec, load_chip
from aimc.cost import estimate, peak
from aimc.cost.uncertainty import SAMPLES, parameter_ranges, samples
from aimc.cost.validation import markdown_rows, validate
from aimc.models import mlp

README = Path(__file__).resolve().parents[2] / "README.md"


def variant(name: str = "ibm-hermes-pcm", **groups) -> ChipSpec:
    data = load_chip(name).model_dump()
    for group, values in groups.items():
        data[group] = {**data[group], **values}
    return ChipSpec.model_validate(data)


def test_default_ranges_hold_only_for_default_values_and_presets_pin_published_ones():
    ibm = parameter_ranges(load_chip("ibm-hermes-pcm"))
    assert ibm["cost.adc_power_w"] == (3.1e-4, 2.6e-4, 4.4e-4)  # the preset's own range
    assert "timing.dac_lsb_s" not in ibm  # published 1 ns/LSB: pinned [v, v]
    assert "cost.adc_fom_j" not in ibm  # not in use: the CCO ADC is costed by its power
    assert ibm["cost.dac_j_per_step"] == (3.3e-15, 1e-15, 10e-15)  # generic default range
    fom = variant(cost={"adc_power_w": None})
    assert parameter_ranges(fom)["cost.adc_fom_j"] == (6.5e-15, 2.2e-15, 31e-15)
    own = variant(cost={"adc_power_w": None, "adc_fom_j": 20e-15})  # a value set by the user
    assert "cost.adc_fom_j" not in parameter_ranges(own)  # ... carries no range unless given
    given = variant(cost={"adc_power_w": None, "adc_fom_j": 20e-15,
                          "ranges": {"cost.adc_fom_j": [1e-14, 4e-14]}})
    assert parameter_ranges(given)["cost.adc_fom_j"] == (20e-15, 1e-14, 4e-14)
    assert parameter_ranges(load_chip("mythic-m1076"))["timing.integration_s"] == (3e-6, 1e-6, 1e-5)


@pytest.mark.parametrize("ranges,message", [
    ({"cost.nonsense": [1, 2]}, "unknown parameter 'cost.nonsense' in cost.ranges; allowed: cost.adc_area"),
    ({"cost.adc_fom_j": [3e-14, 1e-14]}, "must satisfy 0 <= low <= high"),
    ({"cost.adc_fom_j": [-1e-15, 1e-14]}, "must satisfy 0 <= low <= high"),
    ({"cost.cell_f2": [60.0, 90.0]}, "does not contain cost.cell_f2 = 48"),
])
def test_bad_ranges_are_refused_naming_the_parameter(ranges, message):
    with pytest.raises(ValidationError, match=message.replace("(", r"\(")):
        variant(cost={"ranges": ranges})


def test_one_uncertain_parameter_gives_the_analytic_percentiles():
    # only the ADC figure of merit varies: TOPS/W falls monotonically with it, so the 5th
    # percentile of TOPS/W is the model at the 95th percentile of the log-uniform FOM
    base = variant(dac={"encoding": "amplitude"}, cost={"adc_power_w": None})
    pinned = {k: [v, v] for k, (v, _, _) in parameter_ranges(base).items() if k != "cost.adc_fom_j"}
    chip = variant(dac={"encoding": "amplitude"}, cost={"adc_power_w": None, "ranges": pinned})
    assert list(parameter_ranges(chip)) == ["cost.adc_fom_j"]
    p = peak(chip)
    lo, hi = 2.2e-15, 31e-15
    at = lambda fom: peak(variant(dac={"encoding": "amplitude"}, cost={  # noqa: E731
        "adc_power_w": None, "adc_fom_j": fom})).tops_per_w
    # MC error of a 5 % quantile at 4096 draws: 0.34 % in u, ~1 % in FOM; 3 % tolerance
    assert p.intervals["tops_per_w"].low == pytest.approx(at(lo * (hi / lo) ** 0.95), rel=0.03)
    assert p.intervals["tops_per_w"].high == pytest.approx(at(lo * (hi / lo) ** 0.05), rel=0.03)
    assert p.intervals["tops"].low == p.intervals["tops"].high == pytest.approx(p.tops)  # no timing range


def test_propagation_is_seeded_and_converged():
    chip = load_chip("ibm-speech-pcm")
    a, b = samples(chip)[0], samples(chip)[0]
    assert np.array_equal(a.cost.adc_fom_j, b.cost.adc_fom_j) and a.cost.adc_fom_j.shape == (SAMPLES,)
    assert peak(chip).intervals == peak(chip).intervals
    # another seed with 4x the draws moves the interval ends by a few percent at most
    from aimc.cost import report
    big = report._peak_figures(samples(chip, n=4 * SAMPLES, seed=1)[0], report.encoding_shape(chip))
    e = sum(big[1].values())
    tops_per_w = 2 * 512 * 512 / e / 1e12
    ref = peak(chip).intervals["tops_per_w"]
    assert np.percentile(tops_per_w, 5) == pytest.approx(ref.low, rel=0.05)
    assert np.percentile(tops_per_w, 95) == pytest.approx(ref.high, rel=0.05)


def test_estimate_reports_every_headline_figure_with_its_interval():
    report = estimate(aimc.compile(mlp(), "ibm-hermes-pcm", torch.zeros(1, 784)))
    i = report.intervals
    assert set(i) == {"energy_j", "latency_s", "throughput", "tops", "tops_per_w", "area_m2", "tops_per_mm2",
                      "energy_per_token_j", "latency_per_token_s", "tokens_per_s"}
    for key in ("energy_j", "tops_per_w", "area_m2"):
        assert i[key].low < i[key].nominal < i[key].high
    assert i["energy_j"].nominal == report.total_j and i["area_m2"].nominal == report.area_m2
    assert i["tops"].high <= report.tops  # readout time only adds: nominal (0 s) is the fastest
    data = report.to_dict()
    assert data["intervals"]["tops_per_w"]["low"] == i["tops_per_w"].low
    assert "Monte Carlo" in data["uncertainty"]["method"]
    assert data["uncertainty"]["parameters"]["cost.adc_power_w"]["high"] == 4.4e-4
    console = Console(width=80, record=True)
    console.print(report)
    text = console.export_text()
    assert "90 % range" in text and max(len(line) for line in text.splitlines()) <= 80
    assert peak(report.mapping.chip).to_dict()["intervals"]["tops"]["nominal"] == pytest.approx(65.536)


def test_mythic_throughput_reflects_its_unpublished_timing():
    p = peak(load_chip("mythic-m1076"))
    tops = p.intervals["tops"]
    # 1-10 us per tile product: 2 * 1024^2 * 76 / t -> 159 to 15.9 TOPS; the 90 % range spans ~6x
    assert tops.high / tops.low > 5 and 15.9 < tops.low and tops.high < 159.4
    assert math.isclose(tops.nominal, 2 * 1024**2 * 76 / 3e-6 / 1e12)


# the claims the README's validation table makes; the benchmark prints the same rows
EXPECTED = {("ibm-hermes-pcm", 1, "TOPS"): True, ("ibm-hermes-pcm", 1, "TOPS/W"): True,
            ("ibm-hermes-pcm", 4, "TOPS"): True, ("ibm-hermes-pcm", 4, "TOPS/W"): True,
            ("ibm-speech-pcm", None, "TOPS/W"): False, ("mythic-m1076", None, "TOPS/W"): True}


def test_validation_claims_match_the_model_and_the_readme():
    rows = validate()
    scored = {(r.published.chip, r.published.phases, r.published.figure): r.inside for r in rows if r.scored}
    assert scored == EXPECTED
    (mythic,) = [r for r in rows if not r.scored]  # Mythic publishes no tile timing
    assert (mythic.published.chip, mythic.published.figure) == ("mythic-m1076", "TOPS")
    basis = {(r.published.chip, r.published.phases, r.published.figure): r.published.basis for r in rows}
    assert basis[("ibm-hermes-pcm", 1, "TOPS/W")] == "calibrated"
    readme = README.read_text()
    for line in markdown_rows(rows):
        assert line in readme, f"README validation table differs from the model; rerun bench_cost.py: {line}"
