"""Run the application under uvicorn on a socket bound here, so the address (port 0: any free port) is
known, and printed, before the first request."""

from __future__ import annotations

import socket
from collections.abc import Callable
from pathlib import Path

from groklab.errors import GroklabError

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8321


def bind(host: str = DEFAULT_HOST, port: int = DEFAULT_PORT) -> socket.socket:
    """A listening TCP socket on (host, port); GroklabError naming the address if it is taken or invalid."""
    if not 0 <= int(port) <= 65535:
        raise GroklabError(f"serve: --port {port} is not a port (0-65535; 0 picks a free one)")
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as e:
        raise GroklabError(f"serve: cannot resolve --host {host!r} ({e.strerror})") from None
    family, _, proto, _, addr = infos[0]
    # proto IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY only on connections of such a socket, and without
    # it each reply on a kept-alive connection waits ~40 ms for the client's delayed ACK (Nagle)
    sock = socket.socket(family, socket.SOCK_STREAM, proto or socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(addr)
    except OSError as e:
        sock.close()
        raise GroklabError(f"serve: cannot listen on {host}:{port} ({e.strerror})") from None
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def url_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}/" if ":" in host else f"http://{host}:{port}/"


def serve(root: str | Path, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT,
          on_ready: Callable[[str], None] | None = None, log_level: str = "warning") -> None:
    """Serve the store at ``root`` read-only until interrupted (Ctrl-C, SIGTERM); ``on_ready(url)`` is
    called once the socket listens."""
    import uvicorn

    from groklab.serve.app import make_app

    sock = bind(host, port)
    try:
        app = make_app(root, host=host)
    except BaseException:
        sock.close()
        raise
    config = uvicorn.Config(app, http="h11", ws="none", lifespan="off", loop="asyncio", log_level=log_level,
                            access_log=False, server_header=False, timeout_keep_alive=30, limit_concurrency=200)
    server = uvicorn.Server(config)
    if on_ready is not None:
        on_ready(url_of(sock))
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
