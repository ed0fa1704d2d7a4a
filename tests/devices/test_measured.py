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
