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
    assert np.abs(z).max() <= math.sqrt(-2 * math.log(2.0**-24)) + 1e-5  # 24-bit uniforms: |z| <= 5.77


def test_consecutive_numbers_and_streams_are_uncorrelated():
    z = draw()
    limit = 5 / math.sqrt(N)
    for lag in (1, 2, 3, 65536):  # lag 1 holds a cosine number and the sine of its own pair
        assert abs(np.corrcoef(z[:-lag], z[lag:])[0, 1]) < limit
    other = draw(key=12)
    assert abs(np.corrcoef(z, other)[0, 1]) < limit
    assert abs(np.corrcoef(z ** 2, np.roll(z, 1) ** 2)[0, 1]) < limit  # not only linearly


def test_a_draw_is_a_function_of_key_and_counter():
    # numbers 2j and 2j + 1 are the cosine and sine numbers of pair start + j
    whole = draw(1000, key=5, start=0)
    head = draw(600, key=5, start=0)
    rest = draw(400, key=5, start=300)
    assert np.array_equal(np.concatenate([head, rest]), whole)  # pairs by their counter
    assert np.array_equal(draw(999, key=5), whole[:999])  # an odd last number: a cosine number
    assert np.array_equal(draw(1, key=5, start=7), whole[14:15])
    assert not np.array_equal(draw(1000, key=6), whole)
    out = np.empty(0, dtype=np.float32)
    assert fill(out, 5, 0) == 0 and fill(np.empty(7, dtype=np.float32), 5, 0) == 4


def _uniforms_by_numpy(key: int, start: int, pairs: int) -> tuple[np.ndarray, np.ndarray]:
    """The model's uniforms, written independently of the compiled code: SplitMix64 of
    ``key + i·φ``, ``u1 = (2a + 1)/2^24`` from its high 23 bits, ``u2 = b/2^24`` from the 24 below."""
    with np.errstate(over="ignore"):
        counters = np.uint64(start) + np.arange(pairs, dtype=np.uint64)
        h = np.uint64(key) + counters * np.uint64(0x9E3779B97F4A7C15)
        h = (h ^ (h >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        h = (h ^ (h >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        h = h ^ (h >> np.uint64(31))
    u1 = ((h >> np.uint64(41)) * np.uint64(2) + np.uint64(1)).astype(np.float64) / 2.0**24
    u2 = ((h >> np.uint64(17)) & np.uint64(0xFFFFFF)).astype(np.float64) / 2.0**24
    return u1, u2


def test_the_polynomial_transform_matches_the_library_box_muller():
    """The float32 polynomials against float64 log, cos and sin of the same uniforms: at most
    1e-6 apart (the float32 rounding of |z| < 5.8 alone is up to 2.4e-7), on 2 M numbers
    that cover every quadrant and exponent of the transform."""
    pairs = N // 2
    z = draw(N, key=11, start=12345)
    u1, u2 = _uniforms_by_numpy(11, 12345, pairs)
    radius = np.sqrt(-2.0 * np.log(u1))
    exact = np.empty(N)
    exact[0::2] = radius * np.cos(2 * np.pi * u2)
    exact[1::2] = radius * np.sin(2 * np.pi * u2)
    assert np.abs(z - exact).max() < 1e-6


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
    other = NormalSource(seed=9, method="torch")  # the state switches it to the counter stream
    other.set_state(state)
    assert other.method == "counter" and torch.equal(other.draw((5,)), first)
    plain = NormalSource(seed=2, method="torch")
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
