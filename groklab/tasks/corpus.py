"""A text corpus for sequence models, with planted canaries (task ``pydoc``).

The corpus is the documentation topics that every CPython installation ships in the standard
library's ``pydoc_data.topics`` (79 documents, ~465,000 characters in Python 3.11; the text follows
the interpreter's version, so ``meta["corpus_sha256"]`` records which one a run read). The documents
are split by document (held-out documents chosen by the data seed, about ``1 - frac`` of the
characters), a byte-level BPE (Hugging Face ``tokenizers``) is trained in process on the training
documents only, and both sides are cut into windows of ``corpus_context + 1`` tokens: row n reads
``x[n] = w[:-1]`` and is scored on ``y[n] = w[1:]``.

Canaries follow Carlini et al. 2019 ("The Secret Sharer"): a fixed template followed by a random
secret of ``canary_digits`` digits, one canary per entry of ``canary_reps``, inserted that many times
as training rows (the canary, then a random training window's text). The pre-tokenizer isolates every
digit, so a digit is always one token and a secret has exactly 10^k candidates: each canary's
candidates are rows of their own, neither trained on nor held out, scored only on the secret's
positions, so their loss ranks the true secret among all 10^k (``groklab.measure.exposure``).

Row order: training windows, canary insertions, held-out windows, then each canary's block of 10^k
candidates: the true secret first, then every other secret in numeric order (the compiled exposure
metric finds a block's secret by that place, ``groklab.measure.metrics.exposure``). The table's shape
depends only on the config's sizes, never on the data seed, so members with different data seeds stack
into one ensemble.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache

import numpy as np

from groklab.errors import ConfigError
from groklab.tasks import TaskFamily
from groklab.tasks.base import Table

TASK = "pydoc"
# one template per canary, so that canaries do not compete for one prefix (the paper plants one canary per
# model): canary i reads TEMPLATE.format(NAMES[i]) followed by its secret
TEMPLATE = "the {} secret number is "
NAMES = ("red", "blue", "green", "gold", "grey", "pink", "brown", "white")
HELDOUT_SHARE = 8            # held-out windows: corpus_windows // HELDOUT_SHARE
_SEED_TAG = 0xC0DE5


def documents() -> dict[str, str]:
    """The corpus: topic name -> text, from the standard library (nothing is downloaded)."""
    from pydoc_data.topics import topics

    return dict(sorted(topics.items()))


def corpus_sha256() -> str:
    blob = "\x00".join(f"{k}\x00{v}" for k, v in documents().items()).encode()
    return hashlib.sha256(blob).hexdigest()


@lru_cache(maxsize=8)
def tokenizer(train_docs: tuple[str, ...], vocab: int):
    """A byte-level BPE of ``vocab`` tokens trained on the named documents; digits are single tokens.

    Deterministic: the same documents and size give the same merges (tests/test_corpus.py)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Digits(individual_digits=True),
                                                 pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)])
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  show_progress=False, special_tokens=[])
    docs = documents()
    tok.train_from_iterator([docs[k] for k in train_docs], trainer)
    return tok


def encode(tok, text: str) -> np.ndarray:
    return np.asarray(tok.encode(text).ids, np.int32)


def decode(tok, ids) -> str:
    return tok.decode([int(i) for i in ids])


def digit_ids(tok) -> np.ndarray:
    """Token ids of "0" … "9" (index d holds digit d)."""
    return np.asarray([tok.token_to_id(str(d)) for d in range(10)], np.int32)


def parse_reps(text: str) -> tuple[int, ...]:
    """``canary_reps`` ("1,10,100") as a tuple of positive ints; "" is no canaries."""
    if not text.strip():
        return ()
    try:
        reps = tuple(int(s) for s in text.split(","))
    except ValueError:
        reps = ()
    if not reps or any(r < 1 for r in reps):
        raise ConfigError(f"canary_reps: got {text!r}; allowed comma-separated positive integers such as "
                          "\"1,10,100\", or \"\" for none")
    return reps


def split_documents(names: list[str], sizes: list[int], frac: float, seed: int) -> tuple[list[str], list[str]]:
    """(training, held-out) document names: documents in an order drawn from the seed go to the held-out
    side until it holds ``1 - frac`` of the characters; each side keeps at least one document."""
    order = np.random.default_rng(np.random.SeedSequence([seed, _SEED_TAG])).permutation(len(names))
    want, held, out = (1.0 - frac) * sum(sizes), 0, set()
    for i in order[:-1]:
        if held >= want:
            break
        out.add(int(i))
        held += sizes[i]
    if not out:
        out.add(int(order[0]))
    return sorted(n for i, n in enumerate(names) if i not in out), sorted(names[i] for i in sorted(out))


def windows(tok, texts: list[str], context: int) -> np.ndarray:
    """Every document cut into windows of ``context + 1`` tokens (consecutive windows share one token);
    [W, context + 1] int32, documents never mixed in a window."""
    out = []
    for text in texts:
        ids = encode(tok, text)
        n = (ids.size - 1) // context
        if n > 0:
            out.append(np.lib.stride_tricks.sliding_window_view(ids, context + 1)[::context][:n])
    return np.concatenate(out).astype(np.int32) if out else np.zeros((0, context + 1), np.int32)


def _pick(rng: np.random.Generator, pool: np.ndarray, k: int, field: str, side: str) -> np.ndarray:
    if pool.shape[0] < k:
        raise ConfigError(f"{field}: needs {k} {side} windows; the {side} documents give {pool.shape[0]} "
                          "(lower corpus_windows or corpus_context, or change frac)")
    return pool[np.sort(rng.choice(pool.shape[0], size=k, replace=False))]


