"""What the sink's write costs: a 1M-row day of scores written by binary COPY, two ways.

    .venv/bin/python -m benchmarks.write_paths [--rows 1000000] [--repeat 5]

Starts its own PostgreSQL with durability on (as ``benchmarks.run``), makes a day of output
rows shaped as batchscore's (``jobs.output``: id, score_date, score, model name and version,
run id, scored_at; chunks of 100,000), then in alternating fresh processes writes them into a
table made by ``jobs.sinks.sql.table_for`` (its BRIN index included), in one transaction,
after a DELETE of the day:

- ``adbc``: ADBC's ``adbc_ingest`` (what the sink used before, and the hand-built scripts use);
- ``binary_copy``: ``jobs.db.binary_copy.copy_batches`` (pgpq's encoder, psycopg's COPY).

Prints each ADBC driver library's frame-pointer prologue count (thousands: a build without
optimization), every repetition's wall and the writing process's own CPU seconds (the
server's work is the same rows either way) with the day's row count after it, and the
per-repetition ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa

from benchmarks import data

REPO = Path(__file__).resolve().parent.parent
TABLE = "write_paths"
CHUNK = 100_000
PATHS = ("adbc", "binary_copy")
PROLOGUE = b"\x55\x48\x89\xe5"  # push %rbp; mov %rsp,%rbp: every function of an unoptimized x86-64 build


def day_batches(rows: int) -> list[pa.RecordBatch]:
    """The day's output rows, as the scorer hands them to the sink."""
    from jobs.output import output_schema

    schema = output_schema([pa.field("customer_id", pa.int64())], [], "binary")
    scored_at = datetime.now(UTC)
    rng = np.random.default_rng(0)
    batches = []
    for start in range(0, rows, CHUNK):
        n = min(CHUNK, rows - start)
        columns = {
            "customer_id": np.arange(start, start + n, dtype=np.int64), "score_date": [data.DAY] * n,
            "score": rng.random(n), "model_name": ["bench_lr"] * n, "model_version": np.ones(n, dtype=np.int32),
            "run_id": ["4fb8fad1-eea6-4a47-8a79-e8765ed2ed6c"] * n, "scored_at": [scored_at] * n,
        }
        batches.append(pa.RecordBatch.from_pydict({f.name: pa.array(columns[f.name], f.type) for f in schema}, schema=schema))
    return batches


def child(url: str, path: str, rows: int) -> dict:
    """Write the day through ``path`` in this process: wall and own CPU seconds."""
    import sqlalchemy as sa

    from jobs.db import binary_copy, libpq_uri
    from jobs.sinks.sql import table_for

    batches = day_batches(rows)
    table = table_for(TABLE, batches[0].schema)
    wall, cpu = time.perf_counter(), _cpu()
    if path == "adbc":
        import adbc_driver_postgresql.dbapi as pg

        with pg.connect(libpq_uri(url), autocommit=False) as conn, conn.cursor() as cursor:
            cursor.execute(f"DELETE FROM {TABLE} WHERE score_date = '{data.DAY.isoformat()}'")
            for batch in batches:
                cursor.adbc_ingest(TABLE, batch, mode="append")
            conn.commit()
    else:
        conn = binary_copy.connect(url, "output")
        try:
            binary_copy.execute(conn, sa.text(f"DELETE FROM {TABLE} WHERE score_date = :d").bindparams(d=data.DAY))
            types = {f.name: f.type for f in table_schema(batches[0].schema)}
            binary_copy.copy_batches(conn, table, batches, types)
            conn.commit()
        finally:
            conn.close()
    figures = {"wall": time.perf_counter() - wall, "cpu": _cpu() - cpu}
    engine = sa.create_engine(url)
    try:
        with engine.connect() as check:
            figures["rows"] = check.execute(sa.text(f"SELECT count(*) FROM {TABLE} WHERE score_date = :d"), {"d": data.DAY}).scalar()
    finally:
        engine.dispose()
    return figures


def table_schema(schema: pa.Schema) -> pa.Schema:
    """The Arrow types binary COPY sends for the table ``table_for`` makes of ``schema``
    (what the sink computes from the table's real column types)."""
    import sqlalchemy as sa

    from jobs.db import binary_copy
    from jobs.sinks.sql import table_for

    columns: dict[str, sa.types.TypeEngine] = {c.name: c.type for c in table_for(TABLE, schema).columns}
    return pa.schema(list(binary_copy.ingest_types(columns, schema).items()))


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def wheel_library() -> Path:
    """The PostgreSQL driver library the ``adbc-driver-postgresql`` wheel ships."""
    import adbc_driver_postgresql

    return Path(adbc_driver_postgresql.__file__).parent / "libadbc_driver_postgresql.so"


def prologues(library: str | Path) -> int:
    """Frame-pointer prologues in a driver library: thousands in a build without optimization."""
    return Path(library).read_bytes().count(PROLOGUE)


def _builds() -> str:
    import adbc_driver_postgresql

    library = wheel_library()
    return (f"adbc-driver-postgresql {adbc_driver_postgresql.__version__}: "
            f"{prologues(library)} frame-pointer prologues in {library.name}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.write_paths", description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--child", nargs=2, metavar=("URL", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        sys.stdout.write(json.dumps(child(args.child[0], args.child[1], args.rows)) + "\n")
        return 0
    from benchmarks.run import DURABLE, _settle, _uptime
    from tests.pgserver import PostgresServer, create_database

    workdir = Path(tempfile.mkdtemp(prefix="batchscore-writes-"))
    server = PostgresServer(workdir / "pg", {"autovacuum": "off", **DURABLE})
    server.start()
    try:
        url = server.url("bench")
        create_database(url)
        _create_table(url)
        print(f"rows {args.rows} in chunks of {CHUNK}, {args.repeat} repetitions; {_builds()}")
        print(f"load before: {_uptime()}")
        seen: dict[str, list[dict]] = {path: [] for path in PATHS}
        for rep in range(1, args.repeat + 1):
            for path in PATHS if rep % 2 else PATHS[::-1]:
                _settle(url)
                out = subprocess.run(
                    [sys.executable, "-m", "benchmarks.write_paths", "--rows", str(args.rows), "--child", url, path],
                    cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)}, capture_output=True, text=True, check=True,
                )
                figures = json.loads(out.stdout)
                seen[path].append(figures)
                print(f"rep {rep} {path:12s} wall {figures['wall']:5.2f} s  cpu {figures['cpu']:5.2f} s"
                      f"  rows of the day after it: {figures['rows']}", flush=True)
        print(f"load after: {_uptime()}")
        for figure in ("wall", "cpu"):
            ratios = [b[figure] / a[figure] for a, b in zip(seen["adbc"], seen["binary_copy"], strict=True)]
            print(f"{figure}: median adbc {statistics.median(f[figure] for f in seen['adbc']):.2f} s, binary_copy "
                  f"{statistics.median(f[figure] for f in seen['binary_copy']):.2f} s; binary_copy / adbc per repetition: "
                  + " ".join(f"{r:.2f}" for r in ratios))
    finally:
        server.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


def _create_table(url: str) -> None:
    import sqlalchemy as sa

    from jobs.output import output_schema
    from jobs.sinks.sql import create_table, table_for

    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            create_table(conn, table_for(TABLE, output_schema([pa.field("customer_id", pa.int64())], [], "binary")))
    finally:
        engine.dispose()


if __name__ == "__main__":
    raise SystemExit(main())
