"""Analog nn.Embedding: one-hot reads of a tile (opt-in), exact on the ideal chip, the same
statistics as a one-hot matrix-vector product through the tile on a noisy chip."""

import pytest
import torch
from torch import nn

import aimc
from aimc.chips import ChipSpec, load_chip
from aimc.nn import AnalogEmbedding, drift, program


def offset_ideal() -> ChipSpec:
    return ChipSpec.model_validate({**load_chip("ideal").model_dump(), "encoding": {"kind": "offset"}})


@pytest.mark.parametrize("chip", ["ideal", "offset"])
def test_ideal_chip_equals_nn_embedding_with_padding_zeros(chip):
    torch.manual_seed(0)
    digital = nn.Embedding(300, 8, padding_idx=3)  # 300 rows: two 256-row arrays
    analog = AnalogEmbedding.from_digital(digital, offset_ideal() if chip == "offset" else load_chip(chip))
    program(analog, seed=0)
    idx = torch.randint(0, 300, (4, 7))
    idx[0, :3] = torch.tensor([3, 0, 299])
    ref, out = digital(idx), analog(idx)
    assert out.shape == (4, 7, 8)
    assert torch.allclose(out, ref, rtol=1e-6, atol=1e-6 * ref.abs().max().item())
    assert torch.equal(out[0, 0], torch.zeros(8))  # padding: exact zeros, no read
    assert torch.equal(analog.digital_forward(idx), ref)


def test_convert_reports_digital_by_default_and_analog_when_asked():
    model = nn.Sequential(nn.Embedding(40, 6), nn.Linear(6, 2))
    kept, report = aimc.convert(model, "ideal", strict=True)  # a digital lookup is not an error
    assert isinstance(kept[0], nn.Embedding)
    assert report.layers[0].detail == "digital lookup; convert(..., analog_embeddings=True) maps it"
    analog, report = aimc.convert(model, "ideal", analog_embeddings=True)
    assert isinstance(analog[0], AnalogEmbedding) and report.converted == ["0", "1"]
    assert report.layers[0].detail == "one-hot read of 40x6 on 1 array"
    _, again = aimc.convert(analog, "ideal", analog_embeddings=True)
    assert again.already_analog == ["0", "1"]


def test_max_norm_and_bad_indices_are_refused_clearly():
    with pytest.raises(ValueError, match="max_norm=1.0 cannot go analog"):
        aimc.convert(nn.Embedding(10, 4, max_norm=1.0), "ideal", analog_embeddings=True)
    emb = AnalogEmbedding.from_digital(nn.Embedding(10, 4), load_chip("ideal"))
    program(emb, seed=0)
    with pytest.raises(IndexError, match=r"in \[0, 9\], got \[0, 10\]"):
        emb(torch.tensor([0, 10]))
    with pytest.raises(TypeError, match="integer indices"):
        emb(torch.tensor([0.0, 1.0]))


def test_non_zero_padding_row_is_read_like_any_row():
    digital = nn.Embedding(5, 3, padding_idx=1)
    with torch.no_grad():
        digital.weight[1] = torch.tensor([1.0, -2.0, 0.5])
    emb = AnalogEmbedding.from_digital(digital, load_chip("ideal"))
    program(emb, seed=0)
    assert torch.allclose(emb(torch.tensor([1])), digital(torch.tensor([1])), atol=1e-6)


