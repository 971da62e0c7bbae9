"""`groklab serve` without a browser: what the JSON endpoints return, and its safety — paths outside the
store refused, 127.0.0.1 by default, a malformed request answered 4xx (never a 500 or a traceback),
hostile Host headers refused, and a store that is never written, even a write-protected one."""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import stat
import time
from pathlib import Path

import pytest
from serve_support import EVIL, add_run, get, make_store, process_server, raw, snapshot, thread_server

from groklab.cli.parser import build_parser
from groklab.serve.app import PAGE_CSP, REPORT_CSP
from groklab.store import Store


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return make_store(tmp_path_factory.mktemp("serve") / "store")


@pytest.fixture(scope="module")
def server(store):
    with thread_server(store["root"]) as base:
        yield base


def _json(base: str, path: str) -> dict:
    status, data = get(base, path)
    assert status == 200, data[:300]
    return json.loads(data.split(b"\r\n\r\n", 1)[1])


# ---------------------------------------------------------------------------------------------- endpoints
def test_runs_endpoint_gives_summary_columns_and_a_running_runs_latest_metrics(store, server):
    rows = {r["run_id"]: r for r in _json(server, "/api/runs")["runs"]}
    assert set(rows) >= {*store["seeds"], store["evil"], store["live"]}
    done = rows[store["seeds"][0]]
    assert (done["t_mem"], done["t_gen"], done["delay"], done["phase"], done["live"]) == (60, 200, 140, "grokking",
                                                                                        False)
    assert done["leak_auc"] is not None and done["config"]["seed"] == 0
    live = rows[store["live"]]
    assert live["status"] == "running" and live["live"] is True      # no summary: its latest evaluation
    assert live["step"] == 140 and live["t_mem"] == 60 and live["test_acc"] is not None
    assert rows[store["evil"]]["name"] == EVIL


def test_curve_endpoint_returns_only_evaluations_after_since(store, server):
    rid = store["seeds"][1]
    full = _json(server, f"/api/runs/{rid}/curve")
    assert full["curve"]["step"] == [20 * i for i in range(21)] and len(full["curve"]["test_acc"]) == 21
    tail = _json(server, f"/api/runs/{rid}/curve?since=300")
    assert tail["curve"]["step"] == [320, 340, 360, 380, 400] and tail["steps"] == 400
    assert _json(server, f"/api/runs/{rid}/curve?since=400")["curve"]["step"] == []


def test_curve_columns_assembled_by_sqlite_match_the_python_reading(store):
    from groklab.serve import queries
    from groklab.serve.readonly import open_store

    with open_store(store["root"]) as st:
        for rid in [*store["seeds"], store["live"], store["evil"]]:
            for since in (-1, 100, 10**6):
                fast = json.loads(queries.curve_text(st, rid, since))
                slow = queries.clean(queries.curve(st, rid, since))
                assert fast["curve"].keys() == slow["curve"].keys() and fast["curve"]["step"] == slow["curve"]["step"]
                for k, col in slow["curve"].items():
                    assert fast["curve"][k] == pytest.approx(col, rel=1e-13), k
                fast.pop("curve"), slow.pop("curve")
                assert fast == slow


def test_a_metric_row_sqlite_cannot_parse_is_still_served_with_nulls(tmp_path):
    info = make_store(tmp_path / "nan")
    with sqlite3.connect(info["root"] / "groklab.db") as c:     # NaN, as no groklab writes it but JSON allows
        c.execute("INSERT INTO metrics (run_id, step, data_json) VALUES (?, 999, ?)",
                  (info["live"], '{"train_acc": NaN, "test_acc": 0.5}'))
    with thread_server(info["root"]) as base:
        got = _json(base, f"/api/runs/{info['live']}/curve?since=900")
    assert got["curve"] == {"step": [999], "test_acc": [0.5], "train_acc": [None]}


def test_state_fingerprint_changes_when_a_run_logs_an_evaluation(store, server):
    before = _json(server, "/api/state")
    st = Store(store["root"])
    st.log_metrics([store["live"]], 160, [{"train_acc": 1.0, "test_acc": 0.1}], wall_s=1.6)
    st.close()
    after = _json(server, "/api/state")
    assert after["runs"] != before["runs"] and after["sweeps"] == before["sweeps"]
    assert _json(server, f"/api/runs/{store['live']}/curve?since=140")["curve"]["step"] == [160]


