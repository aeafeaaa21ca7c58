"""Progress of a run: a live bar on a terminal, plain log lines for cron and files."""

from __future__ import annotations

import logging
import sys
import time
from typing import TextIO

from jobs.engines import Progress

log = logging.getLogger(__name__)


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
            stream.write(f"\r{job} {day}: {rows:>12,} rows scored  {rate:>10,.0f} rows/s  {elapsed:6.1f}s")
            stream.flush()
        elif elapsed - state["last"] >= 5.0 or state["last"] == 0.0:
            state["last"] = elapsed
            log.info("%s %s: %d rows scored (%.0f rows/s)", job, day, rows, rate)

    return report


def end_line(stream: TextIO | None = None) -> None:
    """Finish the bar's line on a terminal so the next log line starts clean."""
    # sys.stderr is looked up at each call: it may have been replaced since import.
    stream = sys.stderr if stream is None else stream
    if hasattr(stream, "isatty") and stream.isatty():
        stream.write("\n")
        stream.flush()
