"""The two hand-written baselines the benchmark measures batchscore against.

    python -m benchmarks.scripts naive URL MODEL DAY TABLE
    python -m benchmarks.scripts best  URL MODEL DAY TABLE [--chunk N]

``naive`` is the cron script users write: ``pd.read_sql`` of the whole day, ``predict_proba``,
``DataFrame.to_sql``. ``best`` is the best script we could write by hand: ADBC record batches
of ``--chunk`` rows, ``predict_proba``, ADBC ingest (binary COPY) in one transaction. Both
delete the day first, in the same transaction as their inserts where the API allows it.
Each prints its stage timings as JSON on stdout.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import uuid
from datetime import date, datetime, timezone

from benchmarks.data import FEATURES, TABLE, adbc_uri


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
    mark = time.perf_counter()
    out = pd.DataFrame(
        {
            "customer_id": frame["customer_id"],
            "score_date": day,
            "score": scores,
            "model_name": "bench",
            "model_version": 1,
            "run_id": str(uuid.uuid4()),
            "scored_at": datetime.now(timezone.utc),
        }
    )
    with engine.begin() as conn:
        conn.execute(sa.text(f"DELETE FROM {out_table} WHERE score_date = :d"), {"d": day})
    out.to_sql(out_table, engine, if_exists="append", index=False)
    t["write"] = time.perf_counter() - mark
    t["rows"] = len(out)
    return t


def best(url: str, model_file: str, day: date, out_table: str, chunk: int) -> dict:
    import adbc_driver_postgresql.dbapi as pg
    import joblib
    import pyarrow as pa

    t = {"read": 0.0, "convert": 0.0, "predict": 0.0, "write": 0.0}
    start = time.perf_counter()
    model = joblib.load(model_file)
    t["model_load"] = time.perf_counter() - start
    run_id, now = str(uuid.uuid4()), datetime.now(timezone.utc)
    rows = 0
    with pg.connect(adbc_uri(url)) as source, pg.connect(adbc_uri(url)) as sink:
        read, write = source.cursor(), sink.cursor()
        write.execute(f"DELETE FROM {out_table} WHERE score_date = '{day.isoformat()}'")
        read.execute(f"SELECT * FROM {TABLE} WHERE snapshot_date = '{day.isoformat()}'")
        reader = read.fetch_record_batch()
        pending, pending_rows = [], 0

        def score(batches):
            mark = time.perf_counter()
            frame = pa.Table.from_batches(batches).to_pandas()
            t["convert"] += time.perf_counter() - mark
            mark = time.perf_counter()
            scores = model.predict_proba(frame[list(FEATURES)])[:, 1]
            t["predict"] += time.perf_counter() - mark
            mark = time.perf_counter()
            n = len(frame)
            out = pa.table(
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
            write.adbc_ingest(out_table, out, mode="append")
            t["write"] += time.perf_counter() - mark
            return n

        while True:
            mark = time.perf_counter()
            batch = next(reader, None)
            t["read"] += time.perf_counter() - mark
            if batch is None:
                break
            pending.append(batch)
            pending_rows += batch.num_rows
            if pending_rows >= chunk:
                rows += score(pending)
                pending, pending_rows = [], 0
        if pending:
            rows += score(pending)
        mark = time.perf_counter()
        sink.commit()
        t["commit"] = time.perf_counter() - mark
    t["rows"] = rows
    return t


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="benchmarks.scripts")
    parser.add_argument("which", choices=["naive", "best"])
    parser.add_argument("url")
    parser.add_argument("model")
    parser.add_argument("day", type=date.fromisoformat)
    parser.add_argument("table")
    parser.add_argument("--chunk", type=int, default=100_000)
    args = parser.parse_args(argv)
    if args.which == "naive":
        timings = naive(args.url, args.model, args.day, args.table)
    else:
        timings = best(args.url, args.model, args.day, args.table, args.chunk)
    sys.stdout.write(json.dumps({k: round(v, 4) if isinstance(v, float) else v for k, v in timings.items()}) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
