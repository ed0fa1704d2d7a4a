"""The lifetime simulator: off by default, refresh restores accuracy, wear, checkpoints, CLI."""

import copy
import json

import numpy as np
import pytest
import torch
from torch import nn

from aimc.calibration import Endurance, PeriodicRefresh
from aimc.chips import load_chip
from aimc.data import digits
from aimc.devices.temperature import ConstantTemperature, DailyCycle
from aimc.evaluation import accuracy, evaluate_over_time, simulate_lifetime
from aimc.evaluation.lifetime import POLICIES, LifetimePolicy
from aimc.nn import convert, program

DAY = 86400.0


@pytest.fixture(scope="module")
def trained():
    """A small MLP trained on digits for a few epochs (fixed seed)."""
    torch.manual_seed(0)
    data = digits(seed=0)
    x, y = data.x_train.flatten(1), data.y_train
    model = nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(60):
        opt.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
    model.eval()
    return model, (data.x_test.flatten(1), data.y_test)


def test_off_by_default_same_numbers_as_evaluate_over_time(trained):
    """At the default temperature, without reference cells, the lifetime simulator's global and
    uncompensated policies read the very chip instances evaluate_over_time reads."""
    model, test = trained
    chip = load_chip("ibm-hermes-pcm")
    assert chip.reference_cells is None
    times = [3600.0, DAY, 30 * DAY]
    for policy, compensate in (("global", True), ("none", False)):
        analog, _ = convert(model, chip)
        life = simulate_lifetime(analog, test, chip, policy, ConstantTemperature(kelvin=300.0), 30 * DAY,
                                 times=times, repeats=2, seed=5, progress=False)
        plain = evaluate_over_time(analog, test, times, repeats=2, seed=5, compensate=compensate,
                                   progress=False)
        np.testing.assert_array_equal(life.accuracy, plain.accuracies)


def test_refresh_restores_accuracy(trained):
    """A chip whose drift is 3x IBM's loses accuracy without compensation; a periodic refresh
    every 10 days brings it back to its 1-s accuracy right after each refresh."""
    model, test = trained
    base = load_chip("ibm-hermes-pcm")
    chip = base.model_copy(update={"device": base.device.model_copy(update={"drift_scale": 3.0})})
    times = [1.0, 10 * DAY + 1.0, 30 * DAY - 1.0, 30 * DAY + 1.0]
    runs = {}
    for name, refresh in (("none", None), ("periodic", PeriodicRefresh(period_s=10 * DAY))):
        policy = LifetimePolicy(name=name, compensation="none") if refresh is None else \
            LifetimePolicy(name=name, compensation="none", refresh=refresh)
        analog, _ = convert(model, chip)
        runs[name] = simulate_lifetime(analog, test, chip, policy, ConstantTemperature(), 31 * DAY,
                                       times=times, repeats=3, progress=False)
    none, periodic = runs["none"].mean, runs["periodic"].mean
    assert none[0] == periodic[0]  # same chip instances before the first refresh
    assert none[3] < none[0] - 0.05  # drift hurts
    # right after a refresh: back within 2 points of 1 s (3 instances x 360 images), far above no refresh
    for k in (1, 3):
        assert periodic[k] > none[k] + 0.03
        assert abs(periodic[k] - periodic[0]) < 0.02
    assert runs["periodic"].refreshes == [[10 * DAY, 20 * DAY, 30 * DAY]] * 3
    energy = runs["periodic"].energy_j[0]["refresh"]
    assert energy > 0 and runs["periodic"].downtime_s[0] > 0
    assert runs["none"].energy_total_j().tolist() == [0.0] * 3


