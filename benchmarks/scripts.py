"""The hand-written contenders the benchmark measures batchscore against, and its floor probes.

    python -m benchmarks.scripts naive      URL MODEL DAY TABLE
    python -m benchmarks.scripts sequential URL MODEL DAY TABLE [--chunk N] [--driver PATH]
    python -m benchmarks.scripts pipelined  URL MODEL DAY TABLE [--chunk N] [--driver PATH]
    python -m benchmarks.scripts floor      URL MODEL DAY TABLE
    python -m benchmarks.scripts stages     URL MODEL[,MODEL...] DAY TABLE [--chunk N] [--driver PATH]
    python -m benchmarks.scripts bare-parquet PATH - DAY - [--chunk N]

``naive`` is the cron script users write: ``pd.read_sql`` of the whole day, ``predict_proba``,
``DataFrame.to_sql``. ``sequential``: ADBC record batches of ``--chunk`` rows, ``predict_proba``,
ADBC ingest (binary COPY), one step after the other. ``pipelined``: what a competent engineer
writes in about 80 lines: a reader thread, predict in the main thread, a writer thread, the
day's DELETE issued before the model loads. Each replaces the day as batchscore does: a
DELETE of the previous copy (timed) and the inserts in one transaction, committed once.
Their ADBC connections load the driver library the ``adbc-driver-postgresql`` wheel ships, as a
user's script does; with ``--driver PATH`` (``sequential``, ``pipelined``, ``stages``) every
one loads the library at PATH instead (batchscore's optimized build: ``jobs.db.adbc.driver_library``).

``floor`` does what every scoring process must (interpreter start, imports, model load) and
nothing else; ``stages`` times read, predict (per model) and write of the day each alone, one
after the other; ``bare-parquet`` reads the Parquet day in chunks and drops them (the memory a
chunked read needs). Each prints its stage timings as JSON on stdout.
"""

from __future__ import annotations

import argparse
import json
import queue
import sys
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING

from benchmarks.data import FEATURES, TABLE, adbc_uri

if TYPE_CHECKING:
    from adbc_driver_manager.dbapi import Connection

QUEUE_DEPTH = 2  # chunks waiting between the pipelined script's threads


def naive(url: str, model_file: str, day: date, out_table: str) -> dict:
    import joblib
    import pandas as pd
    import sqlalchemy as sa

    t = {}
    start = time.perf_counter()
    model = joblib.load(model_file)
    t["model_load"] = time.perf_counter() - start
    engine = sa.create_engine(url)
    mark = time.perf_counter()
    frame = pd.read_sql(sa.text(f"SELECT * FROM {TABLE} WHERE snapshot_date = :d"), engine, params={"d": day})
    t["read"] = time.perf_counter() - mark
    mark = time.perf_counter()
    scores = model.predict_proba(frame[list(FEATURES)])[:, 1]
    t["predict"] = time.perf_counter() - mark
    out = pd.DataFrame(
        {
            "customer_id": frame["customer_id"],
            "score_date": day,
            "score": scores,
            "model_name": "bench",
            "model_version": 1,
            "run_id": str(uuid.uuid4()),
            "scored_at": datetime.now(UTC),
        }
    )
    mark = time.perf_counter()
    with engine.begin() as conn:
        conn.execute(sa.text(f"DELETE FROM {out_table} WHERE score_date = :d"), {"d": day})
        t["delete"] = time.perf_counter() - mark
        out.to_sql(out_table, conn, if_exists="append", index=False)
    t["write"] = time.perf_counter() - mark
    t["rows"] = len(out)
    return t


def _connector(driver: str | None) -> Callable[[str], Connection]:
    """How the scripts connect to ``url``: through the wheel's driver library, as a user writes
    it, or, given ``driver``, through the library at that path. The DB-API module is imported
    here, before any of the script's threads starts."""
    if driver is None:
        import adbc_driver_postgresql.dbapi as pg

        return lambda url: pg.connect(adbc_uri(url))
    import adbc_driver_manager.dbapi as manager

    return lambda url: manager.connect(driver=driver, uri=adbc_uri(url))


def _output(frame, scores, day: date, run_id: str, now: datetime):
    import pyarrow as pa

    n = len(frame)
    return pa.table(
        {
            "customer_id": pa.array(frame["customer_id"].to_numpy()),
            "score_date": pa.repeat(pa.scalar(day, pa.date32()), n),
            "score": pa.array(scores),
            "model_name": pa.repeat(pa.scalar("bench"), n),
            "model_version": pa.repeat(pa.scalar(1, pa.int32()), n),
            "run_id": pa.repeat(pa.scalar(run_id), n),
            "scored_at": pa.repeat(pa.scalar(now, pa.timestamp("us", tz="UTC")), n),
        }
    )


