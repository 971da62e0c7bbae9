"""The `groklab` command line: a thin layer over the Python API, one module per command.

Every user error (bad flag, config or sweep file, store path, run id) prints one line naming
what is wrong and what is allowed, and exits with code 2, never a traceback. An internal error
prints a short message and the path of a log file holding the full traceback.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
import traceback
from pathlib import Path

from groklab.cli.parser import Parser, UsageError, build_parser
from groklab.errors import GroklabError


def _log_internal(exc: BaseException) -> Path:
    d = Path(tempfile.gettempdir()) / "groklab-logs"
    d.mkdir(parents=True, exist_ok=True)
    path = d / f"error-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.log"
    path.write_text("".join(traceback.format_exception(exc)))
    return path


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        if not getattr(args, "func", None):
            parser.print_help()
            return 0
        return int(args.func(args) or 0)
    except GroklabError as e:
        msg = str(e).splitlines()[0] if str(e) else type(e).__name__
        print(f"groklab: error: {msg}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("groklab: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except Exception as e:  # an internal error: short message, full traceback in a log file
        path = _log_internal(e)
        print(f"groklab: internal error: {type(e).__name__}: {str(e)[:200]} (full traceback: {path})",
              file=sys.stderr)
        return 1


__all__ = ["main", "build_parser", "Parser", "UsageError"]
