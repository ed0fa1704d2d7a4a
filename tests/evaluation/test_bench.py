"""The benchmark suite: workloads trained once and cached, cells seeded by their names,
intervals over chip instances, the ideal chip reproducing the digital accuracy."""

import math

import pytest
import torch
from safetensors.torch import load_file

from aimc.data import digits
from aimc.evaluation import bench, workloads
from aimc.models import digits_cnn

TINY = workloads.Workload("tiny-digits", "demo CNN, 1 epoch", digits, digits_cnn, 1, (1, 1, 8, 8),
                          "scikit-learn", quick_test=100)


@pytest.fixture
def tiny(monkeypatch, tmp_path):
    monkeypatch.setitem(workloads.WORKLOADS, TINY.name, TINY)
    monkeypatch.setenv("AIMC_CACHE", str(tmp_path))
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield workloads.trained(TINY.name)
    torch.set_num_threads(before)


def test_a_workload_is_trained_once_then_loaded_from_its_cache(tiny, tmp_path):
    assert not tiny.cached
    again = workloads.trained(TINY.name)
    assert again.cached
    for key, value in tiny.model.state_dict().items():
        assert torch.equal(value, again.model.state_dict()[key])
    path = workloads.cache_path(TINY, 0)
    assert path.parent == tmp_path / "workloads" and path.is_file()
    assert set(load_file(path)) == set(tiny.model.state_dict())
    # another seed or recipe is another file
    assert workloads.cache_path(TINY, 1) != path
    longer = workloads.Workload(**{**TINY.__dict__, "epochs": 2})
    assert workloads.cache_path(longer, 0) != path
    assert len(tiny.test_set(quick=True)[1]) == 100 and len(tiny.test_set()[1]) == 360


def test_an_unreadable_cache_file_is_trained_again(tiny):
    path = workloads.cache_path(TINY, 0)
    path.write_bytes(b"not safetensors")
    again = workloads.trained(TINY.name)
    assert not again.cached and set(load_file(path)) == set(tiny.model.state_dict())
    assert not list(path.parent.glob("*.tmp"))  # no temporary file left behind


def test_unknown_workloads_and_missing_data_say_what_to_do(monkeypatch, tmp_path):
    with pytest.raises(KeyError, match="known: digits-cnn"):
        workloads.trained("cifar-1000")

    def absent():
        raise FileNotFoundError("no files here")

    monkeypatch.setitem(workloads.WORKLOADS, "gone", workloads.Workload(
        "gone", "", absent, digits_cnn, 1, (1, 1, 8, 8), "apt-get install some-package"))
    with pytest.raises(workloads.MissingData, match="some-package"):
        workloads.trained("gone", cache_dir=tmp_path)
    monkeypatch.setitem(workloads.WORKLOADS, TINY.name, TINY)
    with pytest.raises(workloads.MissingData, match="some-package"):  # before training the first
        bench.run_bench([TINY.name, "gone"], ["neurram"], cache_dir=tmp_path)
    assert not (tmp_path / "workloads").exists()


def test_mean_ci_is_students_t_interval():
    mean, half = bench.mean_ci([1.0, 2.0, 3.0])
    assert mean == 2.0 and half == pytest.approx(4.302653 / math.sqrt(3), rel=1e-6)  # t(0.975, 2)
    assert bench.mean_ci([0.5]) == (0.5, 0.0)
    with pytest.raises(ValueError):
        bench.mean_ci([])


def test_cell_seeds_depend_on_the_names_only():
    a = bench.cell_seed(0, "digits-cnn", "neurram")
    assert a == bench.cell_seed(0, "digits-cnn", "neurram")
    assert len({a, bench.cell_seed(1, "digits-cnn", "neurram"), bench.cell_seed(0, "mnist5k-mlp", "neurram"),
                bench.cell_seed(0, "digits-cnn", "ibm-hermes-pcm")}) == 4


def test_the_ideal_chip_gives_the_digital_accuracy_at_every_time(tiny):
    cell = bench.run_cell(tiny, "ideal", instances=2, quick=True, enob_instances=1)
    assert cell.instances == 2 and len(cell.accuracy[0]) == len(bench.TIMES)
    for label in bench.TIMES:
        assert cell.at(label) == (cell.digital_accuracy, 0.0)
    assert cell.test_images == 100
    assert all(bits > 15 for bits in cell.enob.values())  # float precision: ~20 effective bits


def test_a_noisy_chip_cell_is_reproducible_and_independent_of_the_other_cells(tiny):
    one = bench.run_cell(tiny, "ibm-hermes-pcm", instances=3, quick=True, enob_instances=1)
    seen = []
    suite = bench.run_bench([TINY.name], ["neurram", "ibm-hermes-pcm"], instances=3, quick=True,
                            on_cell=seen.append)
    assert [c.chip for c in suite] == ["neurram", "ibm-hermes-pcm"] and seen == suite
    assert suite[1].accuracy[:] == one.accuracy and suite[1].seed == one.seed
    acc = torch.tensor(one.accuracy)
    assert acc.std(dim=0).max() > 0  # instances differ: programming and read noise are on
    assert set(one.enob) == {"0", "2", "6", "8"}  # the analog layers of the demo CNN
    for key in ("energy_j", "latency_s", "tops_per_w"):
        figure = one.cost[key]
        assert 0 < figure["low"] <= figure["high"]
    assert one.cost["energy_breakdown_j"] and sum(one.cost["energy_breakdown_j"].values()) > 0
    header, rows = bench.table_rows(suite)
    assert len(rows) == 2 and len(rows[0]) == len(header)
    assert bench.markdown_table(suite).count("\n") == 3


