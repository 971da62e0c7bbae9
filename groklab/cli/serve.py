"""`groklab serve`: a local, read-only web application over the store (``groklab.serve``)."""

from __future__ import annotations

import argparse
import sys

from groklab.cli.output import print_json, safe


def cmd_serve(args: argparse.Namespace) -> int:
    from groklab.serve import serve
    from groklab.store import default_root

    root = args.store if args.store is not None else str(default_root())

    def ready(url: str) -> None:
        if args.json:
            print_json({"url": url, "store": root, "read_only": True})
        else:
            print(f"groklab serve: {url}  (store {safe(root)}, read-only; Ctrl-C stops)")
        sys.stdout.flush()

    serve(root, host=args.host, port=args.port, on_ready=ready)
    return 0


def register(subparsers, common: argparse.ArgumentParser) -> None:
    from groklab.serve.server import DEFAULT_HOST, DEFAULT_PORT

    r = subparsers.add_parser("serve", parents=[common],
                              help="browse the store in a local web page: runs, live curves, comparisons, sweeps")
    r.add_argument("--host", default=DEFAULT_HOST,
                   help=f"address to listen on (default {DEFAULT_HOST}: this machine only)")
    r.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT}; 0 picks a free one)")
    r.set_defaults(func=cmd_serve)
