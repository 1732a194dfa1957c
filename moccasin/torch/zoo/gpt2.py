"""A GPT-2-style decoder stack (Radford et al. 2019), written after the original layout.

Scaled: 12 layers as GPT-2 small, but model width ``d_model`` 128 (768), 4 heads (12),
vocabulary 2048 (50257), context ``seq`` 64 (1024). Kept: learned token and position
embeddings, pre-LayerNorm blocks with causal multi-head self-attention (explicit
``q @ k^T``, causal mask, softmax) and a 4x MLP with tanh-GELU, dropout on embeddings,
attention probabilities and residual branches, a final LayerNorm, and an output head whose
weight IS the token-embedding matrix (tied). Init: normal(0, 0.02), residual projections
scaled by ``1/sqrt(2 * n_layer)``. ``forward(tokens)`` returns logits ``(batch, seq, vocab)``.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from moccasin.torch.zoo._seed import seeded


class CausalSelfAttention(nn.Module):
    def __init__(self, d_model, n_head, ctx, dropout):
        super().__init__()
        self.n_head = n_head
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.proj = nn.Linear(d_model, d_model)
        self.attn_drop = nn.Dropout(dropout)
        self.resid_drop = nn.Dropout(dropout)
        self.register_buffer("mask", torch.tril(torch.ones(ctx, ctx, dtype=torch.bool)), persistent=False)

    def forward(self, x):
        b, t, c = x.shape
        q, k, v = self.qkv(x).split(c, dim=2)
        q, k, v = (z.view(b, t, self.n_head, c // self.n_head).transpose(1, 2) for z in (q, k, v))
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(k.size(-1)))
        att = att.masked_fill(~self.mask[:t, :t], float("-inf"))
        att = self.attn_drop(F.softmax(att, dim=-1))
        y = (att @ v).transpose(1, 2).contiguous().view(b, t, c)
        return self.resid_drop(self.proj(y))


class Block(nn.Module):
    def __init__(self, d_model, n_head, ctx, dropout):
        super().__init__()
        self.ln1 = nn.LayerNorm(d_model)
        self.attn = CausalSelfAttention(d_model, n_head, ctx, dropout)
        self.ln2 = nn.LayerNorm(d_model)
        self.mlp = nn.Sequential(
            nn.Linear(d_model, 4 * d_model), nn.GELU(approximate="tanh"),
            nn.Linear(4 * d_model, d_model), nn.Dropout(dropout),
        )

    def forward(self, x):
        x = x + self.attn(self.ln1(x))
        return x + self.mlp(self.ln2(x))


class GPT2(nn.Module):
    def __init__(self, vocab=2048, ctx=64, d_model=128, n_layer=12, n_head=4, dropout=0.1):
        super().__init__()
        self.wte = nn.Embedding(vocab, d_model)
        self.wpe = nn.Embedding(ctx, d_model)
        self.drop = nn.Dropout(dropout)
        self.blocks = nn.ModuleList(Block(d_model, n_head, ctx, dropout) for _ in range(n_layer))
        self.ln_f = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, vocab, bias=False)
        for name, p in self.named_parameters():
            if name.endswith("bias"):
                nn.init.zeros_(p)
            elif p.dim() >= 2:
                std = 0.02 / math.sqrt(2 * n_layer) if name.endswith(("attn.proj.weight", "mlp.2.weight")) else 0.02
                nn.init.normal_(p, 0.0, std)
        self.head.weight = self.wte.weight  # tied: one Parameter, two uses

    def forward(self, tokens):
        t = tokens.size(1)
        pos = torch.arange(t, device=tokens.device)
        x = self.drop(self.wte(tokens) + self.wpe(pos))
        for block in self.blocks:
            x = block(x)
        return self.head(self.ln_f(x))


def gpt2(batch=2, seq=64, vocab=2048, d_model=128, n_layer=12, n_head=4, dropout=0.1, seed=0):
    """GPT-2-style model (context ``seq``) and a ``(batch, seq)`` int64 token input."""
    with seeded(seed):
        model = GPT2(vocab=vocab, ctx=seq, d_model=d_model, n_layer=n_layer, n_head=n_head, dropout=dropout)
        return model, (torch.randint(vocab, (batch, seq)),)
