"""Stochastic pulse-train update: the fast count sampler against the exact slot-by-slot
simulation (Gokmen & Vlasov 2016), and the sampler's own laws against their formulas."""

import math

import pytest
import torch

from aimc.array import CoincidenceSampler, PulseUpdate, pulse_kernels, pulse_probabilities, pulsed_update
from aimc.array.pulse_update import (
    SharedTrainSampler,
    expected_coincidences,
    pulsed_update_exact,
    transfer_update,
)
from aimc.devices import ConstantStep, ExpStep, SoftBounds

NO_D2D = dict(dw_min_dtod=0.0, up_down_dtod=0.0, w_max_dtod=0.0, w_min_dtod=0.0)


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def test_expected_update_is_the_sgd_update_and_management_balances_probabilities():
    g = gen()
    x, d = torch.rand(5, 7, generator=g), torch.randn(5, 3, generator=g) * 0.01
    cfg = PulseUpdate(bl=31)
    p, q = pulse_probabilities(x, d, lr=0.05, dw_min=0.001, config=cfg)
    assert p.abs().max() < 1 and q.abs().max() < 1  # no clipping at this learning rate
    torch.testing.assert_close(p.abs().amax(1), q.abs().amax(1))  # update management
    up, down = expected_coincidences(p, q, cfg.bl)
    torch.testing.assert_close((up - down) * 0.001, -0.05 * d.T @ x, rtol=1e-4, atol=1e-7)
    # signed inputs take the general path and give the same means
    up2, down2 = expected_coincidences(torch.cat([p, -p]), torch.cat([q, -q]), cfg.bl)
    torch.testing.assert_close(up2, 2 * up)
    torch.testing.assert_close(down2, 2 * down)


@pytest.mark.parametrize("mu", [0.01, 0.3, 0.9, 1.0, 1.5, 3.0, 10.0, 300.0])
def test_sampler_counts_have_poisson_moments_with_step_noise_folded_in(mu):
    n, c2c = 200_000, 0.3
    n_up, n_down = CoincidenceSampler(n).sample(torch.full((n,), mu), torch.full((n,), mu / 3), gen(1), c2c)
    for counts, m in ((n_up, mu), (n_down, mu / 3)):
        var = m * (1 + c2c**2)
        c = counts.double()
        assert abs(c.mean().item() - m) < 5 * math.sqrt(var / n)
        m4 = ((c - m) ** 4).mean().item()  # SE of a variance: sqrt((m4 - var²) / n)
        assert abs(c.var().item() - var) < 5 * math.sqrt((m4 - var**2) / n)
        assert (counts >= 0).all() and len(counts.unique()) <= 3
        if m <= 1 - c2c**2:  # integer pulse counts where most devices are
            assert set(counts.unique().tolist()) <= {0.0, 1.0, 2.0}
        if m >= 3 * (1 + c2c**2):  # Gauss-Hermite: the fourth moment of a normal law
            assert abs(m4 / (3 * var**2) - 1) < 0.02


@pytest.mark.parametrize("c2c", [0.0, 0.3, 1.0])
def test_count_law_is_valid_over_six_decades_of_means(c2c):
    n = 20_000
    s, g = CoincidenceSampler(n), gen(7)
    for mu in torch.logspace(-3, 3, 25).tolist():
        counts = s.sample(torch.full((n,), mu), torch.zeros(n), g, c2c)[0].double()
        var = mu * (1 + c2c**2)
        assert counts.min() >= 0
        assert abs(counts.mean().item() - mu) < 6 * math.sqrt(var / n), mu
        if mu > 0.01:  # (below, a few hundred pulses in all: the variance is not resolved)
            dev2, m4 = ((counts - mu) ** 2).mean().item(), ((counts - mu) ** 4).mean().item()
            assert abs(dev2 - var) <= 6 * math.sqrt(max(m4 - var**2, 0.0) / n) + 1e-9 * var, mu


