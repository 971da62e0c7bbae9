"""Power et al. 2022: which operators generalize at 95% data (``power2022-operators``).

Their model and optimizer, read from openai/grok (``transformer.py``, ``training.py``): 2 decoder blocks of
width 128 with 4 heads and a 4× ReLU MLP, post-LN (``LN(x + f(x))``), every linear layer without biases
and PyTorch's default init, an operator token (``a ∘ b =``); AdamW lr 1e-3 β (0.9, 0.98) eps 1e-8 with a
10-step linear warm-up, batch min(512, N/2), 10⁵ updates; the paper's weight decay 1.
"""

from __future__ import annotations

from groklab.config import Config, from_dict
from groklab.reproduce.core import MIN_SEEDS, Published, Row
from groklab.reproduce.experiment import TINY_TRANSFORMER, Experiment, register, seeded
from groklab.reproduce.outcome import Outcome, finding, reach

NAME = "power2022-operators"
POWER = "Power et al. 2022, Grokking: generalization beyond overfitting on small algorithmic datasets"
POWER_OPERATORS = ("x+y", "x-y", "x*y", "x/y", "x^2+y", "x^3+y", "x^2+y^2", "x^2+xy+y^2", "x^2+xy+y^2+x",
                   "x^3+xy", "x^3+xy^2+y", "x/y if y odd else x-y", "x+y if x even else x*y",
                   "x+y if x even else x-y")
POWER_FULL = ("x+y", "x-y", "x*y", "x/y", "x^3+xy^2+y")       # the full version: the claim's two sides
POWER_NEVER = "x^3+xy^2+y"
POWER_FRAC = 0.95
POWER_BUDGET = 100_000
POWER_NEVER_PUB = Published("no", f"{POWER}: x^3+xy^2+y never generalizes within 10^5 updates, even at 95% data",
                            by=POWER_BUDGET)
POWER_GEN_PUB = Published("yes", f"{POWER}: the modular operators generalize (99% validation accuracy) within 10^5 "
                                 "updates at far less than 95% data", by=POWER_BUDGET)
POWER_SEEDS = tuple(range(MIN_SEEDS))
POWER_STEPS = (6_000, 100)        # ours: steps and evaluation interval of the full version
POWER_SETUP = dict(p=97, symmetric=False, y_nonzero=False, operands=None, frac=POWER_FRAC, model="transformer",
                   n_layers=2, d_model=128, n_heads=4, d_mlp=512, act="relu", layernorm=True, ln_place="post",
                   tied=False, op_token=True, bias=False, init="uniform", init_scale=1.0, optimizer="adamw",
                   lr=1e-3, wd=1.0, beta1=0.9, beta2=0.98, eps=1e-8, warmup=10, loss="ce", loss_dtype="float32",
                   batch_size=512, steps=POWER_BUDGET, grokfast="none", orthograd=False)
POWER_STAND_INS = ("their sequence is <eos> a ∘ b = c <eos> with a fixed sinusoidal position encoding and the loss "
                   "on the tokens after '=' (ours: a ∘ b = with learned positions, the loss on c); their unembedding "
                   "spans the whole vocabulary (ours: the p classes)",)


def _setup(label: str) -> dict:
    return {**POWER_SETUP, "task": label}


def _points(smoke: bool) -> list[Config]:
    if smoke:
        return [c for op in ("x+y", POWER_NEVER) for c in seeded(NAME, op, from_dict(
            {**POWER_SETUP, **TINY_TRANSFORMER, "task": op, "batch_size": 64, "steps": 100, "eval_every": 10,
             "ckpt_per_decade": 3}), (0,))]
    steps, every = POWER_STEPS
    return [c for op in POWER_FULL for c in seeded(NAME, op, from_dict(
        {**POWER_SETUP, "task": op, "steps": steps, "eval_every": every}), POWER_SEEDS)]


def _compare(out: Outcome) -> list[Row]:
    rows = []
    for op in out.labels:
        rows.append(reach(out, op, "test_acc", 0.99, quantity=f"{op}: first step with 99% test accuracy, "
                                                               f"{POWER_FRAC:.0%} of pairs in training"))
        pub = POWER_NEVER_PUB if op == POWER_NEVER else POWER_GEN_PUB
        rows.append(finding(out, op, "test_acc", 0.99, pub, f"{op}: generalizes (99% test accuracy)"))
    return rows


EXPERIMENT = register(Experiment(
    NAME, "Which operators generalize", POWER,
    "x^3+xy^2+y never generalizes, even at 95% data, while the modular operators do",
    plan=f"their 2-layer post-LN bias-free transformer and optimizer (AdamW lr 1e-3 wd 1, batch 512) at "
         f"{POWER_FRAC:.0%} data on {', '.join(POWER_FULL)}, {len(POWER_SEEDS)} seeds each, {POWER_STEPS[0]:,} of "
         f"their 10^5 steps (a \"no\" before 10^5 reads undecided); 36 minutes on 2 cores (measured at load 1-4)",
    axes=("task",), setup=_setup, points=_points, compare=_compare, stand_ins=POWER_STAND_INS), order=20)
