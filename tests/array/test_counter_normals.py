"""The counter-based normal numbers (aimc.array.counter_normals): distribution, independence,
reproducibility, and their use as a tile's read noise."""

import math

import numpy as np
import pytest
import torch
from scipy import stats

import aimc
from aimc.array import NormalSource
from aimc.array.counter_normals import fill
from aimc.chips import load_chip

N = 1 << 21  # 2 M numbers: the std of a moment estimate is ~sqrt(var/N)


def draw(n=N, key=11, start=0):
    out = np.empty(n, dtype=np.float32)
    fill(out, key, start)
    return out.astype(np.float64)


def test_moments_and_tail_of_a_standard_normal():
    z = draw()
    se = 1 / math.sqrt(N)
    assert abs(z.mean()) < 5 * se
    assert abs(z.var() - 1) < 5 * math.sqrt(2) * se  # var of s^2 is 2/N
    assert abs((z ** 3).mean()) < 5 * math.sqrt(15) * se
    assert abs((z ** 4).mean() - 3) < 5 * math.sqrt(96) * se
    tail = np.mean(np.abs(z) > 3)
    p = 2 * stats.norm.sf(3)
    assert abs(tail - p) < 5 * math.sqrt(p / N)
    assert stats.kstest(z[:200_000], "norm").pvalue > 1e-3
    assert np.abs(z).max() < 6.0  # 24-bit uniforms: |z| <= 5.9


def test_consecutive_numbers_and_streams_are_uncorrelated():
    z = draw()
    limit = 5 / math.sqrt(N)
    for lag in (1, 2, 3, 65536):  # 65536: a cosine number and the sine of its own pair
        assert abs(np.corrcoef(z[:-lag], z[lag:])[0, 1]) < limit
    other = draw(key=12)
    assert abs(np.corrcoef(z, other)[0, 1]) < limit
    assert abs(np.corrcoef(z ** 2, np.roll(z, 1) ** 2)[0, 1]) < limit  # not only linearly


def test_a_draw_is_a_function_of_key_and_counter():
    # a draw of 2m numbers (m pairs, one chunk) holds the m cosine numbers, then the m sine ones
    whole = draw(1000, key=5, start=0).reshape(2, 500)
    head = draw(600, key=5, start=0).reshape(2, 300)
    rest = draw(400, key=5, start=300).reshape(2, 200)
    assert np.array_equal(np.concatenate([head, rest], axis=1), whole)  # pairs by their counter
    assert np.array_equal(draw(1000, key=5).reshape(2, 500), whole)
    assert not np.array_equal(draw(1000, key=6).reshape(2, 500), whole)


def test_normal_source_counter_method_resumes_and_rejects_unknown_methods():
    src = NormalSource(seed=3, method="counter")
    first = src.draw((5, 7)).clone()
    state = src.get_state()
    second = src.draw((9,)).clone()
    src.set_state(state)
    assert torch.equal(src.draw((9,)), second)
    src.seed(3)
    assert torch.equal(src.draw((5, 7)), first)
    with pytest.raises(ValueError, match="torch' or 'counter"):
        NormalSource(method="mt")


def test_tile_read_noise_from_the_counter_sampler_has_the_same_law():
    layer = torch.nn.Linear(256, 64)
    x = torch.rand(512, 256, generator=torch.Generator().manual_seed(0))
    spread = {}
    for method in ("torch", "counter"):
        analog, _ = aimc.convert(layer, load_chip("ibm-hermes-pcm"))
        aimc.nn.set_noise_sampler(analog, method)
        aimc.program(analog, seed=0)
        aimc.drift(analog, 86400.0)
        with torch.no_grad():
            reads = torch.stack([analog(x) for _ in range(8)])
        spread[method] = reads.std(0).pow(2).mean().sqrt().item()  # rms read-to-read std
        again = aimc.program(analog, seed=0)
        aimc.drift(again, 86400.0)
        with torch.no_grad():
            assert torch.equal(again(x), reads[0])  # seeded: the same numbers
    # 512*64 outputs x 7 degrees of freedom: the rms std is known to well under 1 %
    assert spread["counter"] == pytest.approx(spread["torch"], rel=0.03)
    with pytest.raises(ValueError, match="noise sampler"):
        aimc.nn.set_noise_sampler(analog, "fast")


def test_empty_draws_and_states_that_carry_their_method():
    src = NormalSource(seed=1, method="counter")
    assert src.draw((0, 4)).shape == (0, 4)
    state = src.get_state()
    assert state.shape == NormalSource(seed=1).get_state().shape  # checkpoints keep their layout
    first = src.draw((5,)).clone()
    other = NormalSource(seed=9)  # torch method: the state switches it to the counter stream
    other.set_state(state)
    assert other.method == "counter" and torch.equal(other.draw((5,)), first)
    plain = NormalSource(seed=2)
    saved = plain.get_state()
    src.set_state(saved)
    assert src.method == "torch" and torch.equal(src.draw((3,)), plain.draw((3,)))


def test_counter_sampler_reads_an_empty_batch():
    layer = torch.nn.Linear(5, 3)
    analog, _ = aimc.convert(layer, load_chip("neurram"))
    aimc.nn.set_noise_sampler(analog, "counter")
    aimc.program(analog, seed=0)
    with torch.no_grad():
        assert analog(torch.randn(0, 5)).shape == (0, 3)