def test_counter_based_bits_are_uniform_and_fresh_every_call():
    n = 100_000
    s, g = CoincidenceSampler(n), gen(2)
    first = s.sample(torch.full((n,), 0.5), torch.zeros(n), g)[0].clone()
    second = s.sample(torch.full((n,), 0.5), torch.zeros(n), g)[0].clone()
    # three-point law at mu = 0.5 (no step noise): P(0) = 0.625, P(1) = 0.25, P(2) = 0.125
    for counts in (first, second):
        freq = torch.bincount(counts.long(), minlength=3).double() / n
        torch.testing.assert_close(freq, torch.tensor([0.625, 0.25, 0.125], dtype=torch.float64),
                                   rtol=0, atol=0.006)  # 4 SE
    corr = torch.corrcoef(torch.stack([first, second]))[0, 1].item()
    assert abs(corr) < 0.015  # independent calls: |r| < 4.7 / sqrt(n)
    neighbours = torch.corrcoef(torch.stack([first[:-1], first[1:]]))[0, 1].item()
    assert abs(neighbours) < 0.015


def _moments_against_exact(device, lr, replicas, bl=31, batch=4, signed=False, sampler="independent"):
    g = gen(3)
    x, d = torch.rand(batch, 3, generator=g), torch.randn(batch, 2, generator=g)
    if signed:  # inputs of both signs: four probability products instead of two
        x = x - 0.5
    cfg = PulseUpdate(bl=bl, sampler=sampler)
    state = device.draw((2, 3), g)
    w0 = torch.full((2, 3), 0.2)
    if sampler == "independent":  # replicas side by side are independent devices of one wide array
        wide = w0.repeat(1, replicas).contiguous()
        wide_state = {k: v.repeat(1, replicas).contiguous() for k, v in state.items()}
        pulsed_update(wide, wide_state, device, x.repeat(1, replicas), d, lr, cfg, g)
        fast = (wide - w0.repeat(1, replicas)).view(2, replicas, 3).transpose(0, 1)
    else:  # shared trains: one array per replica (side by side they would share column trains)
        fast = []
        for _ in range(replicas):
            w = w0.clone()
            pulsed_update(w, state, device, x, d, lr, cfg, g)
            fast.append(w - w0)
        fast = torch.stack(fast)
    exact = pulsed_update_exact(w0.expand(replicas, 2, 3), state, device, x, d, lr, cfg, g) - w0
    p, q = pulse_probabilities(x, d, lr, device.dw_min, cfg)
    max_pq = (q.abs()[:, :, None] * p.abs()[:, None, :]).max().item()
    return fast, exact, max_pq


@pytest.mark.parametrize("device", [ConstantStep(**NO_D2D), SoftBounds(**NO_D2D)])
@pytest.mark.parametrize(("lr", "signed"), [(0.0005, False), (0.0025, False), (0.0025, True)])
def test_fast_update_matches_slot_by_slot_simulation(device, lr, signed):  # mean counts up to ~2, ~12
    replicas = 4000
    fast, exact, max_pq = _moments_against_exact(device, lr=lr, replicas=replicas, signed=signed)
    assert max_pq < 0.1  # the regime of the Poisson approximation
    se = ((fast.var(0) + exact.var(0)) / replicas).sqrt()
    assert ((fast.mean(0) - exact.mean(0)).abs() < 5 * se).all()
    ratio = fast.var(0) / exact.var(0)  # Poisson over-estimates by at most max pq
    assert (ratio > 0.85).all() and (ratio < 1.15 + max_pq).all(), ratio