def test_worn_out_devices_at_the_endurance_budget(trained):
    """A budget of 3 cycles: programming + 2 refreshes wear every device out at the 2nd refresh."""
    model, test = trained
    chip = load_chip("ibm-hermes-pcm")
    policy = LifetimePolicy(name="p", compensation="global", refresh=PeriodicRefresh(period_s=DAY))
    analog, _ = convert(model, chip)
    devices = sum(t.device_shape.numel() for t in (m for m in analog.modules() if type(m).__name__ == "Tile"))
    res = {}
    for end in (2.5 * DAY, 1.5 * DAY):
        res[end] = simulate_lifetime(analog, test, chip, policy, ConstantTemperature(), end, times=[1.0, end],
                                     repeats=1, endurance=Endurance(budget=3), progress=False)
    assert res[1.5 * DAY].worn == [0]
    assert res[2.5 * DAY].worn == [devices]
    assert res[2.5 * DAY].accuracy[0, 1] < 0.2  # every device stuck off: a dead chip


def test_checkpoint_resume_gives_the_uninterrupted_numbers(trained, tmp_path):
    model, test = trained
    chip = load_chip("ibm-hermes-pcm")
    kwargs = dict(times=[1.0, 3600.0, DAY, 5 * DAY, 10 * DAY], repeats=2, seed=3, progress=False)
    analog, _ = convert(model, chip)
    policy = LifetimePolicy(name="t", compensation="closed_loop",
                            refresh=PeriodicRefresh(period_s=2 * DAY))
    full = simulate_lifetime(analog, test, chip, policy, DailyCycle(), 10 * DAY, **kwargs)
    part = simulate_lifetime(analog, test, chip, policy, DailyCycle(), 10 * DAY, checkpoint_dir=tmp_path,
                             max_steps=7, **kwargs)
    assert not part.complete and np.isnan(part.accuracy[1, 2:]).all()
    # one JSON and the one tensors file it names (step 7), strict JSON: null where not measured
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lifetime-00000007.safetensors", "lifetime.json"]
    text = (tmp_path / "lifetime.json").read_text()
    assert "NaN" not in text
    saved = json.loads(text)
    assert saved["cursor"] == [1, 2] and saved["tensors"] == "lifetime-00000007.safetensors"
    assert saved["accuracy"][1][2:] == [None] * 3
    # a kill after the next tensors file was written but before its JSON: the JSON still names
    # step 7's file, which is still there; the stray file is ignored and removed
    (tmp_path / "lifetime-00000008.safetensors").write_bytes(b"stray")
    again = simulate_lifetime(analog, test, chip, policy, DailyCycle(), 10 * DAY, checkpoint_dir=tmp_path,
                              **kwargs)
    assert again.complete
    np.testing.assert_array_equal(again.accuracy, full.accuracy)
    assert again.refreshes == full.refreshes and again.energy_j == full.energy_j
    with pytest.raises(ValueError, match="another simulation.*policy"):
        simulate_lifetime(analog, test, chip, "none", DailyCycle(), 10 * DAY, checkpoint_dir=tmp_path,
                          **kwargs)


def test_threshold_policy_refreshes_under_heat_not_at_room_temperature(trained):
    model, test = trained
    chip = load_chip("ibm-hermes-pcm")
    analog, _ = convert(model, chip)
    hot = simulate_lifetime(analog, test, chip, "threshold", DailyCycle(), 60 * DAY, times=[1.0, 60 * DAY],
                            progress=False)
    cool = simulate_lifetime(analog, test, chip, "threshold", ConstantTemperature(), 60 * DAY,
                             times=[1.0, 60 * DAY], progress=False)
    assert len(hot.refreshes[0]) >= 2 and cool.refreshes[0] == []
    assert hot.energy_j[0]["reference_checks"] > 0 and hot.energy_j[0]["refresh"] > 0
    assert set(POLICIES) >= {"none", "global", "per-column", "closed-loop", "threshold", "periodic"}