def test_noisy_lookups_match_a_one_hot_read_through_the_tile_statistically():
    torch.manual_seed(0)
    emb = AnalogEmbedding.from_digital(nn.Embedding(300, 16), load_chip("ibm-hermes-pcm"))
    program(emb, seed=1)
    drift(emb, 3600.0)
    n, row = 4000, 270  # row 270 sits on the second row array
    looked = emb(torch.full((n,), row))
    onehot = torch.zeros(n, 300)
    onehot[:, row] = 1.0
    through_tile = emb.table.tile(onehot)
    assert not torch.equal(looked[0], looked[1])  # every lookup is a fresh read
    m1, m2 = looked.mean(0), through_tile.mean(0)
    s1, s2 = looked.std(0), through_tile.std(0)
    assert (s2 > 0).sum() >= 12  # read noise visible after the ADC on most columns
    se = (s1**2 / n + s2**2 / n).sqrt()
    assert ((m1 - m2).abs() <= 5 * se + 1e-6).all()  # same mean within 5 standard errors
    noisy = s2 > 0.2 * s2.max()
    ratio = (s1[noisy] / s2[noisy])
    assert ((ratio > 0.85) & (ratio < 1.18)).all(), ratio  # std of a std: 1.1 % per read set


def test_compile_counts_one_vector_per_looked_up_token():
    idx = torch.zeros(1, 9, dtype=torch.long)
    model = nn.Sequential(nn.Embedding(50, 8), nn.Linear(8, 4))
    on = aimc.compile(model, "ibm-hermes-pcm", idx, analog_embeddings=True)
    emb = on.layers[0]
    assert (emb.rows, emb.cols, emb.vectors, emb.analog) == (50, 8, 9, True)
    off = aimc.compile(model, "ibm-hermes-pcm", idx)
    assert not off.layers[0].analog and "analog_embeddings=True" in off.layers[0].reason


def hwa_embedding(chip="ibm-hermes-pcm", padding_idx=None, **config):
    from aimc.training import HWAConfig, enable_hwa

    torch.manual_seed(0)
    model = nn.Sequential(nn.Embedding(20, 6, padding_idx=padding_idx), nn.Flatten(), nn.Linear(18, 2))
    analog, _ = aimc.convert(model, chip, analog_embeddings=True)
    return enable_hwa(analog, HWAConfig(**config), seed=0).train()


def test_hwa_training_reaches_the_table_without_programming_and_skips_padding():
    model = hwa_embedding(padding_idx=0)
    idx = torch.tensor([[3, 4, 0], [5, 0, 0]])
    model(idx).sum().backward()  # the tile was never programmed: HWA needs no programmed chip
    grad = model[0].table.weight.grad  # [dim, num]
    assert grad is not None
    assert grad[:, [3, 4, 5]].abs().sum(0).gt(0).all()  # every looked-up row learns
    others = [i for i in range(20) if i not in (3, 4, 5)]
    assert grad[:, others].abs().max() == 0  # rows not looked up (and the padding row) do not


def test_hwa_lookup_without_noise_or_adc_is_the_digital_table_and_noise_is_fresh_per_lookup():
    exact = hwa_embedding(noise_scale=0.0, quantize_outputs=False)
    idx = torch.tensor([[1, 2, 1]])
    emb = exact[0]
    assert torch.allclose(emb(idx), emb.digital_forward(idx), atol=1e-6)
    noisy = hwa_embedding()[0]
    rows = noisy(torch.full((1, 64), 7))[0]  # one chip instance, 64 reads of row 7
    # each lookup its own read noise (after the ADC's ~10 codes per row, most reads differ)
    assert (rows != rows[0]).any(1).sum() > 32
    # the reads scatter around the instance's row by far less than the row's size
    assert (rows - rows.mean(0)).abs().max() < 0.5 * emb.digital_forward(torch.tensor(7)).abs().max()
    again = hwa_embedding()[0]
    assert torch.equal(again(torch.full((1, 64), 7))[0], rows)  # seeded


def test_without_hwa_training_mode_reads_the_tile_as_analog_linear_does():
    analog, _ = aimc.convert(nn.Sequential(nn.Embedding(20, 6)), "ibm-hermes-pcm", analog_embeddings=True)
    analog.train()
    with pytest.raises(RuntimeError, match="not programmed"):
        analog(torch.tensor([1]))
    linear, _ = aimc.convert(nn.Sequential(nn.Linear(4, 2)), "ibm-hermes-pcm")
    with pytest.raises(RuntimeError, match="not programmed"):
        linear.train()(torch.zeros(1, 4))
