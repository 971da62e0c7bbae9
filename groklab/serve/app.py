"""The Starlette application of ``groklab serve``: JSON endpoints over a read-only store, the page and its
assets, and the runs' and sweeps' full reports.

Routes (all GET; anything else is 405, an unknown path 404, a malformed parameter 400, each a short
JSON ``{"error": ...}`` — never a traceback):

    /                                  the page (assets/index.html); its script and style: /assets/...
    /api/state                         the catalog's fingerprint (polled by the page every 1.5 s)
    /api/runs                          the runs table (``queries.run_rows``)
    /api/runs/{id}                     one run's record, config and summary
    /api/runs/{id}/curve?since=STEP    its evaluations after STEP, as columns
    /api/sweeps, /api/sweeps/{id}      the sweeps; one sweep's points and phase diagram
    /runs/{id}/report.html             the run's report (written file, or rendered now; ?fresh=1 renders)
    /sweeps/{id}/report.html           the sweep's report (likewise)

Every response carries a Content-Security-Policy (the page may load only its own scripts and talk
only to this server; a report keeps the policy it has as a file: no fetch at all), nosniff, no
referrer and no framing. A Host header other than the address served (and localhost) is refused,
so a web page elsewhere cannot read the store through DNS rebinding.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from groklab.errors import GroklabError, StoreError
from groklab.serve import queries
from groklab.serve.readonly import connect, open_store
from groklab.serve.reports import run_report, sweep_report, valid_id

ASSETS = Path(str(files("groklab.serve") / "assets"))
PAGE_CSP = ("default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
            "connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
REPORT_CSP = ("default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:; "
              "base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
LOOPBACK = ("127.0.0.1", "localhost", "::1", "[::1]")
MAX_STEP = 2**62


class SecurityHeaders:
    """ASGI middleware adding the security headers to every response (reports get their own CSP)."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        csp = REPORT_CSP if scope.get("path", "").endswith("/report.html") else PAGE_CSP

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers += [(b"content-security-policy", csp.encode()), (b"x-content-type-options", b"nosniff"),
                            (b"referrer-policy", b"no-referrer"), (b"x-frame-options", b"DENY"),
                            (b"cross-origin-resource-policy", b"same-origin")]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _json(obj, status: int = 200) -> JSONResponse:
    return JSONResponse(queries.clean(obj), status_code=status, headers={"cache-control": "no-store"})


def _error(status: int, message: str) -> JSONResponse:
    return _json({"error": message[:300]}, status)


def _since(request: Request) -> int:
    raw = request.query_params.get("since", "-1")
    try:
        since = int(raw)
    except ValueError:
        raise HTTPException(400, "since: give a step number (an integer)") from None
    if not -1 <= since <= MAX_STEP:
        raise HTTPException(400, "since: out of range")
    return since


def _flag(request: Request, name: str) -> bool:
    raw = request.query_params.get(name, "0")
    if raw not in ("0", "1", "true", "false", ""):
        raise HTTPException(400, f"{name}: give 0 or 1")
    return raw in ("1", "true")


def _ref(request: Request, key: str) -> str:
    ref = request.path_params[key]
    if not valid_id(ref):
        raise HTTPException(404, f"no such {key.removesuffix('_id')}: ids are lower-case letters, digits and '-'")
    return ref


def build_routes(root: Path) -> list:
    def with_store(fn):
        def endpoint(request: Request):
            with open_store(root) as st:
                return fn(request, st)
        return endpoint

    def api(fn):
        return with_store(lambda request, st: _json(fn(request, st)))

    def report(render, key):
        def page(request: Request, st):
            path, html = render(st, _ref(request, key), fresh=_flag(request, "fresh"))
            if path is not None:
                return FileResponse(path, media_type="text/html; charset=utf-8", headers={"cache-control": "no-store"})
            return HTMLResponse(html, headers={"cache-control": "no-store"})
        return with_store(page)

    def index(request: Request):
        return FileResponse(ASSETS / "index.html", headers={"cache-control": "no-cache"})

    return [
        Route("/", index),
        Route("/api/state", api(lambda rq, st: queries.state(st))),
        Route("/api/runs", api(lambda rq, st: queries.run_rows(st))),
        Route("/api/runs/{run_id}", api(lambda rq, st: queries.run_detail(st, _ref(rq, "run_id")))),
        Route("/api/runs/{run_id}/curve", with_store(lambda rq, st: Response(
            queries.curve_text(st, _ref(rq, "run_id"), _since(rq)), media_type="application/json",
            headers={"cache-control": "no-store"}))),
        Route("/api/sweeps", api(lambda rq, st: queries.sweep_list(st))),
        Route("/api/sweeps/{sweep_id}", api(lambda rq, st: queries.sweep_view(st, _ref(rq, "sweep_id")))),
        Route("/runs/{run_id}/report.html", report(run_report, "run_id")),
        Route("/sweeps/{sweep_id}/report.html", report(sweep_report, "sweep_id")),
        Mount("/assets", StaticFiles(directory=ASSETS, follow_symlink=False), name="assets"),
    ]


async def _http_error(request: Request, exc: HTTPException) -> Response:
    return _error(exc.status_code, str(exc.detail))


async def _store_error(request: Request, exc: Exception) -> Response:
    return _error(404, str(exc))


async def _internal(request: Request, exc: Exception) -> Response:
    return _error(500, f"internal error ({type(exc).__name__}); the server's log has the details")


def make_app(root: str | Path, host: str = "127.0.0.1") -> Starlette:
    """The application serving the store at ``root`` (checked readable now: StoreError if it is not)."""
    root = Path(root).expanduser().resolve()
    connect(root).close()
    hosts = [*LOOPBACK] if host in LOOPBACK and ":" not in host else ["*"]   # an IPv6 Host header has ':' in it
    return Starlette(
        routes=build_routes(root),
        middleware=[Middleware(SecurityHeaders), Middleware(TrustedHostMiddleware, allowed_hosts=hosts),
                    Middleware(GZipMiddleware, minimum_size=2048, compresslevel=5)],
        exception_handlers={HTTPException: _http_error, StoreError: _store_error, GroklabError: _store_error,
                            500: _internal},
    )