def test_bad_arguments(trained):
    model, test = trained
    chip = load_chip("ibm-hermes-pcm")
    analog, _ = convert(model, chip)
    with pytest.raises(ValueError, match="unknown lifetime policy"):
        simulate_lifetime(analog, test, chip, "sometimes", progress=False)
    with pytest.raises(ValueError, match="times must lie"):
        simulate_lifetime(analog, test, chip, "none", duration_s=DAY, times=[2 * DAY], progress=False)
    with pytest.raises(ValueError, match="no analog layers"):
        simulate_lifetime(nn.Linear(64, 10), test, chip, "none", progress=False)


def test_program_and_verify_refresh_costs_pulses_reads_and_more_cycles(trained):
    """With program-and-verify every refresh takes verify reads and extra pulses: more energy
    and downtime than an open-loop refresh, and more than one endurance cycle per device."""
    from aimc.calibration import ProgramVerify

    model, test = trained
    chip = load_chip("ibm-hermes-pcm")
    runs = {}
    for name, verify in (("open", None), ("verify", ProgramVerify(max_iterations=3))):
        policy = LifetimePolicy(name=name, compensation="global",
                                refresh=PeriodicRefresh(period_s=DAY, verify=verify))
        analog, _ = convert(model, chip)
        runs[name] = simulate_lifetime(analog, test, chip, policy, ConstantTemperature(), 2.5 * DAY,
                                       times=[1.0, 2.5 * DAY], endurance=Endurance(budget=4), progress=False)
    open_loop, verified = runs["open"], runs["verify"]
    assert open_loop.refreshes == verified.refreshes == [[DAY, 2 * DAY]]
    assert verified.energy_j[0]["refresh"] > open_loop.energy_j[0]["refresh"]
    assert verified.downtime_by_kind[0]["refresh"] > 2 * open_loop.downtime_by_kind[0]["refresh"]  # 10x
    assert open_loop.worn == [0]  # 3 open-loop programmings: 3 cycles < 4
    # 3 verified programmings: the devices rewritten in any round reach 4 pulses, the others not
    devices = sum(m.device_shape.numel() for m in analog.modules() if type(m).__name__ == "Tile")
    assert 0 < verified.worn[0] < devices


def test_resume_refuses_another_chip_model_data_or_epochs_and_fresh_starts_over(trained, tmp_path):
    """The checkpoint holds the whole chip, hashes of the weights and test data, and the epochs:
    a chip of the same name with another drift, other weights, other data or other epochs is
    refused with the differing entry named; fresh=True starts over with the new numbers."""
    model, test = trained
    base = load_chip("ibm-hermes-pcm")
    other = base.model_copy(update={"device": base.device.model_copy(update={"drift_scale": 10.0})})
    kwargs = dict(times=[1.0, DAY, 30 * DAY], repeats=1, seed=0, progress=False, checkpoint_dir=tmp_path)
    analog, _ = convert(model, base)
    simulate_lifetime(analog, test, base, "none", None, 30 * DAY, max_steps=1, training_epochs=60, **kwargs)
    analog_other, _ = convert(model, other)
    with pytest.raises(ValueError, match=r"chip\.device\.drift_scale \(checkpoint 1\.0, now 10\.0\)"):
        simulate_lifetime(analog_other, test, other, "none", None, 30 * DAY, training_epochs=60, **kwargs)
    with pytest.raises(ValueError, match=r"training_epochs \(checkpoint 60, now 30\)"):
        simulate_lifetime(analog, test, base, "none", None, 30 * DAY, training_epochs=30, **kwargs)
    changed = copy.deepcopy(model)
    with torch.no_grad():
        changed[0].bias.add_(1e-3)  # one weight group nudged
    analog_changed, _ = convert(changed, base)
    with pytest.raises(ValueError, match="model_sha256"):
        simulate_lifetime(analog_changed, test, base, "none", None, 30 * DAY, training_epochs=60, **kwargs)
    with pytest.raises(ValueError, match="data_sha256"):
        simulate_lifetime(analog, (test[0][:100], test[1][:100]), base, "none", None, 30 * DAY,
                          training_epochs=60, **kwargs)
    fresh = simulate_lifetime(analog_other, test, other, "none", None, 30 * DAY, training_epochs=60,
                              fresh=True, **kwargs)
    plain = simulate_lifetime(analog_other, test, other, "none", None, 30 * DAY, training_epochs=60,
                              **(kwargs | {"checkpoint_dir": None}))
    np.testing.assert_array_equal(fresh.accuracy, plain.accuracy)
    saved = json.loads((tmp_path / "lifetime.json").read_text())
    assert saved["config"]["chip"]["device"]["drift_scale"] == 10


