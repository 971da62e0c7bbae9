"""The sequence model's training speed (bench row "(g)"): tokens/s of groklab's causal transformer
(``model = "lm"``) on the pydoc corpus against a plain PyTorch loop of the same model, measured in one
run.

    python benchmarks/lm_bench.py [--steps N] [--json]

The model is the one ``groklab reproduce secret-sharer`` trains (its recipe, without canaries): learned
positions, pre-LN blocks of causal attention without biases and a GELU MLP with biases, a final
LayerNorm, an untied unembedding; minibatch AdamW on next-token cross-entropy over every position.
The PyTorch side is what a user would write (``F.scaled_dot_product_attention``, ``F.layer_norm``,
``F.cross_entropy``, ``torch.optim.AdamW``), with groklab's weight layout, so it starts from the very
parameters groklab initialised; the row records the largest logit difference between the two at those
parameters, which shows the two sides compute the same function. One model at a time, every CPU
thread for groklab; PyTorch on one thread and on every thread, the better kept (on a busy machine its
thread pool can lose more than it gains); each side is timed on chunks of steps after a first (compiling)
one and its best chunk kept.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent


def _config(overrides: dict):
    from groklab.config import resolve

    return resolve("secret-sharer", **{"canary_reps": "", **overrides})


def torch_model(cfg, params: dict):
    """The PyTorch twin of ``groklab.models.lm`` (learned positions, pre-LN or no LN), holding ``params``."""
    import torch
    import torch.nn.functional as F
    from torch import nn

    if cfg.pos != "learned" or (cfg.layernorm and cfg.ln_place != "pre") or cfg.tied:
        raise ValueError("lm_bench: the PyTorch twin covers learned positions, pre-LN or no LN, untied W_U")

    class LM(nn.Module):
        def __init__(self):
            super().__init__()
            self.p = nn.ParameterDict({k.replace(".", "__"): nn.Parameter(torch.tensor(np.asarray(v)))
                                       for k, v in params.items()})
            self.h, self.dh = cfg.n_heads, cfg.d_model // cfg.n_heads

        def _w(self, name):
            return self.p[name.replace(".", "__")]

        def _ln(self, name, x):
            if not cfg.layernorm:
                return x
            return F.layer_norm(x, x.shape[-1:], self._w(name + ".w"), self._w(name + ".b"), 1e-5)

        def _heads(self, x, name):                  # (batch, pos, d) -> (batch, head, pos, d_head)
            W = self._w(name)                        # [head, d, d_head]
            return torch.einsum("bpd,hdk->bhpk", x, W)

        def forward(self, tokens):
            T = tokens.shape[1]
            x = self._w("W_E")[tokens] + self._w("W_pos")[:T]
            for layer in range(cfg.n_layers):
                b = f"blocks.{layer}."
                a = self._ln(b + "ln1", x)
                z = F.scaled_dot_product_attention(self._heads(a, b + "attn.W_Q"), self._heads(a, b + "attn.W_K"),
                                                   self._heads(a, b + "attn.W_V"), is_causal=True)
                x = x + torch.einsum("bhqk,hkd->bqd", z, self._w(b + "attn.W_O"))
                m = self._ln(b + "ln2", x)
                hidden = F.gelu(m @ self._w(b + "mlp.W_in") + self._w(b + "mlp.b_in"))
                x = x + hidden @ self._w(b + "mlp.W_out") + self._w(b + "mlp.b_out")
            return self._ln("ln_final", x) @ self._w("W_U")

    return LM()


def torch_tokens_s(model, cfg, x: np.ndarray, y: np.ndarray, steps: int, reps: int, threads: int) -> float:
    """Best tokens/s of minibatch AdamW steps (batch ``cfg.batch_size`` rows drawn at random each step) on
    ``threads`` intra-op threads."""
    import torch
    import torch.nn.functional as F

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    xs, ys = torch.as_tensor(x, dtype=torch.long), torch.as_tensor(y, dtype=torch.long)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.wd, betas=(cfg.beta1, cfg.beta2),
                            eps=cfg.eps)
    warm = max(cfg.warmup, 1)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda step: min((step + 1) / warm, 1.0))
    B = cfg.batch_size

    def step() -> None:
        idx = torch.randint(0, xs.shape[0], (B,))
        logits = model(xs[idx])
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), ys[idx].reshape(-1), ignore_index=-1)
        loss.backward()
        opt.step()
        sched.step()
        opt.zero_grad()

    for _ in range(3):
        step()
    best = math.inf
    for _ in range(reps):
        t0 = time.perf_counter()
        for _ in range(steps):
            step()
        best = min(best, time.perf_counter() - t0)
    return steps * B * x.shape[1] / best


def lm_speed(overrides: dict | None = None, chunk: int = 100, reps: int = 5, torch_steps: int = 30) -> dict:
    """The row: groklab's tokens/s (``bench.groklab_rate`` on the jitted loop), the PyTorch loop's, their
    ratio, and the largest |logit difference| of the two models at groklab's initial parameters."""
    import jax.numpy as jnp

    from benchmarks.bench import _settle, groklab_rate
    from groklab.train.loop import Trainer

    cfg = _config(overrides or {})
    trainer = Trainer([cfg])
    ds = trainer.datasets[0]
    T, B = int(ds.x.shape[1]), int(cfg.batch_size)
    params0 = {k: np.asarray(v[0]) for k, v in trainer.init_state()[0].items()}
    g = groklab_rate(trainer, chunk, reps)
    row = {"overrides": overrides or {}, "context": T, "batch": B, "vocab": int(ds.vocab_size),
           "n_train": int(ds.n_train), "groklab_tokens_s": g["steps_s"] * B * T, "torch_tokens_s": None,
           "ratio": None, "max_logit_diff": None}
    try:
        import torch
    except ModuleNotFoundError:
        return row
    x, y = np.asarray(ds.x[ds.train_idx]), np.asarray(ds.y_train)
    model = torch_model(cfg, params0)
    with torch.no_grad():
        ours = np.asarray(trainer.model.apply({k: jnp.asarray(v) for k, v in params0.items()}, jnp.asarray(x[:8])))
        row["max_logit_diff"] = float(np.abs(model(torch.as_tensor(x[:8], dtype=torch.long)).numpy() - ours).max())
    rates = {}
    for threads in sorted({1, os.cpu_count() or 1}):   # every CPU thread, and one (a busy machine can favour it)
        _settle()
        rates[threads] = torch_tokens_s(torch_model(cfg, params0), cfg, x, y, torch_steps, reps, threads)
    row["torch_threads"] = max(rates, key=rates.get)
    row["torch_tokens_s"] = rates[row["torch_threads"]]
    row["torch_by_threads"] = {str(k): v for k, v in rates.items()}
    row["ratio"] = row["groklab_tokens_s"] / row["torch_tokens_s"]
    return row


