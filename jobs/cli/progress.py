"""Progress of a run: a live bar on a terminal, plain log lines for cron and files."""

from __future__ import annotations

import logging
import sys
import time
from typing import TextIO

from jobs.engines import Progress

log = logging.getLogger(__name__)

# The terminal stream a live bar is drawn on, if any: a log line first wipes the bar.
_live: dict[str, TextIO | None] = {"stream": None}
_CLEAR = "\r\x1b[K"


class ClearBar(logging.Filter):
    """On the log handler of stderr: wipes a live progress bar so the line starts clean (the
    bar is drawn again at its next update)."""

    def filter(self, record: logging.LogRecord) -> bool:
        stream = _live["stream"]
        if stream is not None:
            stream.write(_CLEAR)
            stream.flush()
            _live["stream"] = None  # wiped: the log line ends its own line
        return True


def reporter(job: str, day, stream: TextIO | None = None) -> Progress:
    """A callback taking the rows scored so far (on ``stream``, default: the current stderr)."""
    stream = sys.stderr if stream is None else stream
    start = time.perf_counter()
    is_tty = hasattr(stream, "isatty") and stream.isatty()
    state = {"last": 0.0}

    def report(rows: int) -> None:
        elapsed = max(time.perf_counter() - start, 1e-9)
        rate = rows / elapsed
        if is_tty:
            _live["stream"] = stream
            stream.write(f"{_CLEAR}{job} {day}: {rows:>12,} rows scored  {rate:>10,.0f} rows/s  {elapsed:6.1f}s")
            stream.flush()
        elif elapsed - state["last"] >= 5.0 or state["last"] == 0.0:
            state["last"] = elapsed
            log.info("%s %s: %d rows scored (%.0f rows/s)", job, day, rows, rate)

    return report


def end_line(stream: TextIO | None = None) -> None:
    """Finish the bar's line on a terminal so the next log line starts clean."""
    # sys.stderr is looked up at each call: it may have been replaced since import.
    stream = sys.stderr if stream is None else stream
    if hasattr(stream, "isatty") and stream.isatty() and _live["stream"] is not None:
        stream.write("\n")
        stream.flush()
    _live["stream"] = None


class BackfillProgress:
    """Days done of the total, rows/s and time left, as a live line on a terminal (nothing
    otherwise: the per-day lines say it). ``clear()`` before printing, ``update()`` after."""

    def __init__(self, total: int, stream: TextIO | None = None, clock=time.perf_counter) -> None:
        self.total = total
        self.stream = sys.stderr if stream is None else stream
        self.clock = clock
        self.start = clock()
        self.days = 0
        self.rows = 0
        self.is_tty = hasattr(self.stream, "isatty") and self.stream.isatty()

    def text(self) -> str:
        elapsed = max(self.clock() - self.start, 1e-9)
        left = (self.total - self.days) * elapsed / self.days if self.days else None
        eta = "?" if left is None else _duration(left)
        return f"backfill: {self.days}/{self.total} days, {self.rows / elapsed:,.0f} rows/s, {eta} left"

    def update(self, rows: int = 0, days: int = 1) -> None:
        self.days += days
        self.rows += rows
        if self.is_tty:
            _live["stream"] = self.stream
            self.stream.write(_CLEAR + self.text())
            self.stream.flush()

    def clear(self) -> None:
        if self.is_tty and _live["stream"] is self.stream:
            self.stream.write(_CLEAR)
            self.stream.flush()

    def close(self) -> None:
        if self.is_tty:
            end_line(self.stream)


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"
