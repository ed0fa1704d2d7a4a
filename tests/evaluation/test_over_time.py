import numpy as np
import pytest
import torch
from torch import nn

import aimc
from aimc.evaluation import accuracy, evaluate_over_time


def toy_problem():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(400, 20, generator=g)
    w = torch.randn(20, 4, generator=g)
    return x, (x @ w).argmax(1), w


def test_accuracy_on_tensors_and_batches():
    x, y, w = toy_problem()
    layer = nn.Linear(20, 4, bias=False)
    layer.weight.data = w.T.clone()
    assert accuracy(layer, (x, y)) == 1.0
    batches = [(x[i:i + 64], y[i:i + 64]) for i in range(0, 400, 64)]
    assert accuracy(layer, batches) == 1.0
    with pytest.raises(ValueError, match="differ in length"):
        accuracy(layer, (x, y[:10]))


def test_over_time_reproducible_and_repeats_are_distinct_chips(pcm_chip):
    x, y, w = toy_problem()
    layer = nn.Linear(20, 4, bias=False)
    layer.weight.data = w.T.clone()
    analog, _ = aimc.convert(layer, pcm_chip)
    times = [1.0, 86400.0]
    a = evaluate_over_time(analog, (x, y), times, repeats=4, seed=3, progress=False)
    b = evaluate_over_time(analog, (x, y), times, repeats=4, seed=3, progress=False)
    assert np.array_equal(a.accuracies, b.accuracies)
    assert a.accuracies.shape == (4, 2)
    assert len(set(a.seeds)) == 4
    assert a.std[0] > 0  # chip instances differ
    d = a.to_dict()
    assert d["times_s"] == times and len(d["accuracy_mean"]) == 2


def test_ideal_chip_accuracy_equals_digital(ideal_chip):
    x, y, w = toy_problem()
    model = nn.Sequential(nn.Linear(20, 16), nn.ReLU(), nn.Linear(16, 4))
    analog, _ = aimc.convert(model, ideal_chip)
    res = evaluate_over_time(analog, (x, y), [1.0, 3e7], repeats=2, progress=False)
    assert np.all(res.accuracies == accuracy(model, (x, y)))


def test_bad_arguments(ideal_chip):
    analog, _ = aimc.convert(nn.Linear(2, 2), ideal_chip)
    data = (torch.zeros(1, 2), torch.zeros(1, dtype=torch.long))
    with pytest.raises(ValueError, match="times"):
        evaluate_over_time(analog, data, [], progress=False)
    with pytest.raises(ValueError, match="times"):
        evaluate_over_time(analog, data, [-1.0], progress=False)
    with pytest.raises(ValueError, match="repeats"):
        evaluate_over_time(analog, data, [1.0], repeats=0, progress=False)
