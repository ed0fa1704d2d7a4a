"""Temperature terms of the device models and temperature profiles."""

import math

import numpy as np
import pytest
import torch
from pydantic import ValidationError

from aimc.devices import PCM, RRAM, Flash, Ideal
from aimc.devices.base import BOLTZMANN_EV
from aimc.devices.temperature import (
    ConstantTemperature,
    DailyCycle,
    EquivalentClock,
    TemperatureTable,
    celsius,
    device_at,
    device_time,
    parse_profile,
)

HOT = celsius(85.0)


def arrhenius(ea, t_ref, t):
    return math.exp(ea / BOLTZMANN_EV * (1 / t_ref - 1 / t))


@pytest.mark.parametrize("device, ea", [(PCM(), 1.0), (RRAM(), 1.1), (Flash(), 1.1)])
def test_drift_acceleration_is_arrhenius(device, ea):
    assert device.drift_acceleration() == 1.0  # at the reference temperature
    assert device.drift_acceleration(HOT) == pytest.approx(arrhenius(ea, 300.0, HOT), rel=1e-12)
    assert device_at(device, HOT).drift_acceleration() == pytest.approx(arrhenius(ea, 300.0, HOT), rel=1e-12)
    assert device.drift_acceleration(250.0) < 1.0  # cold: slower
    assert Ideal().drift_acceleration(HOT) == 1.0


def test_pcm_conductance_follows_its_temperature_formulas():
    pcm, hot = PCM(), PCM(temperature_k=HOT)
    g_target = torch.tensor([0.0, 5e-6, 12.5e-6, 25e-6])
    state = pcm.program(g_target, torch.Generator().manual_seed(0))
    t = 3600.0
    ea_g = 0.2 + (0.03 - 0.2) * (g_target / 25e-6)
    factor = torch.exp(-ea_g / BOLTZMANN_EV * (1 / HOT - 1 / 300.0))
    t_eff = t * arrhenius(1.0, 300.0, HOT)
    expected = state["g_prog"] * torch.exp(-state["nu"] * math.log((t_eff + 20.0) / 20.0)) * factor
    torch.testing.assert_close(hot.conductance(state, t), expected, rtol=1e-6, atol=0.0)
    # low (amorphous-rich) states respond more to temperature than high ones
    assert factor[0] > factor[1] > factor[2] > factor[3] > 1.0
    # the read noise scales with the conductance read
    cold_noise = pcm.read_noise_std(state, pcm.conductance(state, t), t)
    hot_noise = hot.read_noise_std(state, pcm.conductance(state, t) * factor, t)
    torch.testing.assert_close(hot_noise, cold_noise * factor)


def test_default_temperature_is_bit_identical_to_the_plain_model():
    """Off by default: at 300 K the PCM conductance is the Nandakumar law, bit for bit."""
    pcm = PCM()
    state = pcm.program(torch.rand(64, 64) * 25e-6, torch.Generator().manual_seed(1))
    for t in (0.0, 1.0, 86400.0, 3.15e7):
        drift = torch.exp(-state["nu"] * math.log((t + 20.0) / 20.0))
        plain = state["g_prog"] if t == 0 else state["g_prog"] * drift
        assert torch.equal(pcm.conductance(state, t), plain)


def test_device_time_makes_a_hot_device_age_by_the_equivalent_time():
    pcm = PCM()
    state = pcm.program(torch.full((100,), 10e-6), torch.Generator().manual_seed(2))
    tau = 1e6
    hot = device_at(pcm, HOT)
    factor = pcm.conductance_temperature_factor(state["g_target"], HOT)
    torch.testing.assert_close(hot.conductance(state, device_time(pcm, tau, HOT)),
                               pcm.conductance(state, tau) * factor, rtol=1e-5, atol=0.0)


def test_profiles_values():
    assert ConstantTemperature(kelvin=310.0).at(np.array([0.0, 5.0])).tolist() == [310.0, 310.0]
    cycle = DailyCycle(low_k=celsius(25), high_k=celsius(85))
    t = np.array([0.0, 43200.0, 21600.0, 86400.0])
    np.testing.assert_allclose(cycle.at(t), [celsius(85), celsius(25), celsius(55), celsius(85)], atol=1e-9)
    table = TemperatureTable(times_s=[0, 100, 200], kelvin=[300, 310, 300])
    np.testing.assert_allclose(table.at(np.array([50.0, 150.0])), [305.0, 305.0])
    with pytest.raises(ValueError, match="ends at 200"):
        table.at(np.array([300.0]))