def _chunks(reader, chunk: int):
    """Record batches regrouped into tables of about ``chunk`` rows."""
    import pyarrow as pa

    pending, rows = [], 0
    for batch in reader:
        pending.append(batch)
        rows += batch.num_rows
        if rows >= chunk:
            yield pa.Table.from_batches(pending)
            pending, rows = [], 0
    if pending:
        yield pa.Table.from_batches(pending)


def sequential(url: str, model_file: str, day: date, out_table: str, chunk: int, driver: str | None = None) -> dict:
    connect = _connector(driver)
    import joblib

    t = {"read": 0.0, "convert": 0.0, "predict": 0.0, "write": 0.0}
    start = time.perf_counter()
    model = joblib.load(model_file)
    t["model_load"] = time.perf_counter() - start
    run_id, now = str(uuid.uuid4()), datetime.now(UTC)
    rows = 0
    with connect(url) as source, connect(url) as sink:
        read, write = source.cursor(), sink.cursor()
        mark = time.perf_counter()
        write.execute(f"DELETE FROM {out_table} WHERE score_date = '{day.isoformat()}'")
        t["delete"] = time.perf_counter() - mark
        read.execute(f"SELECT * FROM {TABLE} WHERE snapshot_date = '{day.isoformat()}'")
        chunks = _chunks(read.fetch_record_batch(), chunk)
        while True:
            mark = time.perf_counter()
            table = next(chunks, None)
            t["read"] += time.perf_counter() - mark
            if table is None:
                break
            mark = time.perf_counter()
            frame = table.to_pandas()
            t["convert"] += time.perf_counter() - mark
            mark = time.perf_counter()
            scores = model.predict_proba(frame[list(FEATURES)])[:, 1]
            t["predict"] += time.perf_counter() - mark
            mark = time.perf_counter()
            write.adbc_ingest(out_table, _output(frame, scores, day, run_id, now), mode="append")
            t["write"] += time.perf_counter() - mark
            rows += len(frame)
        mark = time.perf_counter()
        sink.commit()
        t["commit"] = time.perf_counter() - mark
    t["rows"] = rows
    return t


def pipelined(url: str, model_file: str, day: date, out_table: str, chunk: int, driver: str | None = None) -> dict:
    connect = _connector(driver)

    start = time.perf_counter()
    t = {"read": 0.0, "predict": 0.0, "write": 0.0}
    done = object()
    to_score, to_write = queue.Queue(QUEUE_DEPTH), queue.Queue(QUEUE_DEPTH)
    errors: list[BaseException] = []

    def reader():
        try:
            with connect(url) as conn, conn.cursor() as cur:
                mark = time.perf_counter()
                cur.execute(f"SELECT * FROM {TABLE} WHERE snapshot_date = '{day.isoformat()}'")
                for table in _chunks(cur.fetch_record_batch(), chunk):
                    t["read"] += time.perf_counter() - mark
                    to_score.put(table)
                    mark = time.perf_counter()
        except BaseException as exc:  # noqa: BLE001 - handed to the main thread, which raises it
            errors.append(exc)
        finally:
            to_score.put(done)

    def writer():
        table = None
        try:
            with connect(url) as conn, conn.cursor() as cur:
                mark = time.perf_counter()
                cur.execute(f"DELETE FROM {out_table} WHERE score_date = '{day.isoformat()}'")
                t["delete"] = time.perf_counter() - mark
                t["delete_done_at"] = time.perf_counter() - start
                while (table := to_write.get()) is not done:
                    mark = time.perf_counter()
                    cur.adbc_ingest(out_table, table, mode="append")
                    t["write"] += time.perf_counter() - mark
                if errors:
                    raise RuntimeError("not committed: another thread failed")
                mark = time.perf_counter()
                conn.commit()
                t["commit"] = time.perf_counter() - mark
        except BaseException as exc:  # noqa: BLE001 - handed to the main thread, which raises it
            errors.append(exc)
            while table is not done:  # let the main thread finish putting
                table = to_write.get()

    threads = [threading.Thread(target=reader), threading.Thread(target=writer)]
    for thread in threads:
        thread.start()
    import joblib  # scikit-learn's import, while the reader reads and the server deletes

    model = joblib.load(model_file)
    t["model_load"] = time.perf_counter() - start
    run_id, now, rows = str(uuid.uuid4()), datetime.now(UTC), 0
    try:
        while (table := to_score.get()) is not done:
            mark = time.perf_counter()
            frame = table.to_pandas()
            scores = model.predict_proba(frame[list(FEATURES)])[:, 1]
            out = _output(frame, scores, day, run_id, now)
            t["predict"] += time.perf_counter() - mark
            to_write.put(out)
            rows += len(frame)
    finally:
        to_write.put(done)
        for thread in threads:
            thread.join()
    if errors:
        raise errors[0]
    t["rows"] = rows
    return t