@pytest.mark.parametrize("device", [ConstantStep(**NO_D2D), SoftBounds(**NO_D2D), ExpStep(**NO_D2D)])
@pytest.mark.parametrize(("lr", "signed"), [(0.0025, False), (0.0025, True), (0.02, False)])
def test_shared_trains_have_the_mean_and_per_device_variance_of_the_reference(device, lr, signed):
    # lr 0.02: p q up to ~0.5, where the independent sampler's Poisson variance would be 2x too large
    replicas = 2500
    fast, exact, _ = _moments_against_exact(device, lr=lr, replicas=replicas, signed=signed, sampler="shared")
    se = ((fast.var(0) + exact.var(0)) / replicas).sqrt()
    assert ((fast.mean(0) - exact.mean(0)).abs() < 5 * se).all()
    ratio = fast.var(0) / exact.var(0)  # relative SE of a variance ratio ~sqrt(4 / replicas) = 0.04
    assert (ratio > 0.8).all() and (ratio < 1.25).all(), ratio


def _column_sums(sampler, x, d, lr, state, device, replicas, g):
    runs = []
    for _ in range(replicas):
        w = torch.zeros(d.shape[1], x.shape[1])
        pulsed_update(w, state, device, x, d, lr, PulseUpdate(sampler=sampler), g)
        runs.append(w.sum(1))  # the summed update of each column train
    return torch.stack(runs).double()


def test_summed_update_of_a_column_train_has_the_variance_of_the_slot_by_slot_simulation():
    # 40 rows with inputs of one sign: the devices of one column share its train, so their
    # updates are positively correlated and the variance of their sum is many times the sum of
    # their variances (the reference's factor is printed in the assert message). Shared trains
    # reproduce it; the independent sampler has the sum of the variances only.
    device = ConstantStep(dw_min_std=0.0, **NO_D2D)
    g = gen(30)
    x, d = torch.rand(4, 40, generator=g), torch.randn(4, 3, generator=g) * 0.1
    lr, replicas = 0.01, 1500
    state = device.draw((3, 40), g)
    exact = pulsed_update_exact(torch.zeros(replicas, 3, 40), state, device, x, d, lr, PulseUpdate(), g)
    ref = exact.sum(2).double().var(0)
    factor = (ref / exact.double().var(0).sum(1)).min().item()
    assert factor > 3, factor
    shared = _column_sums("shared", x, d, lr, state, device, replicas, g).var(0) / ref
    independent = _column_sums("independent", x, d, lr, state, device, replicas, g).var(0) / ref
    # a ratio of two variances of 1500 draws each: relative SE ~ sqrt(4 / 1500) = 0.05
    assert (shared > 0.8).all() and (shared < 1.25).all(), (shared, factor)
    assert (independent < 1.5 / factor).all(), (independent, factor)


@pytest.mark.parametrize("device", [ConstantStep(), SoftBounds(), SoftBounds(dw_min=0.1), ExpStep()])
def test_compiled_update_is_the_device_response_to_the_drawn_counts(device):
    # one compiled pass (counts + response) against the counts drawn with the same key and the
    # torch device response. dw_min = 0.1 drives the soft-bounds relaxation rate past 1 (the
    # exact second pass); ExpStep has no compiled response (counts, then torch)
    g = gen(8)
    shape = (64, 300)
    state = device.draw(shape, g)
    w0 = device.clip(torch.randn(shape, generator=g) * 0.5, state)
    mu_up, mu_down = torch.rand(shape, generator=g) * 4, torch.rand(shape, generator=g) ** 3 * 20
    s = CoincidenceSampler(w0.numel())
    fused = w0.clone()
    s.update(fused, state, device, mu_up, mu_down, gen(9))
    n_up, n_down = s.sample(mu_up, mu_down, gen(9), device.dw_min_std)  # same key, same counts
    flat_state = {k: v.reshape(-1) for k, v in state.items()}
    reference = device.apply(w0.reshape(-1), n_up, n_down, flat_state).view(shape)
    assert (fused != w0).float().mean() > 0.5
    if device.dw_min == 0.1:  # both passes of the soft-bounds response are exercised
        rate = n_up * flat_state["rate_up"] + n_down * flat_state["rate_down"]
        assert 0.1 < (rate >= 1).float().mean() < 0.9
    # float32 arithmetic in another order on weight changes of up to ~1
    torch.testing.assert_close(fused, reference, rtol=2e-5, atol=2e-6)


