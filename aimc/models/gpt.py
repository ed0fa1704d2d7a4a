"""A decoder-only transformer with the GPT-2 architecture, built in code (no weights downloaded).

Architecture: A. Radford, J. Wu, R. Child, D. Luan, D. Amodei, I. Sutskever, "Language Models are
Unsupervised Multitask Learners" (OpenAI, 2019), section 2.3: the GPT decoder with LayerNorm moved
to the input of each sub-block (pre-LN), a final LayerNorm after the last block, learned position
embeddings, causal multi-head self-attention and a GELU MLP of 4x the width; weights initialised
N(0, 0.02) with the residual output projections scaled by 1/sqrt(2 x layers) (the paper's
"scale the weights of residual layers by 1/sqrt(N)", as OpenAI's code does). The layout and names
follow OpenAI's released model (``wte``, ``wpe``, ``h.<i>.attn.c_attn``, ``c_proj``, ``mlp.c_fc``,
``ln_f``) so that a reader can match them.

Every matrix is an ``nn.Linear`` (q/k/v packed in ``c_attn`` as in GPT-2), so
:func:`aimc.convert` puts each one on tiles; LayerNorm, GELU, softmax and the two data-dependent
products of attention (QKᵀ and AV, one ``F.scaled_dot_product_attention`` call) stay digital. The
output head ``lm_head`` is an ``nn.Linear`` too: tied (the default, as GPT-2) means it shares its
weight with the token embedding ``wte``; converted, it becomes an analog layer of its own (a copy
of that matrix on tiles, ``vocab x dim``: 50257 x 768 for GPT-2 small) while ``wte`` stays a
digital lookup (an ``nn.Embedding``; convert leaves it digital unless asked otherwise).

Generation keeps a key/value cache: the prompt is run once (prefill), then each new token is one
forward of a single position, so every weight matrix is read once per generated token, as an
analog chip would run it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass(frozen=True)
class GPTConfig:
    """Sizes of a GPT: ``vocab`` tokens, ``context`` positions, ``layers`` blocks of ``heads``
    attention heads over ``dim`` features; ``tied``: the output head shares the token embedding."""

    vocab: int
    context: int
    layers: int
    heads: int
    dim: int
    dropout: float = 0.0
    bias: bool = True
    tied: bool = True

    def __post_init__(self) -> None:
        for name in ("vocab", "context", "layers", "heads", "dim"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"GPTConfig.{name} must be >= 1, got {getattr(self, name)}")
        if self.dim % self.heads:
            raise ValueError(f"dim ({self.dim}) must be a multiple of heads ({self.heads})")
        if not 0 <= self.dropout < 1:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")

    def parameter_count(self) -> int:
        """Parameters of the model, counted from the sizes (a tied head adds none)."""
        d, b = self.dim, int(self.bias)
        norm = d * (1 + b)
        attention = (d * 3 * d + b * 3 * d) + (d * d + b * d)  # c_attn, c_proj
        mlp = (d * 4 * d + b * 4 * d) + (4 * d * d + b * d)  # c_fc, c_proj
        block = 2 * norm + attention + mlp
        head = 0 if self.tied else self.vocab * d
        return self.vocab * d + self.context * d + self.layers * block + norm + head


def char_small(vocab: int, context: int = 128) -> GPTConfig:
    """The small character-level preset (4 layers, 4 heads, 128 features; about 0.8 M weights
    plus the embeddings): trains in minutes on one CPU core."""
    return GPTConfig(vocab=vocab, context=context, layers=4, heads=4, dim=128)


def gpt2_small() -> GPTConfig:
    """GPT-2 small (Radford et al. 2019, the 117 M model of the paper, 124,439,808 parameters
    counted with the tied head): 50,257 BPE tokens, 1,024 positions, 12 layers, 12 heads, 768."""
    return GPTConfig(vocab=50257, context=1024, layers=12, heads=12, dim=768)


KVCache = list[tuple[torch.Tensor, torch.Tensor]]  # per block: keys, values [B, heads, T, dim/heads]


class CausalSelfAttention(nn.Module):
    """Multi-head causal self-attention; q, k, v from one packed matrix ``c_attn``."""

    def __init__(self, config: GPTConfig, device=None) -> None:
        super().__init__()
        self.heads, self.dim = config.heads, config.dim
        self.c_attn = nn.Linear(config.dim, 3 * config.dim, bias=config.bias, device=device)
        self.c_proj = nn.Linear(config.dim, config.dim, bias=config.bias, device=device)
        self.dropout = config.dropout

    def forward(self, x: torch.Tensor, past: tuple[torch.Tensor, torch.Tensor] | None = None,
                ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        batch, steps, _ = x.shape
        q, k, v = self.c_attn(x).split(self.dim, dim=2)
        q, k, v = (t.view(batch, steps, self.heads, -1).transpose(1, 2) for t in (q, k, v))
        before = 0 if past is None else past[0].shape[2]
        if past is not None:
            k, v = torch.cat([past[0], k], dim=2), torch.cat([past[1], v], dim=2)
        dropout = self.dropout if self.training else 0.0
        if before == 0:
            y = F.scaled_dot_product_attention(q, k, v, dropout_p=dropout, is_causal=steps > 1)
        elif steps == 1:  # one new token attends to everything before it
            y = F.scaled_dot_product_attention(q, k, v, dropout_p=dropout)
        else:  # new token i (position before + i) sees positions <= before + i
            mask = torch.ones(steps, before + steps, dtype=torch.bool, device=x.device).tril(before)
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=dropout)
        y = y.transpose(1, 2).reshape(batch, steps, self.dim)
        return F.dropout(self.c_proj(y), dropout, self.training), (k, v)


class MLP(nn.Module):
    def __init__(self, config: GPTConfig, device=None) -> None:
        super().__init__()
        self.c_fc = nn.Linear(config.dim, 4 * config.dim, bias=config.bias, device=device)
        self.c_proj = nn.Linear(4 * config.dim, config.dim, bias=config.bias, device=device)
        self.dropout = config.dropout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # GPT-2 uses the tanh approximation of GELU (Hendrycks & Gimpel 2016)
        return F.dropout(self.c_proj(F.gelu(self.c_fc(x), approximate="tanh")), self.dropout, self.training)


class Block(nn.Module):
    """Pre-LN block: ``x + attn(ln_1(x))``, then ``x + mlp(ln_2(x))``."""

    def __init__(self, config: GPTConfig, device=None) -> None:
        super().__init__()
        self.ln_1 = nn.LayerNorm(config.dim, bias=config.bias, device=device)
        self.attn = CausalSelfAttention(config, device)
        self.ln_2 = nn.LayerNorm(config.dim, bias=config.bias, device=device)
        self.mlp = MLP(config, device)

    def forward(self, x: torch.Tensor, past=None):
        a, present = self.attn(self.ln_1(x), past)
        x = x + a
        return x + self.mlp(self.ln_2(x)), present


class GPT(nn.Module):
    """The GPT-2 decoder. ``model(idx)`` gives logits ``[B, T, vocab]`` for token ids ``[B, T]``.

    Args:
        config: the sizes (:func:`gpt2_small`, :func:`char_small` or your own).
        generator: seeds the N(0, 0.02) initialisation (default: torch's global RNG).
        device: ``"meta"`` builds the structure without memory (to count parameters).

    Example:
        >>> model = GPT(GPTConfig(vocab=16, context=8, layers=1, heads=2, dim=8),
        ...             generator=torch.Generator().manual_seed(0))
        >>> model(torch.zeros(2, 5, dtype=torch.long)).shape
        torch.Size([2, 5, 16])
    """

    def __init__(self, config: GPTConfig, generator: torch.Generator | None = None, device=None) -> None:
        super().__init__()
        self.config = config
        self.wte = nn.Embedding(config.vocab, config.dim, device=device)
        self.wpe = nn.Embedding(config.context, config.dim, device=device)
        self.drop = nn.Dropout(config.dropout)
        self.h = nn.ModuleList(Block(config, device) for _ in range(config.layers))
        self.ln_f = nn.LayerNorm(config.dim, bias=config.bias, device=device)
        self.lm_head = nn.Linear(config.dim, config.vocab, bias=False, device=device)
        if config.tied:
            self.lm_head.weight = self.wte.weight
        if torch.device(device or "cpu").type != "meta":
            self._init(generator)

    @torch.no_grad()
    def _init(self, generator: torch.Generator | None) -> None:
        residual_std = 0.02 / math.sqrt(2 * self.config.layers)
        for name, p in self.named_parameters():  # a tied weight is listed once
            if name.endswith("bias") or ".ln_" in f".{name}":
                p.zero_() if name.endswith("bias") else p.fill_(1.0)
            else:
                std = residual_std if name.endswith("c_proj.weight") else 0.02
                p.normal_(0.0, std, generator=generator)

    def forward(self, idx: torch.Tensor, cache: KVCache | None = None) -> torch.Tensor:
        """Logits ``[B, T, vocab]``; with ``cache`` (a list, filled in place: empty for a prefill)
        ``idx`` continues the cached sequence and the cache grows by ``T`` positions."""
        if idx.dim() != 2:
            raise ValueError(f"GPT expects token ids [batch, time], got shape {tuple(idx.shape)}")
        start = 0 if not cache else cache[0][0].shape[2]
        steps = idx.shape[1]
        if start + steps > self.config.context:
            raise ValueError(f"sequence of {start + steps} tokens exceeds the context of "
                             f"{self.config.context}")
        pos = torch.arange(start, start + steps, device=idx.device)
        x = self.drop(self.wte(idx) + self.wpe(pos))
        filled = 0 if cache is None else len(cache)
        for i, block in enumerate(self.h):
            x, present = block(x, cache[i] if i < filled else None)
            if cache is not None:
                if i < filled:
                    cache[i] = present
                else:
                    cache.append(present)
        return self.lm_head(self.ln_f(x))

    def loss(self, idx: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Mean cross-entropy (nats per token) of predicting ``targets [B, T]`` from ``idx``."""
        logits = self(idx)
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))

    @torch.no_grad()
    def generate(self, idx: torch.Tensor, max_new_tokens: int, temperature: float = 1.0,
                 top_k: int | None = None, generator: torch.Generator | None = None,
                 use_cache: bool = True) -> torch.Tensor:
        """Continue ``idx [B, T]`` by ``max_new_tokens`` sampled tokens; returns ``[B, T + new]``.

        ``temperature`` 0 picks the most likely token (greedy); otherwise tokens are drawn from
        softmax(logits / temperature), restricted to the ``top_k`` most likely when given, with
        ``generator`` (same seed, same text). With ``use_cache`` the prompt is run once and each
        new token is one single-position forward; once the sequence is longer than the context
        the window slides and every further token is a full forward of the last ``context``
        tokens (the same logits as without the cache).
        """
        if max_new_tokens < 0 or temperature < 0 or (top_k is not None and top_k < 1):
            raise ValueError(f"need max_new_tokens >= 0, temperature >= 0, top_k >= 1 or None; got "
                             f"{max_new_tokens}, {temperature}, {top_k}")
        was_training = self.training
        self.eval()
        cache: KVCache = []
        context = self.config.context
        step_input = idx[:, -context:]
        for _ in range(max_new_tokens):
            if not use_cache:
                logits = self(idx[:, -context:])
            else:
                if cache and cache[0][0].shape[2] + step_input.shape[1] > context:
                    cache, step_input = [], idx[:, -context:]
                logits = self(step_input, cache)
            logits = logits[:, -1, :]
            if temperature == 0:
                nxt = logits.argmax(dim=-1, keepdim=True)
            else:
                logits = logits / temperature
                if top_k is not None:
                    kth = torch.topk(logits, min(top_k, logits.shape[-1])).values[:, -1:]
                    logits = logits.masked_fill(logits < kth, float("-inf"))
                probs = F.softmax(logits, dim=-1)
                nxt = torch.multinomial(probs, 1, generator=generator)
            idx = torch.cat([idx, nxt], dim=1)
            step_input = nxt
        self.train(was_training)
        return idx
