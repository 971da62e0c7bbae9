"""Published recipes as named presets, overridable field by field (sources: ../shared/REFERENCES.md).

Each preset reproduces the paper's setup where this machine allows it. Its ``description`` is one
line (``groklab presets``); its ``note`` holds where a field departs from the paper (a budget, an
evaluation interval) and what was measured here (``groklab presets --long``).
"""

from __future__ import annotations

from groklab.errors import ConfigError

_NANDA = dict(task="x+y", p=113, frac=0.3, model="transformer", n_layers=1, d_model=128, n_heads=4, d_mlp=512,
              act="relu", layernorm=False, tied=False, optimizer="adamw", lr=1e-3, wd=1.0, beta1=0.9, beta2=0.98,
              warmup=10, batch_size=None)
_GROMOV = dict(task="x+y", p=97, frac=0.5, model="mlp", input="onehot", n_layers=1, d_mlp=500, act="quadratic",
               bias=False, loss="mse", optimizer="adamw", lr=1e-2, beta1=0.9, beta2=0.98, wd=5.0, warmup=0,
               init_std=0.5 / (2 * 500) ** (1 / 3), batch_size=None)

PRESETS: dict[str, dict] = {
    "nanda2023": {
        "cite": "Nanda et al. 2023, Progress measures for grokking via mechanistic interpretability",
        "description": "1-layer transformer on a+b mod 113, 30% train, AdamW lr 1e-3 wd 1, full batch",
        "note": "budget cut from 40,000 to 12,000 full-batch steps (grokking completes near 9,000)",
        "values": {**_NANDA, "steps": 12_000, "eval_every": 100},
    },
    "nanda2023-fast": {
        "cite": "Nanda et al. 2023 model and task; optimizer from groklab's recipe search",
        "description": "nanda2023 with AdamW lr 1e-2 wd 3, init scale 0.5: groks in ~80-165 steps and stays",
        "note": "nanda2023's task and model, AdamW betas (0.9, 0.999), full batch. Measured here (seeds 0-5, 800 "
                "steps): 99% test accuracy at steps 160, 83, 90, 164, 140, 160, and never below 99.0% after it. "
                "Searched beside it (3-6 seeds each): beta2 0.98 grokked as fast but 5 of 6 seeds fell back (to "
                "25-62%) between steps 400 and 800, beta2 0.995 one of 6; lr 1e-2 wd 5 at init scale 1 fell back "
                "for 1 of 3 by step 450; lr 1.5e-2 and 2e-2 collapsed; init scale 0.3 and Grokfast EMA on top were "
                "slower or unstable; the previous recipe (lr 3e-3 wd 5) took 258-270 steps. Probed again (seed 0, "
                "evaluated every 5 steps, 200 steps): wd 6 or 10, beta1 0.8, lr 1.3e-2 with init scale 0.7 did not "
                "reach or keep 99% by step 200; lr 1.3e-2 wd 3 reached it at 135; frac 0.4 at 70 steps (0.35 "
                "TFLOP), frac 0.5 at none of 8 points by step 150; minibatches of 512 or 1024 (lr 1e-2 or 2e-2, "
                "wd 3 or 6) at none of 8 by step 600 (best 0.74 test accuracy). Evaluated every 10 steps plus 5 "
                "per decade on the log grid; checkpoints 5 per decade",
        "values": {**_NANDA, "lr": 1e-2, "wd": 3.0, "beta2": 0.999, "init_scale": 0.5, "steps": 800,
                   "eval_every": 10, "eval_per_decade": 5, "ckpt_per_decade": 5},
    },
    "s5-compose": {
        "cite": "Power et al. 2022 (S5 composition); the nanda2023 transformer, full batch",
        "description": "composition in S5 (120 elements), 50% train, nanda2023's transformer, AdamW lr 3e-3 wd 1",
        "note": "14,400 equations; the 1-layer nanda2023 transformer, full batch. Sized to fit 10 minutes on 2 cores: "
                "full batch memorizes every training equation (Power et al.'s batch 512 left a few wrong after 6,000 "
                "steps). Measured (seed 0, 2 shared cores): train accuracy 1.0 from step 105, test accuracy 0.0075 at "
                "step 2,000 (chance 0.0083): memorization, not yet grokking; 534 s wall, 440 s user CPU",
        "values": {**_NANDA, "task": "perm-compose", "perm_n": 5, "frac": 0.5, "lr": 3e-3, "wd": 1.0, "steps": 2000,
                   "eval_every": 50},
    },
    "s5-grok": {
        "cite": "Power et al. 2022 (S5 composition); Chughtai et al. 2023's embedding MLP (irreps)",
        "description": "S5 composition, 50% train, ReLU MLP over 256-d embeddings (128 hidden), AdamW lr 1e-2 wd 3",
        "note": "the kind of network Chughtai et al. study (embedded operands, one ReLU hidden layer; here one "
                "embedding shared by both operands), full batch, lr and wd raised until it groks in minutes. Measured "
                "here (`groklab train --preset s5-grok "
                "--seed S`, S = 0, 1, 2; 2 cores at load 2-5): t_mem 97, 97, 129; t_gen (test accuracy >= 0.99) 900, "
                "575, 2,200; wall 212, 197, 199 s (181, 205, 175 s user CPU). `groklab analyze` at step 3,000 names "
                "irreps (1^5), (4,1), (2,1^3) / (1^5), (4,1) / (1^5), (2,2,1), (4,1), (2,1^3): keeping only them, test "
                "accuracy 100% (seed 2: the model's 98.9%); removing them, 0.5%, 0.8%, 0.4% (chance 1.0%); each "
                "checkpoint that fits the training set below 90% test accuracy (15, 14, 20 of them) reads memorizing. "
                "s5-compose (nanda2023's transformer, 2,000 "
                "steps) memorized at step 100 and stayed at test accuracy 0.0086 (1,418 s on the loaded machine)",
        "values": dict(task="perm-compose", perm_n=5, frac=0.5, model="mlp", input="embed", d_embed=256, n_layers=1,
                       d_mlp=128, act="relu", bias=True, optimizer="adamw", lr=1e-2, beta1=0.9, beta2=0.98, wd=3.0,
                       warmup=0, batch_size=None, steps=3000, eval_every=25, ckpt_per_decade=8),
    },
    "s5-quadratic": {
        "cite": "Power et al. 2022 (S5 composition); Gromov 2023's quadratic MLP",
        "description": "S5 composition, 30% train, quadratic one-hot MLP (N=500), MSE: memorizes ~15, groks ~500 steps",
        "note": "Gromov 2023's recipe (gromov2023) on S5 at 30% data and wd 1. Measured here (seeds 0, 1, 2): "
                "t_mem 15, 14, 15; t_gen 520, 490, 510; wall 47, 46, 67 s (37-38 s user CPU). Unlike s5-grok it "
                "uses all six non-trivial irreps (as the quadratic MLP uses every frequency of Z_p): keeping only "
                "them, test accuracy 100%; removing them, 0.4-0.5% (chance 1.0%); the 18 checkpoints per seed that "
                "fit the training set below 90% test accuracy read memorizing",
        "values": {**_GROMOV, "task": "perm-compose", "perm_n": 5, "frac": 0.3, "wd": 1.0, "steps": 1000,
                   "eval_every": 10, "ckpt_per_decade": 12},
    },
    "power2022": {
        "cite": "Power et al. 2022, Grokking: generalization beyond overfitting on small algorithmic datasets",
        "description": "2-layer transformer (width 128, 4 heads) on x/y mod 97, 50% train, batch 512, AdamW wd 1",
        "note": "the paper's 10^5-update budget; LayerNorm on, 10-step warm-up",
        "values": dict(task="x/y", p=97, frac=0.5, model="transformer", n_layers=2, d_model=128, n_heads=4,
                       d_mlp=512, act="relu", layernorm=True, optimizer="adamw", lr=1e-3, wd=1.0, beta1=0.9,
                       beta2=0.98, warmup=10, batch_size=512, steps=100_000, eval_every=500),
    },
    "pair2023": {
        "cite": "Pearce et al. 2023, Do machine learning models memorize or generalize? (PAIR explorable)",
        "description": "1-hidden-layer MLP, 24 ReLU neurons over a factored embedding, a+b mod 67, 40% train",
        "note": "AdamW lr 1e-3 wd 1, 50,000 full-batch steps as published, but on all ordered pairs: measured "
                "here, with only the pairs a <= b (PAIR's symmetric set) this model memorized by step 1,500 and "
                "stayed at test accuracy 0.01 for 50,000 steps (3 seeds; wd 0.3-3 and lr 3e-3 alike, and with "
                "input = embed-sum 0.07), while on all ordered pairs it generalizes near step 10,000",
        "values": dict(task="x+y", p=67, symmetric=False, frac=0.4, model="mlp", input="embed", d_embed=32,
                       n_layers=1, d_mlp=24, act="relu", bias=True, optimizer="adamw", lr=1e-3, wd=1.0,
                       beta1=0.9, beta2=0.98, warmup=0, batch_size=None, steps=50_000, eval_every=250),
    },
    "gromov2023": {
        "cite": "Gromov 2023, Grokking modular arithmetic; Doshi et al. 2023",
        "description": "2-layer quadratic MLP (N=500), one-hot a+b mod 97, 50% train, MSE, AdamW lr 1e-2 wd 5",
        "note": "no biases; generalizes within ~50 full-batch steps: seconds on a laptop",
        "values": {**_GROMOV, "steps": 300, "eval_every": 5, "ckpt_per_decade": 12},
    },
    "demo": {
        "cite": "Gromov 2023 model and optimizer; weight decay and data lowered so the delay is visible",
        "description": "quadratic MLP, a+b mod 97, 30% train, wd 0.3: memorizes in ~10 steps, generalizes ~15x later",
        "note": "phase_gap 100: Liu et al.'s 10^3-step gap was set for 10^4-10^5-step budgets, "
                "scaled here to a 600-step run (for Liu et al.'s literal rule only; the default phase rule "
                "is relative to t_train and needs no scaling)",
        "values": {**_GROMOV, "frac": 0.3, "wd": 0.3, "steps": 600, "eval_every": 5, "ckpt_per_decade": 15,
                   "phase_gap": 100},
    },
    "pair2023-parity": {
        "cite": "Pearce et al. 2023 (PAIR explorable); Barak et al. 2022",
        "description": "sparse parity: 30 bits, label = parity of 3, 1,200 training strings, MLP, AdamW lr 3e-3",
        "note": "AdamW β = (0.99, 0.98) as PAIR; hidden width 128 and wd 0.1 chosen here",
        "values": dict(task="parity", parity_n=30, parity_k=3, n_train=1200, n_test=1000, model="mlp",
                       input="onehot", n_layers=1, d_mlp=128, act="relu", optimizer="adamw", lr=3e-3, wd=0.1,
                       beta1=0.99, beta2=0.98, warmup=0, batch_size=None, steps=20_000, eval_every=50),
    },
    "prieto2025-parity": {
        "cite": "Prieto et al. 2025, Grokking at the edge of numerical stability; Barak et al. 2022",
        "description": "sparse parity with 4 relevant + 50 noise bits, 1,000 samples, MLP [200, 200], no weight decay",
        "note": "StableMax cross-entropy instead of weight decay",
        "values": dict(task="parity", parity_n=54, parity_k=4, n_train=1000, n_test=1000, model="mlp",
                       input="onehot", n_layers=2, d_mlp=200, act="relu", optimizer="adamw", lr=1e-2, wd=0.0,
                       loss="stablemax", warmup=0, batch_size=None, steps=5_000, eval_every=25),
    },
    "prieto2025": {
        "cite": "Prieto et al. 2025, Grokking at the edge of numerical stability",
        "description": "MLP [200, 200] on a+b mod 113, 40% train, AdamW lr 1e-2, no weight decay, ⊥Grad",
        "note": "set --loss stablemax / --orthograd false to compare with the softmax float32 baseline",
        "values": dict(task="x+y", p=113, frac=0.4, model="mlp", input="onehot", n_layers=2, d_mlp=200,
                       act="relu", optimizer="adamw", lr=1e-2, wd=0.0, orthograd=True, warmup=0,
                       batch_size=None, steps=2_000, eval_every=10),
    },
    "omnigrok-digits": {
        "cite": "Liu, Michaud, Tegmark 2022, Omnigrok: grokking beyond algorithmic data",
        "description": "depth-3 width-200 ReLU MLP on 8x8 digits, 1,000 train, MSE, large init, AdamW lr 1e-3 wd 0.01",
        "note": "scikit-learn's digits stand in for MNIST (no download); batch 200; init scale 3 on N(0, 1/fan_in) "
                "weights: measured here, alpha 8 did not fit the training set in 20,000 steps (train acc 0.80), "
                "alpha 3 memorized at step 587 and test accuracy peaked (0.96) near step 19,000",
        "values": dict(task="digits", n_train=1000, model="mlp", input="features", n_layers=3, d_mlp=200,
                       act="relu", loss="mse", init_scale=3.0, optimizer="adamw", lr=1e-3, wd=0.01,
                       warmup=0, batch_size=200, steps=20_000, eval_every=100),
    },
    "grokfast2024": {
        "cite": "Lee et al. 2024, Grokfast: accelerated grokking by amplifying slow gradients",
        "description": "x*y mod 97, 50% train, 2-layer transformer, Adam + L2 wd 0.005, batch 512, Grokfast EMA",
        "note": "GELU MLP 4x128; Adam with L2 weight decay 0.005; EMA filter alpha 0.98, lamb 2: their README's EMA "
                "command (--filter ema --alpha 0.98 --lamb 2.0 --weight_decay 0.005); the baseline is --grokfast none "
                "--wd 0, the MA filter --grokfast ma --grokfast-lamb 5 --wd 0.01. Measured here: EMA without that "
                "weight decay stayed below 5% test accuracy for 6,000 steps",
        "values": dict(task="x*y", p=97, frac=0.5, model="transformer", n_layers=2, d_model=128, n_heads=4,
                       d_mlp=512, act="gelu", layernorm=True, optimizer="adam", lr=1e-3, wd=0.005, beta1=0.9,
                       beta2=0.98, warmup=10, batch_size=512, grokfast="ema", grokfast_alpha=0.98, grokfast_lamb=2.0,
                       steps=5_000, eval_every=50),
    },
    "kg-compose-paper": {
        "cite": "Wang et al. 2024, Grokked transformers are implicit reasoners (composition.2000.200.18.0, "
                "OSU-NLP-Group/GrokkedTransformer)",
        "description": "their composition run: 2,000 entities, 200 relations, phi 18, 8-layer GPT-2-size lm (GPU)",
        "note": "their graph (20 facts per entity, 5% OOD) and model (8 layers, width 768, 12 heads, MLP 3,072, tied "
                "unembedding, pre-LN, learned positions), AdamW lr 1e-4 wd 0.1 betas (0.9, 0.999), 2,000 warm-up "
                "steps, batch 512, 1.5M steps; a GPU run (`--device cuda`): evaluation scores all ~720,000 rows at "
                "once. Not run here (no GPU); groklab's departures from their code are listed by `groklab reproduce "
                "grokked-reasoning`",
        "values": dict(task="kg-compose", kg_entities=2000, kg_relations=200, kg_degree=20, kg_phi=18.0, n_test=3000,
                       kg_seed=0, frac=0.3, model="lm", n_layers=8, d_model=768, n_heads=12, d_mlp=3072, act="gelu",
                       layernorm=True, ln_place="pre", pos="learned", tied=True, bias=True, init="normal",
                       init_scale=1.0, optimizer="adamw", lr=1e-4, wd=0.1, beta1=0.9, beta2=0.999, eps=1e-8,
                       warmup=2000, loss="ce", loss_dtype="float32", batch_size=512, steps=1_500_000,
                       grokfast="none", orthograd=False, eval_every=10_000),
    },
    "kg-compose": {
        "cite": "Wang et al. 2024, Grokked transformers are implicit reasoners (composition, OSU-NLP-Group/"
                "GrokkedTransformer)",
        "description": "two-hop composition in a 50-entity knowledge graph, phi 7.2, 2-layer causal lm, AdamW",
        "note": "their construction (5% OOD atomic facts, inferred ratio phi = 7.2, one of their six, loss on the "
                "answer and </a>) on 50 entities, 10 relations and 10 facts per entity instead of 2,000, 200 and 20; "
                "a 2-layer width-64 causal transformer instead of their 8-layer GPT-2 (width 768); AdamW lr 3e-3 wd "
                "0.3 batch 128 instead of lr 1e-4 wd 0.1 batch 512. Chosen from short runs here (1 seed each, 2 "
                "cores at load 10-13): at phi 8 train accuracy 0.95 and ID test accuracy 0.73 at step 2,000; at phi "
                "5.4 (batch 256) train 0.96 and ID 0.13 at 1,500; lr 1e-3 wd 1 learned slower. `groklab reproduce "
                "grokked-reasoning` (3 seeds, 10.8 min at load 9): train accuracy >= 0.9 at steps 1,100-1,259, ID "
                "test inferred >= 0.9 at 4,800-5,600 (0.94-0.96 at 10,000), OOD test inferred at most 0.19",
        "values": dict(task="kg-compose", kg_entities=50, kg_relations=10, kg_degree=10, kg_phi=7.2, n_test=300,
                       model="lm", n_layers=2, d_model=64, n_heads=4, d_mlp=256, act="gelu", layernorm=True,
                       ln_place="pre", pos="learned", tied=False, optimizer="adamw", lr=3e-3, wd=0.3, beta1=0.9,
                       beta2=0.98, warmup=100, batch_size=128, steps=10_000, eval_every=100),
    },
    "secret-sharer": {
        "cite": "Carlini et al. 2019, The Secret Sharer (canaries, exposure); Carlini et al. 2023 (k-extractable)",
        "description": "2-layer causal lm on the pydoc topics, canaries inserted 1, 10, 100 times, exposure ranked "
                       "exactly",
        "note": "the stdlib's pydoc topics (held-out documents, ~10% of the text), byte-level BPE of 512 tokens "
                "trained on the training documents, 1,024 training windows of 32 tokens; three canaries \"the red "
                "secret number is DDD\" (blue, green; |R| = 1,000) inserted 1, 10 and 100 times; minibatch "
                "AdamW. `groklab reproduce secret-sharer` trains it over 3 seeds and compares with the paper "
                "(docs/results.md). Measured there (3 seeds, 19 min on 2 cores at load 9): held-out perplexity "
                "lowest (62.9) at step ~241, 1,130 at step 1,500; the 100x and 10x canaries at the 9.97-bit ceiling "
                "by steps 100 and 200, the 1x canary at 5.2 bits at step 241 and at the ceiling by 600-800",
        "values": dict(task="pydoc", model="lm", frac=0.9, corpus_vocab=512, corpus_context=32, corpus_windows=1024,
                       canary_reps="1,10,100", canary_digits=3, n_layers=2, d_model=64, n_heads=4, d_mlp=256,
                       act="gelu", layernorm=True, ln_place="pre", optimizer="adamw", lr=3e-3, wd=0.1, warmup=50,
                       batch_size=32, steps=1500, eval_every=100, eval_per_decade=5),
    },
}

for _wd in (0, 5, 15, 20):
    PRESETS[f"doshi2023-wd{_wd}"] = {
        "cite": "Doshi et al. 2023, To grok or not to grok: disentangling generalization and memorization",
        "description": f"quadratic MLP on a+b mod 97, 50% train, 35% label noise, weight decay {_wd}",
        "note": "phases: wd 0 coexistence, 5 partial inversion, 15 full inversion, 20 forgetting",
        "values": {**_GROMOV, "noise": 0.35, "wd": float(_wd), "steps": 3000, "eval_every": 20},
    }


def preset_values(name: str) -> dict:
    if name not in PRESETS:
        raise ConfigError(f"preset: unknown preset {name!r}; allowed: {', '.join(PRESETS)}")
    return {**PRESETS[name]["values"], "preset": name}