def test_soft_bounds_exponents_at_one_in_float32_are_not_lost_between_the_two_passes():
    # counts are 0 or 2 (mean 1, no step noise); with these rates a device given two pulses each
    # way has lam = 2 r_up + 2 r_down = 1 - 2^-26 exactly, which float32 rounds up to 1
    n, r_up, r_down = 4000, 0.5 - 2.0**-25, 3 * 2.0**-27
    state = {"w_min": -torch.ones(n), "w_max": torch.ones(n), "rate_up": torch.full((n,), r_up),
             "rate_down": torch.full((n,), r_down)}
    device = SoftBounds(dw_min_std=0.0)
    s = CoincidenceSampler(n)
    w = torch.zeros(n)
    s.update(w, state, device, torch.ones(n), torch.ones(n), gen(17))
    n_up, n_down = s.sample(torch.ones(n), torch.ones(n), gen(17))
    both = (n_up == 2) & (n_down == 2)
    assert both.sum() > 500
    lam = 2 * r_up + 2 * r_down
    expected = (2 * r_up - 2 * r_down) * -math.expm1(-lam) / lam  # from w = 0 towards the bounds
    torch.testing.assert_close(w[both], torch.full((int(both.sum()),), expected))
    assert ((w != 0) == ((n_up + n_down) > 0)).all()


def test_relaxation_factor_matches_expm1_below_one():
    lam = torch.linspace(0, 1, 1001)[:-1]  # larger rates take the exact second pass
    got = torch.tensor([pulse_kernels._relax.py_func(v) for v in lam.float().numpy()])
    ref = torch.where(lam > 0, -torch.expm1(-lam.double()) / lam.double().clamp(min=1e-300), 1.0)
    torch.testing.assert_close(got.double(), ref, rtol=3e-7, atol=0)


def test_single_sample_updates_are_exact_binomial_counts():
    dev = ConstantStep(dw_min_std=0.0, **NO_D2D)
    g = gen(4)
    n = 50_000
    w = torch.zeros(3, n)
    state = dev.draw(w.shape, g)
    x = torch.ones(1, n)  # one sample: every device's coincidences come from it
    d = torch.tensor([[0.5, -1.0, 0.0]])
    cfg = PulseUpdate(bl=31, sampler="independent")  # across devices of one column: its own counts
    pulsed_update(w, state, dev, x, d, lr=0.01, config=cfg, generator=g)
    p, q = pulse_probabilities(x, d, 0.01, dev.dw_min, cfg)
    for j in range(2):
        prob = (p.abs()[0, 0] * q.abs()[0, j]).item()
        steps = w[j] / dev.dw_min
        sign = -1 if d[0, j] > 0 else 1
        assert abs(steps.mean().item() - sign * 31 * prob) < 5 * math.sqrt(31 * prob * (1 - prob) / n)
        assert abs(steps.var().item() / (31 * prob * (1 - prob)) - 1) < 0.04
    assert (w[2] == 0).all()


def test_transfer_counts_are_exact_binomials():
    dev = ConstantStep(dw_min_std=0.0, **NO_D2D)
    n = 40_000
    w = torch.zeros(3, n)
    state = dev.draw(w.shape, gen(12))
    values = torch.tensor([[0.02, -0.04, 0.0]]).expand(n, 3)  # the same column added n times
    cfg = PulseUpdate(bl=31)
    transfer_update(w, state, dev, torch.arange(n), values, 1.0, cfg, gen(13))
    # update management for a one-hot row: p = min(sqrt(s v_max), 1), q_j = min(|v_j| sqrt(s / v_max), 1)
    scale, vmax = 1.0 / (31 * dev.dw_min), 0.04
    p = min(math.sqrt(scale * vmax), 1.0)
    prob = p * 0.02 * math.sqrt(scale / vmax)
    assert 0.3 < prob < 0.9
    steps = w[0] / dev.dw_min  # up: the value is positive
    assert abs(steps.mean().item() - 31 * prob) < 5 * math.sqrt(31 * prob * (1 - prob) / n)
    assert abs(steps.var().item() / (31 * prob * (1 - prob)) - 1) < 0.05  # SE of a variance ~0.01
    assert torch.equal(steps, steps.round()) and steps.max() <= 31
    assert w[1].unique().numel() == 1  # p q clipped to 1: every slot pulses, no spread
    torch.testing.assert_close(w[1, 0].item(), -31 * dev.dw_min)
    assert (w[2] == 0).all()


