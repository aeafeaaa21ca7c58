"""``python -m jobs`` with the SQLite source's Arrow-native read switched off: SQLite is read
as SQLAlchemy rows, as before issue 16 (the benchmark's "before" figure, measured in the same
run as the "after").

    python -m benchmarks.sqlite_before run JOB --date DAY ...
"""

from __future__ import annotations

import sys

from jobs.sources import sqlite_adbc

if __name__ == "__main__":
    sqlite_adbc.available = lambda url: False
    sys.argv[0] = "batchscore"
    from jobs.__main__ import console

    console()
