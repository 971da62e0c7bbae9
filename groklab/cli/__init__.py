"""The `groklab` command line: a thin layer over the Python API, one module per command.

Every user error (bad flag, config or sweep file, store path, run id) prints one line naming
what is wrong and what is allowed, and exits with code 2, never a traceback. An internal error
prints a short message and the path of a log file holding the full traceback.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import time
import traceback
import warnings
from collections.abc import Iterator
from pathlib import Path

from groklab.cli.parser import Parser, UsageError, build_parser
from groklab.errors import GroklabError


def _log_internal(exc: BaseException) -> Path:
    d = Path(tempfile.gettempdir()) / "groklab-logs"
    d.mkdir(parents=True, exist_ok=True)
    path = d / f"error-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.log"
    path.write_text("".join(traceback.format_exception(exc)))
    return path


def _check_utf8(argv: list[str]) -> None:
    """Arguments are text: bytes that were not UTF-8 (decoded by Python as lone surrogates) are refused."""
    from groklab.cli.output import safe
    from groklab.constraints import shown

    for i, a in enumerate(argv):
        if any("\ud800" <= ch <= "\udfff" for ch in a):
            raise UsageError(f"argument {i + 1}: {safe(shown(a))} is not valid UTF-8; allowed: UTF-8 text")


@contextlib.contextmanager
def _warnings_as_lines() -> Iterator[None]:
    """Every Python warning as one line ``groklab: warning: …`` (no source path), each message once,
    shown when training starts or the command ends; a user error drops them (its line comes alone).
    A float32 overflow is left out: the run's checks name the field (``train.budget.float32_warnings``)."""
    from groklab.cli.output import add_warning, flush_warnings

    def show(message, category, filename, lineno, file=None, line=None) -> None:
        add_warning(str(message).splitlines()[0] if str(message) else category.__name__)

    flush_warnings(show=False)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "overflow encountered in cast", RuntimeWarning)
        warnings.showwarning = show
        try:
            yield
        except GroklabError:
            flush_warnings(show=False)
            raise
        finally:
            flush_warnings()


def _run(args) -> int:
    from groklab.train.budget import memory_limit, parse_size

    limit = getattr(args, "max_memory", None)
    with memory_limit(parse_size(limit) if limit is not None else None):
        return int(args.func(args) or 0)


def main(argv: list[str] | None = None) -> int:
    from groklab.cli.output import safe

    argv = sys.argv[1:] if argv is None else argv
    try:
        _check_utf8(argv)
        parser = build_parser()
        args = parser.parse_args(argv)
        if not getattr(args, "func", None):
            parser.print_help()
            return 0
        with _warnings_as_lines():
            return _run(args)
    except GroklabError as e:
        msg = str(e).splitlines()[0] if str(e) else type(e).__name__
        print(f"groklab: error: {safe(msg)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("groklab: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except Exception as e:  # an internal error: short message, full traceback in a log file
        path = _log_internal(e)
        print(f"groklab: internal error: {type(e).__name__}: {safe(str(e)[:200])} (full traceback: {path})",
              file=sys.stderr)
        return 1


__all__ = ["main", "build_parser", "Parser", "UsageError"]