@pytest.mark.parametrize("bl", [255, 1000])
def test_transfer_counts_stay_binomial_for_long_pulse_trains(bl):
    # p = 1 and q = (1, 0.6, 0.95): for BL = 1000 the probability of no pulse, 0.4^1000, is below
    # the smallest double (an inversion from zero would give every device BL pulses)
    dev = ConstantStep(dw_min_std=0.0, **NO_D2D)
    n = 20_000
    w = torch.zeros(3, n)
    state = dev.draw(w.shape, gen(18))
    values = torch.tensor([[1.0, 0.6, 0.95]]).expand(n, 3)
    lr = bl * dev.dw_min  # scale · max|value| = 1: p = 1, q = |value|
    transfer_update(w, state, dev, torch.arange(n), values, lr, PulseUpdate(bl=bl), gen(19))
    counts = (w / dev.dw_min).round()
    assert (counts[0] == bl).all()
    for j, prob in ((1, 0.6), (2, 0.95)):
        var = bl * prob * (1 - prob)
        assert abs(counts[j].mean().item() - bl * prob) < 5 * math.sqrt(var / n)
        assert abs(counts[j].var().item() / var - 1) < 0.07  # SE of a variance ~0.01


@pytest.mark.parametrize("device", [ConstantStep(dw_min=0.01), SoftBounds(dw_min=0.01)])
@pytest.mark.parametrize("managed", [True, False])
def test_compiled_transfer_is_the_device_response_to_its_own_counts_and_normals(device, managed):
    # the counts and normals rebuilt from the same keys with the kernel's own samplers, then the
    # torch device response (steps at the present weight, both directions, clipping)
    out, n_in, cols = 24, 30, torch.tensor([3, 7, 29, 0])
    g = gen(20)
    state = device.draw((out, n_in), g)
    w0 = device.clip(torch.rand(out, n_in, generator=g) * 1.8 - 0.9, state)
    values = torch.randn(len(cols), out, generator=g) * 0.1
    values[:, :3] = 2.0  # saturated probabilities: every slot pulses, weights reach the bounds
    cfg, lr = PulseUpdate(update_management=managed), 0.5
    w = w0.clone()
    transfer_update(w, state, device, cols, values, lr, cfg, gen(21))
    g21 = gen(21)
    keys = [int(torch.randint(0, 2**32 - 1, (1,), dtype=torch.int64, generator=g21)) for _ in range(3)]
    scale = lr / (cfg.bl * device.dw_min)
    counts, normals = torch.zeros(out, len(cols)), torch.zeros(out, len(cols))
    for k, c in enumerate(cols.tolist()):
        vmax = values[k].abs().max().item()
        cx, cd = (math.sqrt(scale * vmax), math.sqrt(scale / vmax)) if managed else (math.sqrt(scale),) * 2
        for j in range(out):
            index = j * n_in + c
            prob = min(cx, 1.0) * min(abs(values[k, j].item()) * cd, 1.0)
            counts[j, k] = pulse_kernels._binomial(cfg.bl, prob, pulse_kernels._uniform32(index, keys[0]))
            u1, u2 = (pulse_kernels._uniform32(index, key) for key in keys[1:])
            normals[j, k] = math.sqrt(-2 * math.log(u1)) * math.cos(2 * math.pi * u2)
    up = values.T > 0
    sub = {key: v[:, cols] for key, v in state.items()}
    n_up, n_down = torch.where(up, counts, 0.0), torch.where(up, 0.0, counts)
    expected = device.apply(w0[:, cols], n_up, n_down, sub, normals)
    expected = torch.where(counts > 0, expected, w0[:, cols])
    torch.testing.assert_close(w[:, cols], expected, rtol=1e-5, atol=1e-6)
    assert (counts > 0).float().mean() > 0.5 and (counts < cfg.bl).any()
    assert ((w == state["w_max"]) | (w == state["w_min"])).any()  # clipping exercised
    others = torch.ones(n_in, dtype=torch.bool)
    others[cols] = False
    assert torch.equal(w[:, others], w0[:, others])
    with pytest.raises(ValueError, match="distinct"):
        transfer_update(w, state, device, torch.tensor([1, 1]), values[:2], lr, cfg, g)
    with pytest.raises(ValueError, match=r"lie in \[0, 30\)"):
        transfer_update(w, state, device, torch.tensor([30]), values[:1], lr, cfg, g)
    with pytest.raises(ValueError, match="non-finite"):
        transfer_update(w, state, device, cols, values * float("nan"), lr, cfg, g)


