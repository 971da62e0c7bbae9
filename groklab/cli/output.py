"""What the commands print: JSON on stdout, tables, and one live progress line on stderr."""

from __future__ import annotations

import sys
import time

from groklab.config import UNSAFE_CHARS


def safe(value) -> str:
    """Text from a user (names, tasks, paths, messages) as it may reach a terminal: every character a
    terminal acts on (ESC, BEL, CR, other controls but tab, separators, bidi overrides) and every byte that
    was not UTF-8 written as its escape (``\\x1b``, ``\\u202e``, ``\\udcff``)."""
    text = value if isinstance(value, str) else str(value)
    return UNSAFE_CHARS.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


_PENDING: list[str] = []      # warnings of this command not shown yet


def add_warning(text: str) -> None:
    """A warning line to show once the command gets going (``flush_warnings``): a user error before then
    prints its one line alone."""
    if text not in _PENDING:
        _PENDING.append(text)


def flush_warnings(show: bool = True) -> None:
    """Print the pending warnings (``show``) or drop them, one line each: ``groklab: warning: …``."""
    for text in _PENDING if show else ():
        print(f"groklab: warning: {safe(text)}", file=sys.stderr)
    _PENDING.clear()


def fmt(v, nd: int = 4) -> str:
    """A table cell: '—' for a missing value, floats to ``nd`` significant digits, text escaped (``safe``)."""
    if v is None:
        return "—"
    if isinstance(v, float):
        return f"{v:.{nd}g}"
    return safe(v)


def pair_text(s: dict) -> str:
    """The PAIR class cell: the class, 'n/a' where PAIR's thresholds do not apply (e.g. an MSE run)."""
    if s.get("pair_class") is not None:
        return str(s["pair_class"])
    return "n/a" if str(s.get("pair_rule") or "").startswith("not applicable") else "—"


def print_json(obj) -> None:
    from groklab.store.catalog import dumps

    sys.stdout.write(dumps(obj) + "\n")


def duration(s: float) -> str:
    """Seconds as '42s', '3.5m' or '2.1h'."""
    s = max(0.0, s)
    return f"{s:.0f}s" if s < 90 else f"{s / 60:.1f}m" if s < 5400 else f"{s / 3600:.1f}h"


def summary_table(summaries: list[dict]) -> str:
    head = f"{'run':<16} {'task':<10} {'seed':>4} {'train acc':>9} {'test acc':>8} {'t_mem':>7} {'t_gen':>7} " \
           f"{'phase':<13} {'wall s':>7}"
    lines = [head]
    for s in summaries:
        f = s.get("final") or {}
        lines.append(f"{s['run_id']:<16} {safe(s['task'])[:10]:<10} {s['seed']:>4} {fmt(f.get('train_acc')):>9} "
                     f"{fmt(f.get('test_acc')):>8} {fmt(s.get('t_mem')):>7} {fmt(s.get('t_gen')):>7} "
                     f"{fmt(s.get('phase')):<13} {fmt(s.get('wall_s')):>7}")
    return "\n".join(lines)


class ProgressLine:
    """One live line on stderr, redrawn in place on a terminal (at most every 0.2 s), else a new line
    every 5 s; the final event always shows. Subclasses say when an event is final and what to print."""

    def __init__(self, enabled: bool):
        self.enabled = enabled
        self.tty = sys.stderr.isatty()
        self.last = 0.0

    def final(self, ev: dict) -> bool:
        raise NotImplementedError

    def throttled(self, ev: dict) -> bool:
        """Whether this (non-final) event may be skipped when it comes too soon after the last one."""
        return True

    def line(self, ev: dict) -> str:
        raise NotImplementedError

    def __call__(self, ev: dict) -> None:
        flush_warnings()                  # training has started: the warnings about it are due now
        if not self.enabled:
            return
        now = time.perf_counter()
        final = self.final(ev)
        if not final and self.throttled(ev) and now - self.last < (0.2 if self.tty else 5.0):
            return
        self.last = now
        line = self.line(ev)
        if self.tty:
            sys.stderr.write("\r\x1b[2K" + line + ("\n" if final else ""))
        else:
            sys.stderr.write(line + "\n")
        sys.stderr.flush()


class TrainProgress(ProgressLine):
    """Step, train/test accuracy and loss (mean over live members), steps/s and time left."""

    def final(self, ev: dict) -> bool:
        return ev["step"] >= ev["steps"]

    def line(self, ev: dict) -> str:
        pick = ev["eval"].mean
        rate = ev["step"] / ev["elapsed"] if ev["elapsed"] > 0 else 0.0
        speed = f"{rate:,.0f} steps/s  {(ev['steps'] - ev['step']) / rate:,.0f}s left" if rate > 0 else "starting"
        who = f"{ev['n']} members, mean " if ev["n"] > 1 else ""
        return (f"step {ev['step']:>7}/{ev['steps']}  {who}train acc {pick('train_acc'):.3f} loss "
                f"{pick('train_loss'):.3g}  test acc {pick('test_acc'):.3f} loss {pick('test_loss'):.3g}  {speed}")


class SweepProgress(ProgressLine):
    """Points done / total, the current ensemble's step, time elapsed and left."""

    def final(self, ev: dict) -> bool:
        return ev["done"] >= ev["total"]

    def throttled(self, ev: dict) -> bool:
        return "step" in ev          # a point finishing always shows

    def line(self, ev: dict) -> str:
        line = f"points {ev['done']}/{ev['total']}"
        if "step" in ev:
            line += f"  ensemble of {ev['members']} at step {ev['step']}/{ev['steps']}"
        line += f"  {duration(ev['elapsed'])} elapsed"
        if ev.get("left") is not None and not self.final(ev):
            line += f"  ~{duration(ev['left'])} left"
        return line