@pytest.mark.parametrize("kwargs, message", [
    ({"times_s": [0, 10], "kelvin": [300, -5]}, "kelvin must be > 0 .for °C, name the CSV column"),
    ({"times_s": [0, 20, 10], "kelvin": [300, 300, 300]}, "increase strictly"),
    ({"times_s": [0, 10, 10], "kelvin": [300, 300, 300]}, "increase strictly"),
    ({"times_s": [0, 10], "kelvin": [300, float("nan")]}, "NaN"),
    ({"times_s": [0, float("nan")], "kelvin": [300, 300]}, "NaN"),
    ({"times_s": [0, 3 * 86400], "kelvin": [300, 300]}, "gap"),
    ({"times_s": [5, 10], "kelvin": [300, 300]}, "first time must be 0"),
    ({"times_s": [0], "kelvin": [300]}, "at least 2"),
])
def test_bad_tables_are_refused_clearly(kwargs, message):
    with pytest.raises(ValidationError, match=message):
        TemperatureTable(**kwargs)


def test_bad_constant_and_cycle_are_refused():
    with pytest.raises(ValidationError, match="greater than 0"):
        ConstantTemperature(kelvin=-1.0)
    with pytest.raises(ValidationError, match="must not exceed"):
        DailyCycle(low_k=350.0, high_k=300.0)


def test_csv_profile_and_parse(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("# a sensor log\ntime_s,temperature_c\n0,25\n3600,35\n7200,30\n")
    table = parse_profile(str(path))
    assert isinstance(table, TemperatureTable) and table.source == "t.csv"
    np.testing.assert_allclose(table.kelvin, [celsius(25), celsius(35), celsius(30)])
    bad = tmp_path / "bad.csv"
    bad.write_text("time_s,temperature_k\n0,300\n10,\n")
    with pytest.raises(ValidationError, match="row 2 is nan"):
        parse_profile(str(bad))
    assert parse_profile("300K") == ConstantTemperature(kelvin=300.0)
    assert parse_profile("25C") == ConstantTemperature(kelvin=celsius(25))
    assert parse_profile("daily:25-85C") == DailyCycle(low_k=celsius(25), high_k=celsius(85))
    assert parse_profile("daily:-10-40C") == DailyCycle(low_k=celsius(-10), high_k=celsius(40))
    assert parse_profile("daily:-20--5C") == DailyCycle(low_k=celsius(-20), high_k=celsius(-5))
    for bad_text in ("daily:40C", "daily:10-20", "daily:a-bC"):
        with pytest.raises(ValueError, match="expected e.g."):
            parse_profile(bad_text)
    with pytest.raises(ValueError, match="expected e.g."):
        parse_profile("warm")
    with pytest.raises(ValidationError):
        parse_profile("-3K")


def test_equivalent_clock_integrates_the_acceleration():
    pcm = PCM()
    const = EquivalentClock(pcm, ConstantTemperature(kelvin=HOT), 86400.0)
    assert const.tau(100.0, 3700.0) == pytest.approx(3600.0 * arrhenius(1.0, 300.0, HOT), rel=1e-12)
    cycle = DailyCycle()
    clock = EquivalentClock(pcm, cycle, 10 * 86400.0)
    dense = np.linspace(0.0, 2.5 * 86400.0, 2_000_001)
    rate = np.exp(1.0 / BOLTZMANN_EV * (1 / 300.0 - 1 / cycle.at(dense)))
    exact = float(np.sum(0.5 * (rate[1:] + rate[:-1]) * np.diff(dense)))
    assert clock.tau(0.0, 2.5 * 86400.0) == pytest.approx(exact, rel=1e-3)
    assert clock.tau(0.0, 86400.0) == pytest.approx(clock.tau(86400.0, 2 * 86400.0), rel=1e-9)  # periodic
    with pytest.raises(ValueError, match="tabulated up to"):
        clock.tau(0.0, 20 * 86400.0)


def test_profiles_say_whether_they_cover_a_duration():
    table = TemperatureTable(times_s=[0, 3600], kelvin=[300, 310], source="log.csv")
    table.check_covers(3600.0)
    with pytest.raises(ValueError, match="log.csv ends at 3600 s, before the duration of 7200 s"):
        table.check_covers(7200.0)
    ConstantTemperature().check_covers(1e9)
    DailyCycle().check_covers(1e9)
