"""Export a groklab transformer to TransformerLens (``HookedTransformer``), the interpretability
community's model class (Nanda et al.'s grokking demo runs on it).

groklab's weights already carry TransformerLens's names and shapes (W_E, W_pos, W_Q/W_K/W_V
[n_heads, d_model, d_head], W_O [n_heads, d_head, d_model], W_in, b_in, W_out, b_out, W_U,
ln1/ln2/ln_final .w/.b), so the export is a renaming: ``W_E`` → ``embed.W_E``, ``W_pos`` →
``pos_embed.W_pos``, ``W_U`` → ``unembed.W_U``; the attention biases b_Q/b_K/b_V/b_O and the
unembedding bias b_U, which groklab's transformer does not have, are zero. A tied model's W_U is
W_E[:n_classes]ᵀ. The vocabulary includes groklab's '=' token (id = the task's vocabulary size),
so d_vocab = vocab + 1 and d_vocab_out = n_classes; inputs are `a b =` with no BOS token.

The causal sequence model (``model = lm``) maps the same way with its own shapes: d_vocab = d_vocab_out =
the task's vocabulary, n_ctx = its sequence length, logits at every position; ``pos = "rope"`` becomes
``positional_embedding_type = "rotary"`` (rotary_dim = d_head, GPT-NeoX pairing, base 10,000) and has no
W_pos.

Needs the optional extra ``groklab[tl]`` (torch and a TransformerLens that still has
``HookedTransformer``, i.e. before 4.0); both are imported only inside these functions.
"""

from __future__ import annotations

import contextlib
import json
import os
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from groklab.config import Config
from groklab.errors import ConfigError

EXTRA_MESSAGE = "export: needs the optional extra groklab[tl] (pip install 'groklab[tl]')"
# groklab activation -> TransformerLens act_fn (quadratic has none)
_ACT_FN = {"relu": "relu", "gelu": "gelu"}


def _import_tl():
    try:
        import torch
        import transformer_lens
    except ImportError:
        raise ConfigError(EXTRA_MESSAGE) from None
    try:
        from transformer_lens import HookedTransformer, HookedTransformerConfig
    except ImportError:
        raise ConfigError("export: the installed transformer-lens has no HookedTransformer (removed in 4.0); "
                          "install 'transformer-lens<4' (groklab[tl] pins 3.9.0)") from None
    del transformer_lens
    return torch, HookedTransformer, HookedTransformerConfig


def _shape(cfg: Config) -> tuple[int, int, int]:
    """(d_vocab incl. '=', n_ctx incl. '=', n_classes) of the config's task; the lm's: (vocab, T, vocab)."""
    from groklab.tasks import build_table

    table = build_table(cfg)
    if table.vocab_size is None:
        raise ConfigError(f"export: task {cfg.task} has real-valued inputs; only token tasks have a transformer")
    if cfg.model == "lm":
        return table.vocab_size, table.x.shape[1], table.vocab_size
    return table.vocab_size + 1, table.x.shape[1] + 1, table.n_classes


def hooked_config_dict(cfg: Config) -> dict[str, Any]:
    """The keyword arguments of the HookedTransformerConfig matching a groklab transformer config.

    JSON-able: ``HookedTransformerConfig(**hooked_config_dict(cfg))`` rebuilds it. ConfigError for
    an MLP or an activation TransformerLens lacks (quadratic).
    """
    if cfg.model not in ("transformer", "lm"):
        raise ConfigError(f"export: model must be transformer or lm for --format transformer-lens, got {cfg.model}")
    if cfg.layernorm and cfg.ln_place != "pre":
        raise ConfigError(f"export: ln_place {cfg.ln_place} has no TransformerLens equivalent; allowed: pre")
    if not cfg.bias or cfg.op_token:
        what = "bias false" if not cfg.bias else "op_token true"
        raise ConfigError(f"export: {what} has no TransformerLens equivalent here; allowed: bias true, op_token false")
    if cfg.act not in _ACT_FN:
        raise ConfigError(f"export: act {cfg.act} has no TransformerLens equivalent; allowed: {', '.join(_ACT_FN)}")
    d_vocab, n_ctx, n_classes = _shape(cfg)
    rope = cfg.model == "lm" and cfg.pos == "rope"
    pos = {"positional_embedding_type": "rotary", "rotary_dim": cfg.d_model // cfg.n_heads,
           "rotary_adjacent_pairs": False, "rotary_base": 10_000} if rope else {"positional_embedding_type": "standard"}
    return {
        "n_layers": cfg.n_layers, "d_model": cfg.d_model, "d_head": cfg.d_model // cfg.n_heads,
        "n_heads": cfg.n_heads, "d_mlp": cfg.d_mlp, "d_vocab": d_vocab, "d_vocab_out": n_classes,
        "n_ctx": n_ctx, "act_fn": _ACT_FN[cfg.act], "normalization_type": "LN" if cfg.layernorm else None,
        **pos, "attn_only": False, "default_prepend_bos": False,
        "eps": 1e-5, "original_architecture": "groklab", "model_name": f"groklab-{cfg.task}",
    }