def test_the_callers_model_is_left_as_it_was(trained):
    """Worn devices (endurance budget 1, a refresh) and hot reads happen on a copy."""
    model, test = trained
    chip = load_chip("ibm-hermes-pcm")
    analog, _ = convert(model, chip)
    program(analog, seed=11)
    before = accuracy(analog, test)
    tiles = [m for m in analog.modules() if type(m).__name__ == "Tile"]
    faults = [(t.faults, dict(t.fault_maps), t.device_model) for t in tiles]
    policy = LifetimePolicy(name="p", compensation="none", refresh=PeriodicRefresh(period_s=DAY))
    res = simulate_lifetime(analog, test, chip, policy, DailyCycle(), 1.5 * DAY, times=[1.5 * DAY],
                            endurance=Endurance(budget=1), progress=False)
    assert res.worn[0] > 0
    assert [(t.faults, dict(t.fault_maps), t.device_model) for t in tiles] == faults
    assert accuracy(analog, test) == before


def test_downtime_counts_reference_checks_and_calibration_reads(trained):
    """Checks read every reference cell (read_time_s each, an array's rows in parallel);
    calibrations read arrays (one MVM each, one array at a time): aimc.cost.calibration's rule."""
    from aimc.calibration import ProgramVerify
    from aimc.cost.timing import mvm_time

    model, test = trained
    chip = load_chip("ibm-hermes-pcm")
    analog, _ = convert(model, chip)
    tiles = [m for m in analog.modules() if type(m).__name__ == "Tile"]
    thr = simulate_lifetime(analog, test, chip, "threshold", ConstantTemperature(), 3 * DAY,
                            times=[3 * DAY], progress=False)
    from aimc.calibration import ReferenceBank, ReferenceCells

    banks = [ReferenceBank(t, ReferenceCells()) for t in tiles]
    cells = sum(b.devices for b in banks)
    kinds = thr.downtime_by_kind[0]
    assert thr.refreshes == [[]]
    np.testing.assert_allclose(kinds["reference_checks"],
                               3 * cells * ProgramVerify().read_time_s / chip.array.rows, rtol=1e-9)
    array_reads = sum(ReferenceCells().reads * b.row_arrays * b.col_arrays for b in banks)
    expected = (3 * 24 + 1) * array_reads * mvm_time(chip)
    np.testing.assert_allclose(kinds["calibration"], expected, rtol=1e-9)
    np.testing.assert_allclose(thr.downtime_s[0], kinds["reference_checks"] + kinds["calibration"])
    glob = simulate_lifetime(analog, test, chip, "global", ConstantTemperature(), DAY, times=[DAY],
                             progress=False)
    arrays = sum(t.row_arrays * t.array_grid[1] for t in tiles)
    vectors = tiles[0].compensation.vectors
    np.testing.assert_allclose(glob.downtime_s[0], (24 + 1) * vectors * arrays * mvm_time(chip), rtol=1e-9)


def test_a_temperature_table_shorter_than_the_duration_is_refused(trained):
    from aimc.devices.temperature import TemperatureTable

    model, test = trained
    chip = load_chip("ibm-hermes-pcm")
    analog, _ = convert(model, chip)
    table = TemperatureTable(times_s=[0, DAY], kelvin=[300, 320])
    with pytest.raises(ValueError, match="ends at 86400 s, before the duration"):
        simulate_lifetime(analog, test, chip, "none", table, 2 * DAY, times=[DAY], progress=False)
