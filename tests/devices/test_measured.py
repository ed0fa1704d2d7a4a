"""Measured-device CSV: round trip from the PCM model and clear errors for bad files."""

import math

import numpy as np
import pytest
import torch
from scipy import stats

from aimc.chips import ChipSpec
from aimc.devices import PCM, DeviceCSVError, MeasuredDevice, read_device_csv, write_device_csv

N = 200_000


@pytest.fixture
def pcm_csv(tmp_path):
    return write_device_csv(PCM(), tmp_path / "pcm.csv", points=200)


@pytest.mark.parametrize("g_t", [5e-6, 12.5e-6, 25e-6])
def test_csv_from_pcm_gives_back_pcm_statistics(pcm_csv, g_t):
    pcm, measured = PCM(), MeasuredDevice(csv=str(pcm_csv))
    g = torch.full((N,), g_t, dtype=torch.float64)
    a = pcm.program(g, torch.Generator().manual_seed(1))
    b = measured.program(g, torch.Generator().manual_seed(2))
    # programming sigma (interpolation error of the 200-point grid is < 0.1 %)
    assert b["g_prog"].std().item() == pytest.approx(pcm.programming_std(g[:1]).item(), rel=0.03)
    mu, sigma = (v.item() for v in pcm.drift_exponent_stats(g[:1]))
    folded = stats.foldnorm(c=mu / sigma, scale=sigma)
    assert b["nu"].mean().item() == pytest.approx(folded.mean(), rel=0.01)
    assert b["nu"].std().item() == pytest.approx(folded.std(), rel=0.03)
    t = 86400.0
    ga, gb = pcm.conductance(a, t), measured.conductance(b, t)
    assert gb.mean().item() == pytest.approx(ga.mean().item(), rel=0.01)
    ra, rb = pcm.read_noise_std(a, ga, t), measured.read_noise_std(b, gb, t)
    assert rb.mean().item() == pytest.approx(ra.mean().item(), rel=0.01)


def test_measured_device_in_chip_yaml(pcm_csv):
    chip = ChipSpec.model_validate({"device": {"name": "measured", "csv": str(pcm_csv)}})
    assert isinstance(chip.device, MeasuredDevice)


HEADER = "g_target,sigma_prog,nu_mean,nu_std,read_noise_q\n"


def write(path, text):
    path.write_text(text)
    return str(path)


@pytest.mark.parametrize("text,message", [
    ("g_target,sigma_prog,nu_mean,nu_std\n0,1,1,1\n1,1,1,1\n", "missing column.*read_noise_q"),
    (HEADER + "-1e-6,1,1,1,1\n2.5e-5,1,1,1,1\n", "negative conductance"),
    ("g_target,sigma_prog,nu_mean,nu_std,read_noise_q\n1e-5,1,1,1,1\n5e-6,1,1,1,1\n2.5e-5,1,1,1,1\n",
     "strictly increasing"),
    ("g_target,sigma_prog,nu_mean,nu_std,read_noise_q\n0,1,1,1,1\n", "at least 2 data rows"),
    ("g_target,sigma_prog,nu_mean,nu_std,read_noise_q\n0,a,1,1,1\n2.5e-5,1,1,1,1\n", "a number"),
    (HEADER + "0,-1,1,1,1\n2.5e-5,1,1,1,1\n", "negative values in sigma_prog"),
    ("g_target,sigma_prog,nu_mean,nu_std,read_noise_q\n0,1,1,1,1\n1e-5,1,1,1,1\n", "below g_max"),
])
def test_bad_csv_errors(tmp_path, text, message):
    with pytest.raises(ValueError, match=message):  # pydantic wraps DeviceCSVError
        MeasuredDevice(csv=write(tmp_path / "bad.csv", text))


def test_missing_file():
    with pytest.raises(DeviceCSVError, match="does not exist"):
        read_device_csv("/nonexistent/file.csv")
    with pytest.raises(ValueError, match="does not exist"):
        MeasuredDevice(csv="/nonexistent/file.csv")


def test_interpolation_is_linear_between_points(tmp_path):
    path = write(tmp_path / "two.csv", "g_target,sigma_prog,nu_mean,nu_std,read_noise_q\n"
                                      "0,1e-6,0.05,0.01,0.1\n2.5e-5,3e-6,0.07,0.03,0.02\n")
    dev = MeasuredDevice(csv=path)
    g = torch.tensor([12.5e-6, 30e-6], dtype=torch.float64)
    torch.testing.assert_close(dev.stat("sigma_prog", g), torch.tensor([2e-6, 3e-6], dtype=torch.float64))
    assert math.isclose(float(dev.stat("nu_mean", g)[0]), 0.06)
    assert np.isclose(float(dev.stat("read_noise_q", g)[1]), 0.02)  # beyond the grid: end value


def scaled_csv(source, path, g_scale=1.0, sigma_scale=1.0):
    """The PCM table with conductances (and/or sigmas) in another unit."""
    lines = source.read_text().splitlines()
    out = [lines[0], lines[1]]
    for line in lines[2:]:
        g, sigma, *rest = line.split(",")
        out.append(",".join([repr(float(g) * g_scale), repr(float(sigma) * sigma_scale), *rest]))
    path.write_text("\n".join(out) + "\n")
    return str(path)


@pytest.mark.parametrize("g_scale,sigma_scale,message", [
    (1e6, 1e6, r"g_target reaches 25, 1e\+06 times g_max .*look like uS, not S: divide .* by 1e6"),
    (1e9, 1e9, r"look like nS, not S: divide .* by 1e9"),
    (1e3, 1e3, r"look like mS, not S: divide .* by 1e3"),
    (1.0, 1e6, r"sigma_prog reaches .*more than g_max .*look like uS"),
    (4.0, 4.0, r"4 times g_max .*must be in siemens"),
])
def test_table_in_the_wrong_unit_is_refused_with_the_unit_named(pcm_csv, tmp_path, g_scale,
                                                                 sigma_scale, message):
    # before this check a uS table loaded silently and a converted network fell to ~10 % accuracy
    path = scaled_csv(pcm_csv, tmp_path / "scaled.csv", g_scale, sigma_scale)
    with pytest.raises(ValueError, match=message):
        MeasuredDevice(csv=path)


def test_g_max_in_micro_siemens_is_refused(tmp_path, pcm_csv):
    path = scaled_csv(pcm_csv, tmp_path / "us.csv", 1e6, 1e6)
    with pytest.raises(ValueError, match=r"g_max = 25 S is not a memory cell's conductance.*uS"):
        MeasuredDevice(csv=path, g_max=25.0)


def test_grid_a_little_past_g_max_is_accepted(pcm_csv):
    dev = MeasuredDevice(csv=str(pcm_csv), g_max=20e-6)  # grid to 25 uS = 1.25 g_max
    assert dev.stat("sigma_prog", torch.tensor([10e-6])).item() > 0