def hooked_state_dict(params: dict[str, np.ndarray], cfg: Config) -> dict[str, np.ndarray]:
    """groklab transformer parameters renamed to TransformerLens's state-dict keys (float32 numpy).

    Zero biases where groklab has none; W_U from W_E for a tied model; W_E = W_E_A·W_E_B for a
    GrokTransfer run. Buffers (attention mask) are left to the model.
    """
    hc = hooked_config_dict(cfg)
    f32 = {k: np.asarray(v, np.float32) for k, v in params.items()}
    from groklab.models.transformer import embedded

    f32 = embedded(f32)     # GrokTransfer's factors (embed_from): TransformerLens gets W_E = A·B
    h, dh, d = hc["n_heads"], hc["d_head"], hc["d_model"]
    sd = {"embed.W_E": f32["W_E"],
          "unembed.W_U": f32["W_E"][:hc["d_vocab_out"]].T.copy() if cfg.tied else f32["W_U"],
          "unembed.b_U": np.zeros(hc["d_vocab_out"], np.float32)}
    if hc["positional_embedding_type"] == "standard":
        sd["pos_embed.W_pos"] = f32["W_pos"]
    for layer in range(cfg.n_layers):
        b = f"blocks.{layer}."
        names = [b + "attn.W_Q", b + "attn.W_K", b + "attn.W_V", b + "attn.W_O",
                 b + "mlp.W_in", b + "mlp.b_in", b + "mlp.W_out", b + "mlp.b_out"]
        if cfg.layernorm:
            names += [b + "ln1.w", b + "ln1.b", b + "ln2.w", b + "ln2.b"]
        sd.update({k: f32[k] for k in names})
        sd.update({b + f"attn.b_{x}": np.zeros((h, dh), np.float32) for x in "QKV"})
        sd[b + "attn.b_O"] = np.zeros(d, np.float32)
    if cfg.layernorm:
        sd.update({"ln_final.w": f32["ln_final.w"], "ln_final.b": f32["ln_final.b"]})
    return sd


def to_hooked_transformer(params: dict[str, np.ndarray], cfg: Config):
    """A ``transformer_lens.HookedTransformer`` (eval mode, CPU, float32) computing the same logits.

    params: a groklab transformer's parameters (numpy or JAX arrays), cfg its config. Every
    weight of the returned model comes from params (or is a zero bias); ConfigError for an MLP
    run, an activation TransformerLens lacks, or a missing extra.
    """
    torch, HookedTransformer, HookedTransformerConfig = _import_tl()
    hc = hooked_config_dict(cfg)
    with warnings.catch_warnings():   # 3.x marks HookedTransformer deprecated in favour of 4.x's bridge
        warnings.simplefilter("ignore", DeprecationWarning)
        model = HookedTransformer(HookedTransformerConfig(**hc, device="cpu", init_weights=False))
    mine = hooked_state_dict(params, cfg)
    full = model.state_dict()
    missing = [k for k, v in model.named_parameters() if k not in mine]
    if missing:
        raise ConfigError(f"export: TransformerLens expects parameters groklab lacks: {', '.join(missing)}")
    for k, v in mine.items():
        if k not in full or tuple(full[k].shape) != v.shape:
            got = tuple(full[k].shape) if k in full else "no such key"
            raise ConfigError(f"export: {k} has shape {v.shape}, TransformerLens expects {got}")
        full[k] = torch.from_numpy(np.array(v, dtype=np.float32, copy=True))
    model.load_state_dict(full, strict=True)
    return model.eval()