def test_sweep_endpoint_gives_points_phase_diagram_and_swept_fields(store, server):
    v = _json(server, f"/api/sweeps/{store['sweep']}")
    assert v["axes"] == ["frac", "wd"] and v["n_done"] == 2 and v["sweep"]["n_points"] == 4
    assert sorted(p["phase"] for p in v["diagram"]["points"]) == ["grokking", "memorization"]
    assert [r["status"] for r in v["rows"]] == ["done", "done", "pending", "pending"]


def test_report_route_serves_the_written_report_or_renders_one(store, server):
    rid = store["seeds"][2]
    status, data = get(server, f"/runs/{rid}/report.html")       # none written: rendered by the report code
    assert status == 200 and b"groklab run report" in data and REPORT_CSP.encode() in data
    assert not (store["root"] / "runs" / rid / "report.html").exists()
    written = store["root"] / "runs" / store["seeds"][0] / "report.html"
    written.write_text("<!DOCTYPE html><title>written by groklab report</title>")
    try:
        status, data = get(server, f"/runs/{store['seeds'][0]}/report.html")
        assert status == 200 and data.endswith(b"<title>written by groklab report</title>")
    finally:
        written.unlink()
    status, data = get(server, f"/sweeps/{store['sweep']}/report.html")
    assert status == 200 and b"groklab sweep report" in data and f"/runs/{store['seeds'][0]}".encode() not in data


def test_every_response_carries_the_content_security_policy_and_nosniff(server):
    for path, csp in (("/", PAGE_CSP), ("/api/runs", PAGE_CSP), ("/assets/js/main.js", PAGE_CSP)):
        status, data = get(server, path)
        head = data.split(b"\r\n\r\n", 1)[0].decode().lower()
        assert status == 200 and f"content-security-policy: {csp}".lower() in head
        assert "x-content-type-options: nosniff" in head and "x-frame-options: deny" in head


# ---------------------------------------------------------------------------------------------- safety
TRAVERSALS = [
    "/assets/../groklab.db", "/assets/..%2fgroklab.db", "/assets/%2e%2e/%2e%2e/groklab.db",
    "/assets/..%2F..%2F..%2Fgroklab.db", "/assets/%2e%2e%2f%2e%2e%2f%2e%2e%2fgroklab.db", "/assets//etc/passwd",
    "/assets/%2Fetc%2Fpasswd", "/assets/..\\..\\groklab.db", "/assets/vendor/../../../../groklab.db",
    "/runs/../groklab.db", "/runs/..%2F..%2Fgroklab.db/report.html", "/runs/%2e%2e/report.html",
    "/runs/..%2f..%2f..%2fetc%2fpasswd%00/report.html", "/sweeps/..%2f..%2f/report.html",
    "/api/runs/..%2F..%2Fetc%2Fpasswd/curve", "/api/runs/../../groklab.db", "/groklab.db", "/runs/",
    "/assets/", "/assets/%00", "/assets/../../../../../../etc/passwd",
]


@pytest.mark.parametrize("path", TRAVERSALS)
def test_paths_outside_the_store_and_assets_are_refused(server, path):
    status, data = get(server, path)
    assert status in (400, 403, 404), (status, data[:200])
    assert b"SQLite format" not in data and b"root:" not in data


def test_a_report_symlinked_out_of_the_store_is_not_followed(store, server):
    rid = store["evil_cfg"]
    secret = store["root"].parent / "secret.html"
    secret.write_text("TOP SECRET outside the store")
    link = store["root"] / "runs" / rid / "report.html"
    link.symlink_to(secret)
    try:
        status, data = get(server, f"/runs/{rid}/report.html")
        assert status == 200 and b"TOP SECRET" not in data and b"groklab run report" in data
    finally:
        link.unlink()


MALFORMED = [
    "/api/runs/x/curve?since=abc", "/api/runs/{rid}/curve?since=1e99", "/api/runs/{rid}/curve?since=-5",
    "/api/runs/{rid}/curve?since=99999999999999999999999", "/api/runs/{rid}/curve?since=%00",
    "/runs/{rid}/report.html?fresh=maybe", "/api/runs/NOPE", "/api/runs/r" + "a" * 300, "/api/runs/%ff%fe",
    "/api/runs/%00", "/api/runs/%E2%80%AE", "/api/sweeps/does-not-exist", "/api/sweeps/%3Cscript%3E",
    "/api/runs/does-not-exist/curve", "/runs/does-not-exist/report.html", "/sweeps/nope/report.html",
    "/api/nothing", "/%", "/api/runs/%zz", "/api/runs/" + "%2e" * 50,
]


