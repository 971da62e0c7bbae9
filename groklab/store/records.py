"""Run-folder records: what a run folder carries so that its catalog entry can be rebuilt from it.

The run folder, not the catalog, is the source of truth that survives the loss of ``groklab.db``:

- ``run.json``: the run's catalog row (config, status, group, member, sweep, name, seed, task,
  created, code version, machine, summary, message, wall time, step), replaced atomically whenever
  the row changes (create, status change, claim, finish, truncate);
- ``metrics.jsonl``: one line per evaluation, ``{"step", "wall_s", "metrics"}``, appended (flushed,
  not fsynced) before the same row goes into the catalog. A line torn by a kill is skipped on
  read and ended before the next append; a resume's truncate rewrites the file atomically;
- the checkpoint and state files themselves (``ckpt/``, ``state/``), whose checksums can be
  recomputed after their safetensors headers are checked.

Nothing here touches the catalog: ``groklab.store.check`` re-registers runs from these files.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from groklab.store.files import write_small

RUN_JSON = "run.json"
METRICS_FILE = "metrics.jsonl"
RECORD_FORMAT = 1
ROW_FIELDS = ("run_id", "group_id", "member", "sweep_id", "name", "status", "task", "seed", "config_hash",
              "code_version", "machine", "created", "updated", "step", "wall_s", "pid", "message")
_REQUIRED = {"run_id": str, "group_id": str, "member": int, "status": str, "task": str, "seed": int,
             "config": dict, "created": str}


def _json_default(o: Any) -> Any:
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(type(o).__name__)


def dumps(obj: Any) -> str:
    """JSON with NaN/inf as null (the catalog stays valid JSON)."""
    def clean(v):
        if isinstance(v, float) and not math.isfinite(v):
            return None
        if isinstance(v, dict):
            return {k: clean(x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [clean(x) for x in v]
        if isinstance(v, np.generic):
            return clean(v.item())
        return v
    return json.dumps(clean(obj), default=_json_default, separators=(",", ":"))


# ---------------------------------------------------------------------------------------------- run.json
def record_of_row(row: dict) -> dict:
    """The run.json of a raw catalog row (a dict of the ``runs`` table's columns)."""
    rec: dict = {"format": RECORD_FORMAT, **{k: row.get(k) for k in ROW_FIELDS}}
    rec["config"] = json.loads(row["config_json"])
    rec["summary"] = json.loads(row["summary_json"]) if row.get("summary_json") else None
    return rec


def write_run_records(recs: list[tuple[Path, dict]]) -> None:
    """Replace the run.json of each (run folder, record), atomically."""
    write_small([(d / RUN_JSON, (json.dumps(rec, sort_keys=True, indent=1) + "\n").encode()) for d, rec in recs])


def read_run_record(run_dir: Path) -> dict | None:
    """The run.json of a run folder; None if it has none (a folder written by an older groklab).
    ValueError naming the problem if it is unreadable or lacks a field the catalog needs."""
    try:
        text = (run_dir / RUN_JSON).read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as e:
        raise ValueError(f"cannot read {RUN_JSON} ({e})") from None
    try:
        rec = json.loads(text)
    except ValueError:
        raise ValueError(f"{RUN_JSON} is not JSON") from None
    if not isinstance(rec, dict):
        raise ValueError(f"{RUN_JSON} is not a JSON object")
    for k, t in _REQUIRED.items():
        if not isinstance(rec.get(k), t) or (t is int and isinstance(rec.get(k), bool)):
            raise ValueError(f"{RUN_JSON} lacks a valid {k!r}")
    if rec["run_id"] != run_dir.name:
        raise ValueError(f"{RUN_JSON} names run {rec['run_id']!r}, not its folder's")
    return rec


# ---------------------------------------------------------------------------------------------- metrics.jsonl
def _line(step: int, wall_s: float | None, blob: str) -> str:
    w = "null" if wall_s is None or not math.isfinite(wall_s) else repr(float(wall_s))
    return f'{{"step":{int(step)},"wall_s":{w},"metrics":{blob}}}\n'


def append_metrics(run_dirs: list[Path], step: int, blobs: list[str], wall_s: float | None) -> None:
    """Append one evaluation (``blobs``: each run's metrics as JSON text) to each run's metrics.jsonl."""
    for d, blob in zip(run_dirs, blobs):
        data = _line(step, wall_s, blob).encode()
        path = d / METRICS_FILE
        try:
            fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except FileNotFoundError:
            d.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            size = os.fstat(fd).st_size
            if size and os.pread(fd, 1, size - 1) != b"\n":     # a line torn by a kill: end it first
                data = b"\n" + data
            while data:
                data = data[os.write(fd, data):]
        finally:
            os.close(fd)


def read_metrics(run_dir: Path) -> list[tuple[int, float | None, dict]]:
    """(step, wall_s, metrics) per evaluation, by step; a torn or malformed line is skipped and a
    step written twice (before and after a resume) keeps its last line."""
    try:
        text = (run_dir / METRICS_FILE).read_bytes().decode("utf-8", "replace")
    except FileNotFoundError:
        return []
    rows: dict[int, tuple[float | None, dict]] = {}
    for line in text.splitlines():
        try:
            d = json.loads(line)
        except ValueError:
            continue
        if not isinstance(d, dict) or not isinstance(d.get("metrics"), dict):
            continue
        step, wall = d.get("step"), d.get("wall_s")
        if isinstance(step, int) and not isinstance(step, bool) and step >= 0:
            rows[step] = (float(wall) if isinstance(wall, (int, float)) else None, d["metrics"])
    return [(s, w, m) for s, (w, m) in sorted(rows.items())]


def rewrite_metrics(run_dir: Path, rows: list[tuple[int, str]]) -> None:
    """Replace metrics.jsonl atomically by ``rows`` ((step, metrics JSON text), from the catalog),
    keeping the wall time the old file recorded for each step."""
    wall = {s: w for s, w, _ in read_metrics(run_dir)}
    write_small([(run_dir / METRICS_FILE, "".join(_line(s, wall.get(s), b) for s, b in rows).encode())])


def has_run_files(runs_dir: Path) -> int:
    """How many run folders under ``runs_dir`` hold a run.json, a metrics file or a checkpoint."""
    n = 0
    for d in runs_dir.iterdir() if runs_dir.is_dir() else ():
        if d.is_dir() and ((d / RUN_JSON).is_file() or (d / METRICS_FILE).is_file()
                           or any(next((d / k).glob("*.safetensors"), None) is not None for k in ("ckpt", "state"))):
            n += 1
    return n
