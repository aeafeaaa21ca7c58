"""Named points where a run can be made to stop and wait to be killed: a test hook.

``BATCHSCORE_PAUSE_AT=<point>`` (unset: off) makes a run that reaches ``<point>`` write
``paused at <point>`` as one stderr line and wait until it is killed, so a crash test kills
it at a known step of the write instead of sleeping and hoping:

- ``after_first_chunk``: rows of the day already handed to the sink, nothing committed;
- ``before_commit``: every row written, nothing committed (Parquet: before the swap);
- ``after_stage``: Spark only, the staging table or directory written, not swapped in.

A run paused in its main thread (every point above) resumes on SIGUSR1: a test can cut
its database connection while it waits, then let it go on and meet the broken connection.

Ground floor: imports nothing of batchscore, so every layer may mark its points.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Iterable, Iterator

PAUSE_ENV = "BATCHSCORE_PAUSE_AT"
AFTER_FIRST_CHUNK, BEFORE_COMMIT, AFTER_STAGE = "after_first_chunk", "before_commit", "after_stage"
POINTS = (AFTER_FIRST_CHUNK, BEFORE_COMMIT, AFTER_STAGE)


def pause_point(point: str) -> None:
    """Wait here until killed (or SIGUSR1) when ``BATCHSCORE_PAUSE_AT`` names ``point``;
    else return at once."""
    if os.environ.get(PAUSE_ENV) != point:
        return
    resumed = threading.Event()
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGUSR1, lambda *_: resumed.set())
    # Written straight to the stream, not logged: the test waits for this exact line, whatever
    # the log level or handlers.
    sys.stderr.write(f"paused at {point}\n")
    sys.stderr.flush()
    while not resumed.wait(0.05):
        pass


def after_first(batches: Iterable, point: str = AFTER_FIRST_CHUNK) -> Iterator:
    """``batches``, pausing at ``point`` when the consumer asks for the second one: the first
    has then been handed to (and written by) the sink."""
    for n, item in enumerate(batches):
        yield item
        if n == 0:  # resumed: the sink wants more (or the end), so it has the first
            pause_point(point)