def _inside(path: Path, roots: Sequence[str | Path]) -> bool:
    return any(path.is_relative_to(Path(r).resolve()) for r in roots)


def check_out(out: str | Path, *, force: bool = False, parents: bool = False,
              roots: Sequence[str | Path] = ()) -> tuple[Path, Path]:
    """Where an export goes: (state-dict path, config path beside it, suffix .json). Nothing is written.

    ConfigError naming ``out`` for: a directory; an existing file of either path unless ``force``; a
    missing folder outside the current directory and ``roots`` unless ``parents`` (inside them it is
    created); a folder that is not one or cannot be written.
    """
    text = str(out)
    if not text.strip() or "\x00" in text:
        raise ConfigError(f"out: got {text!r}; allowed a file path such as model.pt")
    out = Path(out)
    if text.endswith(("/", os.sep)) or out.is_dir():
        raise ConfigError(f"out: {out} is a directory; allowed a file path such as {out / 'model.pt'}")
    cfg_path = out.with_suffix(".json") if out.suffix != ".json" else out.with_suffix(".config.json")
    for p in (out, cfg_path):
        if p.is_dir() or (p.exists() and not p.is_file()):
            raise ConfigError(f"out: {p} exists and is not a regular file; choose another --out")
        if p.exists() and not force:
            raise ConfigError(f"out: {p} exists; pass --force to overwrite it (the export writes {out.name} and "
                              f"{cfg_path.name})")
    folder = out.parent.resolve()
    existing = next((q for q in (folder, *folder.parents) if q.exists()), Path("/"))
    if not existing.is_dir():
        raise ConfigError(f"out: {existing} is not a folder")
    if existing != folder and not parents and not _inside(folder, [Path.cwd(), *roots]):
        raise ConfigError(f"out: folder {folder} does not exist; create it, or pass --parents to create it")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ConfigError(f"out: cannot write in {existing} (permission denied)")
    return out, cfg_path


def _write(path: Path, write) -> None:
    """``write(file)`` into a temporary file beside ``path``, then rename it over ``path``."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "xb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink()


def export_transformer_lens(params: dict[str, np.ndarray], cfg: Config, out: str | Path, *, force: bool = False,
                            parents: bool = False, roots: Sequence[str | Path] = ()) -> tuple[Path, Path]:
    """Write the HookedTransformer's state dict (``torch.save``) to ``out`` and its config to ``out``.json.

    The state dict holds tensors only, so ``torch.load(out, weights_only=True)`` reads it; rebuild
    with ``HookedTransformer(HookedTransformerConfig(**json.load(open(config))))`` and
    ``load_state_dict``. Returns (state-dict path, config path). Where it may write is ``check_out``'s
    rule (``force``: overwrite; ``parents``: create a missing folder anywhere); each file is written
    under a temporary name and renamed, so a failed export leaves no half-written file.
    """
    torch = _import_tl()[0]
    out, cfg_path = check_out(out, force=force, parents=parents, roots=roots)
    model = to_hooked_transformer(params, cfg)
    state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    text = (json.dumps(hooked_config_dict(cfg), indent=2) + "\n").encode()
    had = out.exists()
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        _write(out, lambda f: torch.save(state, f))
        try:
            _write(cfg_path, lambda f: f.write(text))
        except BaseException:
            if not had:
                out.unlink(missing_ok=True)
            raise
    except (OSError, RuntimeError) as e:
        why = e.strerror if isinstance(e, OSError) and e.strerror else str(e).splitlines()[0][:120]
        raise ConfigError(f"out: cannot write {out} ({why})") from None
    return out, cfg_path


__all__ = ["EXTRA_MESSAGE", "check_out", "export_transformer_lens", "hooked_config_dict", "hooked_state_dict",
           "to_hooked_transformer"]
