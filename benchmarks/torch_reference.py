"""The baseline groklab is measured against: a plain PyTorch training loop, as users run today.

Nanda et al. 2023's published grokking loop (their notebook's `Transformer`, einsum attention
with W_K/W_Q/W_V [n_heads, d_head, d_model], W_O [d_model, n_heads·d_head], ReLU MLP, untied
unembedding, init N(0, 1/d_model) and N(0, 1/d_vocab) for W_U; AdamW with a 10-step linear
warm-up; full batch) with one change: the loss reads the last position only and no test loss is
computed each step (the "plain loop" of ../shared/REFERENCES.md). Every position still runs
through the MLP and the unembedding, as in the published code. The PAIR explorable's embedding
MLP (Pearce et al. 2023) is the second model. One model at a time, on every CPU thread.

Nothing here depends on groklab: the benchmark hands in the training arrays.
"""

from __future__ import annotations

import math
import os
import time

import numpy as np
import torch
from torch import nn


class Transformer(nn.Module):
    """Nanda et al.'s 1-layer transformer (no LayerNorm), over tokens `a b =`."""

    def __init__(self, d_vocab: int, n_ctx: int, d_model: int, n_heads: int, d_mlp: int, n_classes: int):
        super().__init__()
        dh = d_model // n_heads
        r = lambda *shape, fan: nn.Parameter(torch.randn(*shape) / math.sqrt(fan))  # noqa: E731
        self.W_E = r(d_model, d_vocab, fan=d_model)
        self.W_pos = r(n_ctx, d_model, fan=d_model)
        self.W_K, self.W_Q, self.W_V = (r(n_heads, dh, d_model, fan=d_model) for _ in range(3))
        self.W_O = r(d_model, n_heads * dh, fan=d_model)
        self.W_in = r(d_mlp, d_model, fan=d_model)
        self.b_in = nn.Parameter(torch.zeros(d_mlp))
        self.W_out = r(d_model, d_mlp, fan=d_model)
        self.b_out = nn.Parameter(torch.zeros(d_model))
        self.W_U = r(d_model, d_vocab, fan=d_vocab)
        self.register_buffer("mask", torch.tril(torch.ones(n_ctx, n_ctx)))
        self.dh, self.n_classes = dh, n_classes

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """Logits at every position: (batch, pos, d_vocab)."""
        x = torch.einsum("dbp->bpd", self.W_E[:, tokens]) + self.W_pos       # (batch, pos, d_model)
        k = torch.einsum("ihd,bpd->biph", self.W_K, x)                         # (batch, head, pos, d_head)
        q = torch.einsum("ihd,bpd->biph", self.W_Q, x)
        v = torch.einsum("ihd,bpd->biph", self.W_V, x)
        scores = torch.einsum("biph,biqh->biqp", k, q)                         # (batch, head, q, src)
        T = tokens.shape[1]
        scores = torch.tril(scores) - 1e10 * (1 - self.mask[:T, :T])
        attn = torch.softmax(scores / math.sqrt(self.dh), dim=-1)
        z = torch.einsum("biph,biqp->biqh", v, attn)                           # (batch, head, q, d_head)
        z = z.permute(0, 2, 1, 3).reshape(z.shape[0], T, -1)                   # (batch, q, head·d_head)
        x = x + torch.einsum("df,bqf->bqd", self.W_O, z)
        h = torch.relu(torch.einsum("md,bpd->bpm", self.W_in, x) + self.b_in)  # (batch, pos, d_mlp)
        x = x + torch.einsum("dm,bpm->bpd", self.W_out, h) + self.b_out
        return x @ self.W_U

    def loss(self, tokens: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        logits = self(tokens)[:, -1, : self.n_classes]
        return nn.functional.cross_entropy(logits, labels)


class EmbedMLP(nn.Module):
    """The PAIR explorable's MLP: a shared embedding of each operand, concatenated, one ReLU layer."""

    def __init__(self, d_vocab: int, n_ctx: int, d_embed: int, d_mlp: int, n_classes: int):
        super().__init__()
        self.embed = nn.Embedding(d_vocab, d_embed)
        self.hidden = nn.Linear(n_ctx * d_embed, d_mlp)
        self.out = nn.Linear(d_mlp, n_classes)

    def loss(self, tokens: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        e = self.embed(tokens).flatten(1)                                      # (batch, pos·d_embed)
        return nn.functional.cross_entropy(self.out(torch.relu(self.hidden(e))), labels)


def build(kind: str, cfg, d_vocab: int, n_ctx: int, n_classes: int) -> nn.Module:
    """The reference model for a groklab config's shapes ("transformer" or "mlp")."""
    if kind == "transformer":
        return Transformer(d_vocab, n_ctx, cfg.d_model, cfg.n_heads, cfg.d_mlp, n_classes)
    return EmbedMLP(d_vocab, n_ctx, cfg.d_embed, cfg.d_mlp, n_classes)


def steps_per_s(model: nn.Module, cfg, x: np.ndarray, y: np.ndarray, steps: int, reps: int,
                warmup_steps: int = 3) -> list[float]:
    """Full-batch AdamW steps/s of ``model`` on (x, y), one value per repetition of ``steps`` steps."""
    torch.set_num_threads(os.cpu_count() or 1)
    torch.manual_seed(0)
    xs, ys = torch.as_tensor(x, dtype=torch.long), torch.as_tensor(y, dtype=torch.long)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.wd, betas=(cfg.beta1, cfg.beta2))
    warm = max(cfg.warmup, 1)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda step: min((step + 1) / warm, 1.0))

    def step() -> None:
        loss = model.loss(xs, ys)
        loss.backward()
        opt.step()
        sched.step()
        opt.zero_grad()

    for _ in range(warmup_steps):
        step()
    rates = []
    for _ in range(reps):
        t0 = time.perf_counter()
        for _ in range(steps):
            step()
        rates.append(steps / (time.perf_counter() - t0))
    return rates


def matmul_gflops(n: int, reps: int) -> float:
    """Best float32 GFLOP/s of an n×n by n×n product with torch.mm on every CPU thread."""
    torch.set_num_threads(os.cpu_count() or 1)
    a, b = torch.randn(n, n), torch.randn(n, n)
    torch.mm(a, b)
    best = math.inf
    for _ in range(reps):
        t0 = time.perf_counter()
        torch.mm(a, b)
        best = min(best, time.perf_counter() - t0)
    return 2 * n**3 / best / 1e9
