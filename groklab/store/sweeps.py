"""The sweeps of a store: a sweep's spec and points, their progress, and its status."""

from __future__ import annotations

import json

from groklab.errors import StoreError
from groklab.store.common import RUN_ID, new_id, now
from groklab.store.records import dumps


class SweepTables:
    """The sweep methods of ``Store`` (which provides ``conn``, ``root`` and ``_tx``)."""

    def create_sweep(self, name: str | None, kind: str, spec: dict, points: list[dict],
                     sweep_id: str | None = None) -> str:
        sid = sweep_id or new_id("s")
        t = now()
        with self._tx() as c:
            c.execute("INSERT INTO sweeps (sweep_id, name, kind, spec_json, status, created, updated, n_points)"
                      " VALUES (?,?,?,?,?,?,?,?)", (sid, name, kind, dumps(spec), "running", t, t, len(points)))
            c.executemany("INSERT INTO sweep_points (sweep_id, point, config_json, status) VALUES (?,?,?,?)",
                          [(sid, i, dumps(p), "pending") for i, p in enumerate(points)])
        return sid

    def extend_sweep(self, sweep_id: str, spec: dict, points: list[dict]) -> list[int]:
        """Append ``points`` (pending) to a sweep and replace its spec; returns their point numbers."""
        with self._tx() as c:
            n = c.execute("SELECT COUNT(*) FROM sweep_points WHERE sweep_id = ?", (sweep_id,)).fetchone()[0]
            c.executemany("INSERT INTO sweep_points (sweep_id, point, config_json, status) VALUES (?,?,?,?)",
                          [(sweep_id, n + i, dumps(p), "pending") for i, p in enumerate(points)])
            c.execute("UPDATE sweeps SET spec_json = ?, n_points = ?, status = 'running', updated = ? "
                      "WHERE sweep_id = ?",
                      (dumps(spec), n + len(points), now(), sweep_id))
        return list(range(n, n + len(points)))

    def sweep_points(self, sweep_id: str) -> list[dict]:
        cur = self.conn.execute("SELECT point, config_json, run_id, status FROM sweep_points WHERE sweep_id = ?"
                                " ORDER BY point", (sweep_id,))
        return [{"point": i, "config": json.loads(c), "run_id": r, "status": s} for i, c, r, s in cur.fetchall()]

    def complete_points(self, sweep_id: str, points: list[int], run_ids: list[str]) -> None:
        with self._tx() as c:
            c.executemany("UPDATE sweep_points SET run_id = ?, status = 'done' WHERE sweep_id = ? AND point = ?",
                          [(r, sweep_id, p) for p, r in zip(points, run_ids)])
            c.execute("UPDATE sweeps SET updated = ? WHERE sweep_id = ?", (now(), sweep_id))

    def set_sweep_status(self, sweep_id: str, status: str) -> None:
        with self._tx() as c:
            c.execute("UPDATE sweeps SET status = ?, updated = ? WHERE sweep_id = ?", (status, now(), sweep_id))

    def get_sweep(self, ref: str) -> dict:
        r = self.conn.execute("SELECT sweep_id, name, kind, spec_json, status, created, updated, n_points FROM sweeps"
                              " WHERE sweep_id = ? OR name = ? ORDER BY created DESC", (ref, ref)).fetchone()
        if r is None and RUN_ID.match(ref or ""):
            rows = self.conn.execute("SELECT sweep_id FROM sweeps WHERE sweep_id LIKE ?", (ref + "%",)).fetchall()
            if len(rows) == 1:
                return self.get_sweep(rows[0][0])
        if r is None:
            raise StoreError(f"sweep: no sweep {ref!r} in {self.root} (see `groklab sweeps`)")
        keys = ["sweep_id", "name", "kind", "spec", "status", "created", "updated", "n_points"]
        d = dict(zip(keys, r))
        d["spec"] = json.loads(d["spec"])
        return d

    def list_sweeps(self) -> list[dict]:
        """Every sweep, newest first, with its points done; one recorded 'running' that no live process
        holds reads 'interrupted' (as a run with a dead pid does)."""
        ids = [r[0] for r in self.conn.execute("SELECT sweep_id FROM sweeps ORDER BY created DESC").fetchall()]
        out = []
        for sid in ids:
            d = self.get_sweep(sid)
            d["n_done"] = self.conn.execute("SELECT COUNT(*) FROM sweep_points WHERE sweep_id = ? AND status = 'done'",
                                            (sid,)).fetchone()[0]
            if d["status"] == "running" and self.lease_holder("sweep", sid) is None:
                d["status"] = "interrupted"    # no process holds its lease: `groklab check --repair` records it
            out.append(d)
        return out

    def is_sweep(self, ref: str) -> bool:
        try:
            self.get_sweep(ref)
            return True
        except StoreError:
            return False