def floor(url: str, model_file: str, day: date, out_table: str) -> dict:
    """What any scoring process pays before its first row: the interpreter (measured from
    outside), the imports and the model's load."""
    start = time.perf_counter()
    import adbc_driver_postgresql.dbapi  # noqa: F401
    import joblib
    import pandas  # noqa: F401
    import pyarrow  # noqa: F401

    joblib.load(model_file)
    return {"imports_and_model_load": time.perf_counter() - start, "rows": 0}


def stages(url: str, model_files: str, day: date, out_table: str, chunk: int, driver: str | None = None) -> dict:
    """Read, predict (each model) and write the day, each stage alone, one after the other."""
    connect = _connector(driver)
    import joblib

    models = [joblib.load(f) for f in model_files.split(",")]
    t = {}
    mark = time.perf_counter()
    with connect(url) as conn, conn.cursor() as cur:
        cur.execute(f"SELECT * FROM {TABLE} WHERE snapshot_date = '{day.isoformat()}'")
        tables = list(_chunks(cur.fetch_record_batch(), chunk))
    t["read"] = time.perf_counter() - mark
    run_id, now = str(uuid.uuid4()), datetime.now(UTC)
    outs = []
    for i, model in enumerate(models):
        mark = time.perf_counter()
        scored = []
        for table in tables:
            frame = table.to_pandas()
            scored.append(_output(frame, model.predict_proba(frame[list(FEATURES)])[:, 1], day, run_id, now))
        t[f"predict_{i}"] = time.perf_counter() - mark
        outs = scored
    del tables
    mark = time.perf_counter()
    with connect(url) as conn, conn.cursor() as cur:
        cur.execute(f"DELETE FROM {out_table} WHERE score_date = '{day.isoformat()}'")
        for out in outs:
            cur.adbc_ingest(out_table, out, mode="append")
        conn.commit()
    t["write"] = time.perf_counter() - mark
    t["rows"] = sum(o.num_rows for o in outs)
    return t


def bare_parquet(path: str, day: date, chunk: int) -> dict:
    """The Parquet day read in batches of ``chunk`` rows and dropped: a chunked read's memory.
    With batchscore's scanner options (one batch and one file read ahead, no pre-buffering):
    pyarrow's defaults read ahead 16 batches and peaked at about twice the memory."""
    import pyarrow.dataset as ds

    mark = time.perf_counter()
    rows = 0
    dataset = ds.dataset(f"{path}/snapshot_date={day.isoformat()}", format="parquet")
    options = ds.ParquetFragmentScanOptions(pre_buffer=False)
    for batch in dataset.to_batches(batch_size=chunk, batch_readahead=1, fragment_readahead=1, fragment_scan_options=options):
        rows += batch.num_rows
    return {"read": time.perf_counter() - mark, "rows": rows}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="benchmarks.scripts")
    parser.add_argument("which", choices=["naive", "sequential", "pipelined", "floor", "stages", "bare-parquet"])
    parser.add_argument("url")
    parser.add_argument("model")
    parser.add_argument("day", type=date.fromisoformat)
    parser.add_argument("table")
    parser.add_argument("--chunk", type=int, default=100_000)
    parser.add_argument("--driver", metavar="PATH", help="sequential, pipelined, stages: connect through this ADBC "
                        "PostgreSQL driver library (default: the wheel's)")
    args = parser.parse_args(argv)
    if args.driver and args.which not in ("sequential", "pipelined", "stages"):
        parser.error(f"--driver: {args.which} makes no ADBC connection")
    if args.which == "naive":
        timings = naive(args.url, args.model, args.day, args.table)
    elif args.which == "floor":
        timings = floor(args.url, args.model, args.day, args.table)
    elif args.which == "bare-parquet":
        timings = bare_parquet(args.url, args.day, args.chunk)
    else:
        run = {"sequential": sequential, "pipelined": pipelined, "stages": stages}[args.which]
        timings = run(args.url, args.model, args.day, args.table, args.chunk, args.driver)
    sys.stdout.write(json.dumps({k: round(v, 4) if isinstance(v, float) else v for k, v in timings.items()}) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