@pytest.mark.parametrize("device", [ConstantStep(**NO_D2D), SoftBounds(**NO_D2D)])
def test_compiled_transfer_has_the_statistics_of_the_tensor_path(device):
    # float64 weights take the tensor path (torch.binomial, explicit normals, device.apply)
    n = 20_000
    w0 = torch.tensor([0.3, -0.2, 0.0, 0.5])[:, None].expand(4, n).contiguous()
    state = device.draw(w0.shape, gen(14))
    values = torch.tensor([[0.01, -0.03, 0.02, -0.005]]).expand(n, 4)
    compiled, tensor = w0.clone(), w0.double()
    transfer_update(compiled, state, device, torch.arange(n), values, 1.0, PulseUpdate(), gen(15))
    transfer_update(tensor, {k: v.double() for k, v in state.items()}, device, torch.arange(n),
                    values.double(), 1.0, PulseUpdate(), gen(16))
    a, b = (compiled - w0).double(), tensor - w0.double()
    se = ((a.var(1) + b.var(1)) / n).sqrt()
    assert ((a.mean(1) - b.mean(1)).abs() < 5 * se).all()
    assert ((a.var(1) / b.var(1) - 1).abs() < 0.08).all()  # SE of the ratio ~sqrt(4/n) = 0.014, x1.5 kurtosis
    assert (a.abs().sum(1) > 0).all()


@pytest.mark.parametrize(("sampler", "dev"), [("independent", ConstantStep()),
                                             ("shared", ConstantStep(dw_min_std=0.0))])
def test_double_precision_weights_take_the_generic_path(sampler, dev):
    # shared trains: the same counts; the step noise differs (torch normals vs the compiled law)
    g = gen(10)
    state = {k: v.double() for k, v in dev.draw((20, 300), g).items()}
    w32, w64 = torch.zeros(20, 300), torch.zeros(20, 300, dtype=torch.float64)
    x, d = torch.rand(8, 300, generator=g), torch.randn(8, 20, generator=g) * 0.1
    cfg = PulseUpdate(sampler=sampler)
    pulsed_update(w32, {k: v.float() for k, v in state.items()}, dev, x, d, 0.01, cfg, gen(11))
    pulsed_update(w64, state, dev, x, d, 0.01, cfg, gen(11))
    assert w64.dtype == torch.float64 and w32.abs().sum() > 0
    torch.testing.assert_close(w64.float(), w32, rtol=1e-5, atol=1e-7)  # same counts, same steps


