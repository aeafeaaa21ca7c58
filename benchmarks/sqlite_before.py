"""``python -m jobs`` as it was on SQLite before issue 16 (the benchmark's "before" figure,
measured in the same run as the "after"): the source read as SQLAlchemy rows, not through
ADBC, and every column staged, every value of it made and processed row by row (no column
found to hold one value: neither stored once nor processed once), with SQLite's default page
cache for the swap.

    python -m benchmarks.sqlite_before run JOB --date DAY ...
"""

from __future__ import annotations

import sys

from jobs.db import sqlite_adbc
from jobs.sinks import sql as sql_sink, sqlite_stage

# What is replaced must exist: a renamed function would leave the "before" run silently faster.
PATCHED = ((sqlite_adbc, "available"), (sqlite_stage, "one_value"), (sql_sink, "SQLITE_CACHE_KIB"))
SQLITE_DEFAULT_CACHE_KIB = 2000  # SQLite's own default (PRAGMA cache_size = -2000)

if __name__ == "__main__":
    for module, name in PATCHED:
        if not hasattr(module, name):
            raise SystemExit(f"benchmarks.sqlite_before: {module.__name__}.{name} no longer exists; update the patch")
    sqlite_adbc.available = lambda url: False
    sqlite_stage.one_value = lambda column: False
    sql_sink.SQLITE_CACHE_KIB = SQLITE_DEFAULT_CACHE_KIB
    sys.argv[0] = "batchscore"
    from jobs.__main__ import console

    console()
