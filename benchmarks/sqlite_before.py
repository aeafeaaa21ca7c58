"""``python -m jobs`` as it was on SQLite before issue 16 (the benchmark's "before" figure,
measured in the same run as the "after"): the source read as SQLAlchemy rows, not through
ADBC, and the staging insert making and processing every value of every column.

    python -m benchmarks.sqlite_before run JOB --date DAY ...
"""

from __future__ import annotations

import sys

from jobs.sinks import sql as sql_sink
from jobs.db import sqlite_adbc

if __name__ == "__main__":
    sqlite_adbc.available = lambda url: False
    sql_sink._constant = lambda column: False
    sys.argv[0] = "batchscore"
    from jobs.__main__ import console

    console()