@pytest.mark.parametrize("device", [ConstantStep(), SoftBounds(), SoftBounds(dw_min=0.1)])
def test_compiled_response_to_shared_train_counts_is_the_device_response(device):
    # the counts drawn with the same keys, then the torch response; without step noise the two
    # agree up to float32 order; dw_min = 0.1 takes soft-bounds devices through the exact pass
    device = device.model_copy(update={"dw_min_std": 0.0})
    g = gen(22)
    shape = (40, 300)
    state = device.draw(shape, g)
    w0 = device.clip(torch.randn(shape, generator=g) * 0.5, state)
    x, d = torch.rand(16, 300, generator=g), torch.randn(16, 40, generator=g)
    lr = 0.5 if device.dw_min == 0.1 else 0.02
    cfg = PulseUpdate()
    sampler = SharedTrainSampler(shape)
    p, q = pulse_probabilities(x, d, lr, device.dw_min, cfg)
    n_up, n_down = sampler.counts(p, q, cfg.bl, gen(23))
    fused = w0.clone()
    pulsed_update(fused, state, device, x, d, lr, cfg, gen(23), sampler=sampler)
    reference = device.apply(w0, n_up, n_down, state)
    assert (n_up + n_down > 0).float().mean() > 0.3
    if device.dw_min == 0.1:
        assert ((n_up * state["rate_up"] + n_down * state["rate_down"]) >= 1).any()
    torch.testing.assert_close(fused, reference, rtol=2e-5, atol=2e-6)
    assert sampler.n_up.abs().sum() == 0 and sampler.n_down.abs().sum() == 0  # buffers left at zero


def test_step_noise_stand_in_has_unit_variance_and_the_irwin_hall_kurtosis():
    h = torch.randint(0, 2**32, (200_000,), generator=gen(24), dtype=torch.int64).numpy().astype("uint32")
    xi = torch.tensor([pulse_kernels._normal.py_func(v) for v in h[:50_000]], dtype=torch.float64)
    assert abs(xi.mean().item()) < 5 / math.sqrt(len(xi))
    assert abs(xi.var().item() - 1) < 0.03  # SE of a variance of 50k draws ~0.008
    assert abs((xi**4).mean().item() - 2.7) < 0.06 and xi.abs().max() < 3.47


def test_same_seed_same_update_and_shape_errors():
    dev = SoftBounds()
    g0 = gen(5)
    state = dev.draw((40, 500), g0)
    x, d = torch.rand(8, 500, generator=g0), torch.randn(8, 40, generator=g0) * 0.1
    a, b = torch.zeros(40, 500), torch.zeros(40, 500)
    pulsed_update(a, state, dev, x, d, 0.1, PulseUpdate(), gen(6))
    pulsed_update(b, state, dev, x, d, 0.1, PulseUpdate(), gen(6))
    assert torch.equal(a, b) and a.abs().sum() > 0
    with pytest.raises(ValueError, match="pulsed update needs"):
        pulsed_update(a, state, dev, x[:, :10], d, 0.1, PulseUpdate(), gen(6))
    pulsed_update(torch.zeros(0, 500), {k: v[:0] for k, v in state.items()}, dev, x, d[:, :0], 0.1,
                  PulseUpdate(), gen(6))  # an empty array: nothing to do
    with pytest.raises(ValueError, match="sampler built for"):
        CoincidenceSampler(10).sample(torch.zeros(11), torch.zeros(11), gen())
    with pytest.raises(ValueError, match="non-finite"):
        pulsed_update(a, state, dev, x.clone().fill_(float("nan")), d, 0.1, PulseUpdate(), gen(6))


def test_denormal_errors_give_finite_probabilities():
    # a confidently classified sample has an error of denormal size: the per-sample scale
    # factors must not overflow (inf * 0 = NaN)
    x = torch.rand(3, 5) * 20
    d = torch.tensor([[1e-39, 0.0, 2e-42], [0.01, -0.02, 0.0], [0.0, 0.0, 0.0]])
    p, q = pulse_probabilities(x, d, lr=0.1, dw_min=0.001, config=PulseUpdate())
    assert torch.isfinite(p).all() and torch.isfinite(q).all()
    torch.testing.assert_close(p.abs().amax(1), q.abs().amax(1))
    assert (p[2] == 0).all() and (q[2] == 0).all()
