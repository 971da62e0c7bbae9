"""Liu et al. 2022: a phase diagram of training fraction × weight decay (``liu2022``)."""

from __future__ import annotations

from collections import Counter

from groklab.config import Config, resolve
from groklab.reproduce.core import Published, Row, agrees
from groklab.reproduce.experiment import Experiment, named, register
from groklab.reproduce.outcome import Outcome

NAME = "liu2022"
LIU = "Liu et al. 2022, Towards understanding grokking: an effective theory of representation learning"
LIU_PHASES = ("comprehension", "grokking", "memorization", "confusion")
LIU_PUB = Published("present", f"{LIU}: comprehension, grokking, memorization and confusion regions")
LIU_FRACS = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
LIU_WDS = (0.0, 0.3, 1.0, 2.0, 4.0, 10.0)
# measured at p = 31, lr 3e-3 (4,000 steps): 80% data with wd 1 comprehends (test 0.9 ~300 steps after
# train), 50% with wd 1 is still rising at step 3,000 (grokking), 20% memorizes, wd 10 stays confused
LIU_MODEL = dict(task="x+y", p=31, symmetric=False, frac=0.5, model="mlp", input="embed", d_embed=32, n_layers=1,
                 d_mlp=128, act="relu", optimizer="adamw", lr=3e-3, beta1=0.9, beta2=0.98, warmup=0,
                 batch_size=None, steps=8_000, eval_every=50)


def _points(smoke: bool) -> list[Config]:
    base = resolve(None, **LIU_MODEL)
    if smoke:
        base = base.replace(p=17, d_mlp=32, steps=150, eval_every=10, ckpt_per_decade=3)
    fracs, wds = ((0.3, 0.8), (0.0, 3.0)) if smoke else (LIU_FRACS, LIU_WDS)
    return [named(NAME, f"frac={f:g} wd={w:g}", base.replace(frac=f, wd=w)) for w in wds for f in fracs]


def _tables(out: Outcome) -> list[dict]:
    """The phase diagram: weight decay down, training fraction across; each cell the Liu phase and, when
    both accuracies got there, t_test − t_train (the grokking delay; small for comprehension)."""
    cells: dict[tuple[float, float], str] = {}
    for label in out.labels:
        for x in out.labels[label]:
            c, run = x["config"], x["run"]
            if not run or not run["summary"]:
                cells[(c["wd"], c["frac"])] = "not trained"
                continue
            s = run["summary"]
            tr, te = s.get("t_train_liu"), s.get("t_test_liu")
            cells[(c["wd"], c["frac"])] = s["phase"] + (f" ({te - tr:+,})" if tr is not None and te is not None else "")
    wds = sorted({k[0] for k in cells})
    fracs = sorted({k[1] for k in cells})
    rows = [[f"{w:g}", *(cells.get((w, f), "—") for f in fracs)] for w in wds]
    return [{"title": "Phase diagram: phase (t_test − t_train, steps) at each training fraction × weight decay",
             "header": ["weight decay ↓ / fraction →", *(f"{f:g}" for f in fracs)], "rows": rows}]


def _compare(out: Outcome) -> list[Row]:
    phases = [r["summary"]["phase"] for label in out.labels for r in out.runs(label)]
    counts = Counter(phases)
    cfgs = out.configs()
    axis = {k: ", ".join(f"{v:g}" for v in sorted({c[k] for c in cfgs})) for k in ("frac", "wd")}
    grid = f"fractions {axis['frac']} × weight decays {axis['wd']}, {max(c['steps'] for c in cfgs):,} steps"
    rows = []
    for ph in LIU_PHASES:
        ours = "present" if counts.get(ph) else "absent"
        row = Row(f"{ph}: points in the region", LIU_PUB, ours, "finding", agree=agrees("finding", LIU_PUB, ours),
                  detail=f"{counts.get(ph, 0)} of {len(phases)} points")
        if row.agree is False:
            row.why = f"none of the {len(phases)} points fell in it ({grid})"
        rows.append(row)
    return rows


EXPERIMENT = register(Experiment(
    NAME, "A phase diagram: training fraction × weight decay", LIU,
    "comprehension, grokking, memorization and confusion each occupy a region of the phase diagram",
    plan=f"embedding MLP (32-d embeddings, 128 ReLU neurons) on a+b mod {LIU_MODEL['p']}, AdamW lr "
         f"{LIU_MODEL['lr']:g}: training fractions {', '.join(map(str, LIU_FRACS))} × weight decay "
         f"{', '.join(f'{w:g}' for w in LIU_WDS)}, one ensemble of {len(LIU_FRACS) * len(LIU_WDS)} members, "
         f"{LIU_MODEL['steps']:,} full-batch steps",
    axes=("frac", "wd"), paper={}, points=_points, compare=_compare, tables=_tables), order=70)