def table(row: dict) -> tuple[str, list[str], list[list[str]]]:
    """(title, header, rows) in bench.py's table format."""
    def f(v, spec=".0f"):
        return "—" if v is None else format(v, spec)
    return (f"(g) sequence model (secret-sharer's lm, {row['context']} tokens × batch {row['batch']}, vocab "
            f"{row['vocab']}), minibatch training, tokens/s",
            ["groklab tokens/s", "PyTorch tokens/s (its better thread count)", "ratio",
             "same model: max |Δ logit| at init"],
            [[f(row["groklab_tokens_s"]),
              f(row["torch_tokens_s"]) + (f" ({row['torch_threads']} threads)" if row.get("torch_threads") else ""),
              f(row["ratio"], ".2f"), f(row["max_logit_diff"], ".1e")]])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="lm_bench", description=__doc__.split("\n\n")[0])
    ap.add_argument("--steps", type=int, default=100, help="groklab steps per timed chunk")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--torch-steps", type=int, default=30)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    row = lm_speed({}, args.steps, args.reps, args.torch_steps)
    if args.json:
        print(json.dumps(row))
    else:
        title, header, rows = table(row)
        print(title)
        for r in [header, *rows]:
            print("  ".join(str(x) for x in r))
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))
    sys.exit(main())