@pytest.mark.parametrize("path", MALFORMED)
def test_malformed_requests_get_a_4xx_and_no_traceback(store, server, path):
    status, data = get(server, path.replace("{rid}", store["seeds"][0]))
    assert 400 <= status < 500, (status, data[:300])
    assert b"Traceback" not in data and b'File "' not in data


@pytest.mark.parametrize("request_bytes", [
    b"GARBAGE\r\n\r\n", b"GET\r\n\r\n", b"GET /api/runs HTTP/9.9\r\nHost: x\r\n\r\n",
    b"GET /api/runs HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: -1\r\n\r\n",
    b"GET /api/runs HTTP/1.1\r\nHost: 127.0.0.1\r\nBad Header\r\n\r\n",
    b"GET /api/runs HTTP/1.0\r\n\r\n",                         # no Host header at all
    b"GET /api/runs HTTP/1.1\r\nHost: evil.example:80\r\n\r\n",  # DNS rebinding: another site's name
])
def test_broken_http_and_foreign_host_headers_are_refused_with_a_4xx(server, request_bytes):
    status, data = raw(server, request_bytes)
    assert 400 <= status < 500, (status, data[:300])
    assert b"Traceback" not in data


def test_a_request_with_a_megabyte_of_headers_is_cut_off_without_a_5xx(server):
    status, data = raw(server, b"GET /api/runs HTTP/1.1\r\nHost: 127.0.0.1\r\nX: " + b"a" * 1_000_000 + b"\r\n\r\n")
    assert status == 0 or 400 <= status < 500, data[:300]        # dropped, or refused


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH"])
def test_the_server_accepts_no_method_that_could_change_anything(server, method):
    status, _ = get(server, "/api/runs", method=method)
    assert status == 405


def test_serve_binds_127_0_0_1_by_default(store):
    args = build_parser().parse_args(["serve"])
    assert args.host == "127.0.0.1"
    with process_server(store["root"], cli=True) as (base, _):
        host, port = base.removeprefix("http://").split(":")
        assert host == "127.0.0.1"
        listening = [line.split() for line in Path("/proc/net/tcp").read_text().splitlines()[1:]]
        mine = [f[1] for f in listening if f[3] == "0A" and int(f[1].split(":")[1], 16) == int(port)]
        assert mine == [f"0100007F:{int(port):04X}"]            # 127.0.0.1, not 0.0.0.0
        status, _ = get(base, "/api/state")
        assert status == 200
        others = [a for a in _own_addresses() if not a.startswith("127.")]
        for addr in others:                                     # not reachable on the machine's other addresses
            with pytest.raises(OSError):
                socket.create_connection((addr, int(port)), timeout=2).close()


def _own_addresses() -> list[str]:
    try:
        return sorted({i[4][0] for i in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET)})
    except OSError:
        return []


def test_the_listening_socket_is_tcp_so_its_connections_get_tcp_nodelay():
    from groklab.serve.server import bind

    sock = bind("127.0.0.1", 0)      # asyncio sets TCP_NODELAY only on connections of a socket with this proto
    try:
        assert sock.proto == socket.IPPROTO_TCP and sock.getsockname()[0] == "127.0.0.1"
    finally:
        sock.close()


def test_serve_refuses_a_port_out_of_range(tmp_path, capsys):
    from groklab.cli import main

    assert main(["serve", "--store", str(tmp_path), "--port", "70000"]) == 2
    assert "--port 70000 is not a port" in capsys.readouterr().err


def test_serve_refuses_a_store_that_does_not_exist(tmp_path, capsys):
    from groklab.cli import main

    assert main(["serve", "--store", str(tmp_path / "nothing"), "--port", "0"]) == 2
    assert "no store at" in capsys.readouterr().err