def all_secrets(k: int, first: int | None = None) -> np.ndarray:
    """Every secret of k digits, [10^k, k]: in numeric order (row i spells i with leading zeros), or with
    the secret numbered ``first`` moved to the front and the others in numeric order."""
    i = np.arange(10 ** k)
    if first is not None:
        i = np.concatenate([[first], i[i != first]])
    return np.stack([(i // 10 ** (k - 1 - j)) % 10 for j in range(k)], axis=1).astype(np.int32)


def _canaries(tok, rng, reps: tuple[int, ...], k: int, context: int, filler: np.ndarray):
    """(insertion rows [sum(reps), context + 1], candidate rows x, y, per-canary facts)."""
    digits = digit_ids(tok)
    inserts, cx, cy, facts = [], [], [], []
    for name, r in zip(NAMES, reps):
        prefix = encode(tok, TEMPLATE.format(name))
        P = prefix.size
        if P + k + 1 > context:
            raise ConfigError(f"corpus_context: got {context}; a canary needs at least {P + k + 2} tokens")
        secret = rng.integers(0, 10, size=k).astype(np.int32)
        cand = all_secrets(k, int(secret @ (10 ** np.arange(k - 1, -1, -1))))
        canary = np.concatenate([prefix, digits[secret]])
        for j in rng.choice(filler.shape[0], size=r, replace=True):
            inserts.append(np.concatenate([canary, filler[j, : context + 1 - canary.size]]))
        x = np.concatenate([np.tile(prefix, (cand.shape[0], 1)), digits[cand],
                            np.tile(filler[0, : context - P - k], (cand.shape[0], 1))], axis=1)
        y = np.full_like(x, -1)
        y[:, P - 1: P - 1 + k] = digits[cand]     # position t predicts token t + 1: the secret's k digits
        cx.append(x)
        cy.append(y)
        facts.append({"reps": int(r), "secret": "".join(map(str, secret.tolist())),
                      "template": TEMPLATE.format(name), "prefix": prefix.tolist()})
    return np.stack(inserts), cx, cy, facts


def corpus_table(vocab: int, context: int, n_windows: int, reps: tuple[int, ...], k: int, frac: float,
                 seed: int) -> Table:
    """The task's table (see the module docstring); every choice is drawn from ``seed``."""
    docs = documents()
    names = list(docs)
    train_docs, held_docs = split_documents(names, [len(docs[n]) for n in names], frac, seed)
    tok = tokenizer(tuple(train_docs), vocab)
    rng = np.random.default_rng(np.random.SeedSequence([seed, _SEED_TAG, 1]))
    train = _pick(rng, windows(tok, [docs[n] for n in train_docs], context), n_windows, "corpus_windows", "training")
    held = _pick(rng, windows(tok, [docs[n] for n in held_docs], context), max(1, n_windows // HELDOUT_SHARE),
                 "corpus_windows", "held-out")
    inserts, cx, cy, facts = _canaries(tok, rng, reps, k, context, train) if reps else \
        (np.zeros((0, context + 1), np.int32), [], [], [])
    seqs = np.concatenate([train, inserts, held])
    x = np.concatenate([seqs[:, :-1], *cx]).astype(np.int32)
    y = np.concatenate([seqs[:, 1:], *cy]).astype(np.int32)
    n = x.shape[0]
    n_tr, n_in, n_ho = train.shape[0], inserts.shape[0], held.shape[0]
    canary = np.zeros(n, bool)
    canary[n_tr: n_tr + n_in] = True
    start = n_tr + n_in + n_ho
    for i, f in enumerate(facts):
        f["rows"] = [start + i * 10 ** k, start + (i + 1) * 10 ** k]     # [first, last): the secret's row first
    meta = {"sequence": True, "splits": {"canary": canary}, "canaries": facts, "canary_digits": k,
            "digit_ids": digit_ids(tok).tolist(),
            "train_docs": train_docs, "test_docs": held_docs, "corpus_sha256": corpus_sha256(),
            "context": context, "tokens_train": int(n_tr * context)}
    return Table(name=TASK, x=x, y=y, n_classes=vocab, vocab_size=vocab, meta=meta,
                 fixed_train_idx=np.arange(n_tr + n_in), fixed_test_idx=np.arange(n_tr + n_in, start))


def check(c) -> None:
    """The corpus task's own rules (the fields' ranges are declared in ``groklab.config``)."""
    reps = parse_reps(getattr(c, "canary_reps", ""))
    if len(reps) > len(NAMES):
        raise ConfigError(f"canary_reps: got {len(reps)} canaries; allowed at most {len(NAMES)}")
    if reps and sum(reps) > int(getattr(c, "corpus_windows", 0)):
        raise ConfigError(f"canary_reps: got {sum(reps)} insertions; allowed at most corpus_windows = "
                          f"{getattr(c, 'corpus_windows', 0)}")
    if c.model != "lm":
        raise ConfigError(f"model: got {c.model!r}; allowed 'lm' for task {TASK} (a causal sequence model)")


def build(c) -> Table:
    return corpus_table(int(c.corpus_vocab), int(c.corpus_context), int(c.corpus_windows),
                        parse_reps(c.canary_reps), int(c.canary_digits), float(c.frac), int(c.split_seed))


FAMILIES: list[TaskFamily] = [
    TaskFamily(key="corpus", names={TASK: "text: the standard library's pydoc topics, byte-level BPE, held-out "
                                          "documents, planted canaries (Carlini et al. 2019)"},
               params=("frac", "corpus_vocab", "corpus_context", "corpus_windows", "canary_reps", "canary_digits"),
               check=check, build=build),
]
