import pytest
import torch

import aimc
from aimc.models.gpt import GPT, GPTConfig, char_small, gpt2_small

TINY = GPTConfig(vocab=11, context=12, layers=2, heads=2, dim=8)


def tiny(**changes) -> GPT:
    config = GPTConfig(**{**TINY.__dict__, **changes})
    return GPT(config, generator=torch.Generator().manual_seed(0)).eval()


def test_shapes_and_loss():
    model = tiny()
    idx = torch.randint(0, 11, (3, 7))
    assert model(idx).shape == (3, 7, 11)
    loss = model.loss(idx, idx)
    assert loss.ndim == 0 and torch.isfinite(loss)
    with pytest.raises(ValueError, match="exceeds the context of 12"):
        model(torch.zeros(1, 13, dtype=torch.long))


def test_causal_a_later_token_does_not_change_earlier_logits():
    model = tiny()
    idx = torch.randint(0, 11, (1, 9), generator=torch.Generator().manual_seed(1))
    changed = idx.clone()
    changed[0, 6] = (idx[0, 6] + 1) % 11
    a, b = model(idx), model(changed)
    torch.testing.assert_close(a[:, :6], b[:, :6], rtol=0, atol=0)
    assert not torch.allclose(a[:, 6:], b[:, 6:])


def test_tied_and_untied_heads_and_seeded_init():
    tied = tiny()
    assert tied.lm_head.weight is tied.wte.weight
    untied = tiny(tied=False)
    assert untied.lm_head.weight is not untied.wte.weight
    for config in (tied.config, untied.config):
        assert sum(p.numel() for p in GPT(config).parameters()) == config.parameter_count()
    torch.testing.assert_close(tiny().h[0].mlp.c_fc.weight, tiny().h[0].mlp.c_fc.weight)


@pytest.mark.parametrize("prompt_len", [1, 4])
def test_kv_cache_generation_equals_full_recompute(prompt_len):
    model = tiny()
    idx = torch.randint(0, 11, (2, prompt_len), generator=torch.Generator().manual_seed(2))
    # 14 new tokens run past the context of 12, so the sliding window is covered too
    cached = model.generate(idx, 14, temperature=0)
    full = model.generate(idx, 14, temperature=0, use_cache=False)
    assert torch.equal(cached, full) and cached.shape == (2, prompt_len + 14)
    # sampled: same generator seed, same tokens, with and without the cache
    a = model.generate(idx, 8, temperature=0.9, top_k=5, generator=torch.Generator().manual_seed(3))
    b = model.generate(idx, 8, temperature=0.9, top_k=5, generator=torch.Generator().manual_seed(3),
                       use_cache=False)
    assert torch.equal(a, b)


def test_cached_logits_match_one_forward():
    model = tiny()
    idx = torch.randint(0, 11, (2, 10), generator=torch.Generator().manual_seed(4))
    cache = []
    parts = [model(idx[:, :6], cache), model(idx[:, 6:9], cache), model(idx[:, 9:], cache)]
    torch.testing.assert_close(torch.cat(parts, 1), model(idx), rtol=1e-5, atol=1e-6)


def test_converted_on_the_ideal_chip_equals_digital(ideal_chip):
    model = tiny(tied=False)
    analog, report = aimc.convert(model, ideal_chip)
    names = set(report.converted)
    assert {"h.0.attn.c_attn", "h.1.mlp.c_proj", "lm_head"} <= names and len(names) == 2 * 4 + 1
    assert "wte" in report.digital
    aimc.program(analog, seed=0)
    idx = torch.randint(0, 11, (2, 9), generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        digital, converted = model(idx), analog(idx)
    rel = (converted - digital).norm() / digital.norm()
    assert rel <= 1e-5
    greedy = [m.generate(idx[:, :3], 6, temperature=0) for m in (analog, model)]
    assert torch.equal(*greedy)


def test_gpt2_small_parameter_count_without_allocating():
    config = gpt2_small()
    assert config.parameter_count() == 124_439_808
    model = GPT(config, device="meta")
    assert sum(p.numel() for p in model.parameters()) == 124_439_808
    assert all(p.is_meta for p in model.parameters())
    assert GPTConfig(**{**config.__dict__, "tied": False}).parameter_count() == 124_439_808 + 50257 * 768
    assert char_small(vocab=100).dim == 128


def test_bad_config_is_refused():
    with pytest.raises(ValueError, match="multiple of heads"):
        GPTConfig(vocab=4, context=4, layers=1, heads=3, dim=8)
    with pytest.raises(ValueError, match="layers must be >= 1"):
        GPTConfig(vocab=4, context=4, layers=0, heads=1, dim=8)