# ---------------------------------------------------------------------------------------------- never writes
def _exercise(base: str, info: dict) -> None:
    """Every route the page uses, reports included (rendered, since none is written)."""
    for path in ["/", "/assets/app.css", "/assets/js/main.js", "/assets/vendor/echarts.min.js", "/api/state",
                 "/api/runs", "/api/sweeps", f"/api/sweeps/{info['sweep']}", f"/sweeps/{info['sweep']}/report.html"]:
        assert get(base, path)[0] == 200, path
    for rid in [*info["seeds"], info["live"], info["evil"]]:
        for path in (f"/api/runs/{rid}", f"/api/runs/{rid}/curve", f"/api/runs/{rid}/curve?since=100",
                     f"/runs/{rid}/report.html", f"/runs/{rid}/report.html?fresh=1"):
            assert get(base, path)[0] == 200, path
    for path in MALFORMED[:6] + TRAVERSALS[:6]:
        get(base, path.replace("{rid}", info["seeds"][0]))


def test_a_write_protected_store_is_served_and_left_byte_for_byte_as_it_was(tmp_path):
    info = make_store(tmp_path / "ro")
    root = info["root"]
    for dirpath, dirnames, filenames in os.walk(root):          # chmod -R a-w
        for name in [*dirnames, *filenames, "."]:
            p = Path(dirpath) / name
            p.chmod(stat.S_IMODE(p.stat().st_mode) & ~0o222)
    before = snapshot(root)
    try:
        with thread_server(root) as base:
            _exercise(base, info)
            time.sleep(0.2)
        assert snapshot(root) == before                        # no -wal/-shm, no report, no mtime changed
    finally:
        for dirpath, dirnames, filenames in os.walk(root):
            for name in [*dirnames, *filenames, "."]:
                p = Path(dirpath) / name
                p.chmod(stat.S_IMODE(p.stat().st_mode) | 0o200)


def test_a_writable_store_keeps_its_catalog_and_run_files_unchanged_while_served(tmp_path):
    info = make_store(tmp_path / "rw")
    root = info["root"]
    sqlite_own = {"groklab.db-wal", "groklab.db-shm"}          # SQLite's shared-memory files for readers
    before = {k: v for k, v in snapshot(root).items() if k not in sqlite_own}
    with thread_server(root) as base:
        _exercise(base, info)
    after = {k: v for k, v in snapshot(root).items() if k not in sqlite_own}
    assert after == before


def test_a_trainer_writes_while_the_server_reads(tmp_path):
    """A read-only reader never blocks the writer: evaluations logged while the server answers land at once."""
    info = make_store(tmp_path / "w")
    st = Store(info["root"])
    with thread_server(info["root"]) as base:
        for i in range(30):
            t = time.perf_counter()
            st.log_metrics([info["live"]], 1000 + i, [{"train_acc": 1.0, "test_acc": 0.5}], wall_s=float(i))
            assert time.perf_counter() - t < 5.0                       # not stuck behind a reader's lock
            assert get(base, f"/api/runs/{info['live']}/curve?since={999 + i}")[0] == 200
        got = _json(base, f"/api/runs/{info['live']}/curve?since=999")["curve"]["step"]
    st.close()
    assert got == list(range(1000, 1030))


def test_a_run_added_later_is_listed_on_the_next_request(tmp_path):
    info = make_store(tmp_path / "later")
    with thread_server(info["root"]) as base:
        n = len(_json(base, "/api/runs")["runs"])
        st = Store(info["root"])
        rid = add_run(st, {"seed": 42, "name": "late"})
        st.close()
        rows = _json(base, "/api/runs")["runs"]
    assert len(rows) == n + 1 and rows[0]["run_id"] == rid


def test_every_asset_ships_in_the_package_and_echarts_keeps_its_licences():
    import fnmatch
    import tomllib

    repo = Path(__file__).resolve().parent.parent
    globs = tomllib.loads((repo / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["groklab"]
    assets = repo / "groklab" / "serve" / "assets"
    files = [f.relative_to(repo / "groklab").as_posix() for f in assets.rglob("*") if f.is_file()]
    assert files and [f for f in files if not any(fnmatch.fnmatch(f, g) for g in globs)] == []
    vendor = assets / "vendor"
    assert (vendor / "echarts.min.js").stat().st_size > 500_000
    assert "Apache License" in (vendor / "echarts.LICENSE").read_text()
    assert "BSD" in (vendor / "zrender.LICENSE").read_text()
