"""Program-and-verify against one-shot programming."""

import pytest
import torch
from torch import nn

import aimc
from aimc.calibration import ProgramVerify
from aimc.devices import PCM, RRAM
from aimc.evaluation import plot_program_verify

N = 50_000


@pytest.mark.parametrize("device", [PCM(), RRAM()], ids=["pcm", "rram"])
def test_error_falls_with_iterations_and_beats_one_shot(device, tmp_path):
    g = torch.rand(N, dtype=torch.float64, generator=torch.Generator().manual_seed(1)) * device.g_max
    verify = ProgramVerify(max_iterations=10)
    state, hist = verify.program(device, g, torch.Generator().manual_seed(0))
    assert len(hist.rms_error) == 11
    assert hist.rms_error[-1] < 0.65 * hist.rms_error[0]  # measured: PCM 0.46x, RRAM 0.60x
    assert all(b >= a - 1e-3 for a, b in zip(hist.converged, hist.converged[1:], strict=False))
    assert hist.pulses >= N and hist.reads >= N
    # the final state is a valid device state of the same shape
    assert state["g_prog"].shape == g.shape and (state["g_prog"] >= 0).all()
    assert verify.time_s(hist, rows_in_parallel=256) == pytest.approx(
        (hist.pulses * 100e-9 + hist.reads * 1e-6) / 256)
    assert verify.energy_j(hist) == pytest.approx(hist.pulses * 10e-12)
    png = plot_program_verify(hist, tmp_path / "pv.png")
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_closed_loop_programming_lowers_the_weight_error_of_a_model():
    torch.manual_seed(0)
    model = nn.Linear(256, 64)
    analog, _ = aimc.convert(model, "ibm-hermes-pcm")
    errors = {}
    for label, verify in (("one-shot", None), ("verified", ProgramVerify())):
        aimc.program(analog, seed=0, verify=verify)
        g = analog.tile.conductances()
        errors[label] = (g - analog.tile.g_target).pow(2).mean().sqrt().item()
    assert errors["verified"] < 0.7 * errors["one-shot"]
    assert analog.tile.verify_history is not None