def test_bad_names_fail_before_anything_is_trained(tmp_path, monkeypatch):
    monkeypatch.setenv("AIMC_CACHE", str(tmp_path))
    with pytest.raises(ValueError, match="unknown workload"):
        bench.run_bench(["nope"], ["neurram"])
    with pytest.raises(Exception, match="no-such-chip"):
        bench.run_bench(["digits-cnn"], ["no-such-chip"])
    assert not (tmp_path / "workloads").exists()


def test_several_training_seeds_give_intervals_over_the_networks_means(tiny):
    """``seeds=2``: two networks (seeds 0 and 1), each on its own chip instances; the first
    network's rows are those of a one-seed run, and the digital accuracy is the two networks'
    mean (all 360 test images: the two networks score differently)."""
    one = bench.run_bench([TINY.name], ["ibm-hermes-pcm"], instances=2)[0]
    (two,) = bench.run_bench([TINY.name], ["ibm-hermes-pcm"], instances=2, seeds=2)
    assert two.training_seeds == [0, 1] and two.instances == 2 and two.row_seeds == [0, 0, 1, 1]
    assert two.accuracy[:2] == one.accuracy and two.accuracy[2:] != one.accuracy
    assert two.seed == one.seed and bench.cell_seed(1, TINY.name, "ibm-hermes-pcm") != one.seed
    second = workloads.trained(TINY.name, seed=1)
    assert second.cached and second.seed == 1  # trained by the suite, under its own seed
    assert two.digital_by_seed[0] == one.digital_accuracy != two.digital_by_seed[1]
    mean, half = two.digital()
    assert mean == pytest.approx(sum(two.digital_by_seed) / 2) and half > 0
    header, rows = bench.table_rows([two])
    assert rows[0][2] == f"{100 * mean:.2f} ± {100 * half:.2f}"
    with pytest.raises(ValueError, match="distinct training seeds"):
        bench.run_cell([tiny, tiny], "ideal", instances=2)
    with pytest.raises(ValueError, match="seeds"):
        bench.run_bench([TINY.name], ["ideal"], seeds=0)


def test_an_interval_over_seeds_is_students_t_over_the_networks_means():
    """Rows of two networks (3 instances each): the interval is t(0.975, 1) times the standard
    error of the two per-network means, not of the six rows."""
    rows = [[0.90], [0.92], [0.94], [0.80], [0.81], [0.79]]
    cell = bench.BenchCell("w", "c", 0, 100, 0.9, {"1 s": 1.0}, rows, {}, {}, [0, 0, 0, 1, 1, 1], [0.9, 0.8])
    mean, half = cell.at("1 s")
    means = [0.92, 0.80]
    sd = abs(means[0] - means[1]) / math.sqrt(2)
    assert mean == pytest.approx(0.86) and half == pytest.approx(12.7062047 * sd / math.sqrt(2), rel=1e-6)
    assert half != pytest.approx(bench.mean_ci([r[0] for r in rows])[1])
    assert cell.instances == 3 and cell.training_seeds == [0, 1]
    assert cell.digital() == pytest.approx((0.85, 12.7062047 * 0.05))  # sd 0.1/√2, se 0.05


def test_the_ideal_chip_with_several_seeds_gives_each_networks_digital_accuracy(tiny):
    (cell,) = bench.run_bench([TINY.name], ["ideal"], instances=2, quick=True, seeds=2)
    for label in bench.TIMES:
        assert cell.at(label) == pytest.approx(cell.digital())


def test_a_workload_can_cap_its_full_test_set(monkeypatch, tmp_path):
    capped = workloads.Workload(**{**TINY.__dict__, "name": "tiny-capped", "full_test": 50})
    monkeypatch.setitem(workloads.WORKLOADS, capped.name, capped)
    split = digits()
    net = workloads.Trained(capped, digits_cnn(), split, cached=False)
    assert len(net.test_set()[1]) == 50 and len(net.test_set(quick=True)[1]) == 100


def test_the_quick_suite_leaves_out_the_keyword_spotter_and_the_vit():
    assert "kws-gru" in bench.suite_workloads() and "kws-gru" not in bench.suite_workloads(quick=True)
    assert "fashion-vit" in bench.suite_workloads() and "fashion-vit" not in bench.suite_workloads(quick=True)
    vit = workloads.WORKLOADS["fashion-vit"]
    assert (vit.epochs, vit.lr, vit.batch_size, vit.full_test) == (3, 4e-3, 128, 2000)
    assert sum(p.numel() for p in vit.build().parameters()) == pytest.approx(105e3, rel=0.05)
    assert bench.suite_workloads(quick=True) == ["digits-cnn", "mnist5k-mlp", "mnist5k-cnn", "fashion-cnn"]


def test_keyword_split_holds_out_whole_voices(monkeypatch, tmp_path):
    """The keyword workload's data: synthetic clips split by voice, training and validation
    voices for training, two held-out voices for test (a tiny set: 3 clips per class)."""
    import shutil

    if not (shutil.which("espeak-ng") and shutil.which("sox")):
        pytest.skip("espeak-ng and sox (Debian) make the keyword clips")
    monkeypatch.setenv("AIMC_CACHE", str(tmp_path))
    split = workloads.keyword_split(n_per_class=3)
    assert split.x_train.shape[1:] == (98, 40) and split.x_test.shape[1:] == (98, 40)
    assert len(split.y_train) + len(split.y_test) == 36 and len(split.y_test) > 0
    assert split.y_train.dtype == torch.int64 and int(split.y_train.max()) <= 11
