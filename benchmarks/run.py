"""The performance benchmark: one command, one run, every contender, ratios measured together.

    .venv/bin/python -m benchmarks.run [--rows 1000000] [--repeat 3] [--big-rows N] [--no-spark]

Generates the day (``benchmarks.data``, deterministic), starts its own PostgreSQL
(``tests.pgserver``), then measures in alternating repetitions: the naive cron script, the
best hand-built script, ``batchscore run`` (pandas engine) on PostgreSQL, SQLite and Parquet,
``batchscore backfill --engine spark`` of the Parquet day and the day before it on one Spark
context (the day before pays for the cold start, the day itself is the warm run), and
``batchscore run`` on a day of ``--big-rows`` rows (peak memory must not follow the day).
Each contender runs as a fresh subprocess under ``benchmarks.measure``. Prints a table and
writes the figures as JSON (``--json``).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import yaml

from benchmarks import data

log = logging.getLogger("benchmarks")

REPO = Path(__file__).resolve().parent.parent
SPARK_ENGINE = REPO / "jobs" / "engines" / "spark" / "__init__.py"
BIG_DAY = data.DAY + timedelta(days=1)
COLD_DAY = data.DAY - timedelta(days=1)  # the Spark backfill's first day, on a cold context
SPARK = "batchscore Spark (Parquet), backfill of 2 days"
OUT_DDL = (
    "CREATE TABLE IF NOT EXISTS {} (customer_id BIGINT, score_date DATE NOT NULL, score DOUBLE PRECISION NOT NULL, "
    "model_name TEXT NOT NULL, model_version INTEGER NOT NULL, run_id TEXT NOT NULL, scored_at TIMESTAMPTZ NOT NULL)"
)


@dataclass
class Contender:
    name: str
    argv: list[str]
    rows: int
    count: callable  # () -> rows the contender left in its output for its day
    job: str | None = None  # batchscore job: its ledger timings are collected
    days: int = 1  # days the contender scores (the last one's timings are "timings", the first's "first_timings")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows of the day (default 1000000)")
    parser.add_argument("--repeat", type=int, default=3, help="repetitions, alternating contenders (default 3)")
    parser.add_argument("--big-rows", type=int, default=None, help="rows of the big day (default 5 x --rows; 0: skip)")
    parser.add_argument("--chunk-size", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=1, help="batchscore's workers (default 1)")
    parser.add_argument("--no-spark", action="store_true", help="leave out the Spark engine")
    parser.add_argument("--no-profile", action="store_true", help="leave out the per-stage profile")
    parser.add_argument("--json", type=Path, default=Path("benchmark.json"), help="where to write the figures")
    parser.add_argument("--workdir", type=Path, help="keep the data here (default: a temporary directory)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    # A kill still stops the PostgreSQL server and removes the data (the finally below).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    big_rows = 5 * args.rows if args.big_rows is None else args.big_rows

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="batchscore-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    from tests.pgserver import PostgresServer, create_database

    # No autovacuum: a contender's deleted rows must not be vacuumed during the next
    # contender's run; every contender starts after an explicit VACUUM and CHECKPOINT.
    server = PostgresServer(workdir / "pg", {"autovacuum": "off"})
    server.start()
    try:
        url = server.url("bench")
        create_database(url)
        result = benchmark(args, workdir, url, big_rows)
    finally:
        server.stop()
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
    args.json.write_text(json.dumps(result, indent=2) + "\n")
    sys.stdout.write(render(result) + "\n")
    return 0 if result["all_rows_written"] else 1


def benchmark(args, workdir: Path, url: str, big_rows: int) -> dict:
    log.info("generating %d rows (+%d on the big day) in PostgreSQL, SQLite and Parquet", args.rows, big_rows)
    data.load_postgres(url, args.rows, big_rows=big_rows, big_day=BIG_DAY)
    data.load_sqlite(workdir / "warehouse.db", args.rows)
    data.write_parquet(workdir / "features", args.rows)
    if not args.no_spark:
        data.write_parquet(workdir / "features", args.rows, COLD_DAY)
    model_file = workdir / "model.joblib"
    data.train_and_register(workdir / "models", model_file)
    _pg(url, OUT_DDL.format("scores_naive"), OUT_DDL.format("scores_best"))

    configs = workdir / "configs"
    configs.mkdir(exist_ok=True)
    sqlite_url = f"sqlite:///{workdir / 'warehouse.db'}"
    jobs = {
        "bench_pg": ({"kind": "sql", "url": url, "table": data.TABLE, "date_column": "snapshot_date"},
                     {"kind": "sql", "url": url, "table": "scores_bs"}),
        # The big day writes a table of its own: the 1M-row day's table then holds that day
        # alone, as the hand-built script's does (deleting a day costs more in a bigger table).
        "bench_pg_big": ({"kind": "sql", "url": url, "table": data.TABLE, "date_column": "snapshot_date"},
                         {"kind": "sql", "url": url, "table": "scores_bs_big"}),
        "bench_sqlite": ({"kind": "sql", "url": sqlite_url, "table": data.TABLE, "date_column": "snapshot_date"},
                         {"kind": "sql", "url": sqlite_url, "table": "scores_bs"}),
        "bench_parquet": ({"kind": "parquet", "path": str(workdir / "features"), "date_column": "snapshot_date"},
                          {"kind": "parquet", "path": str(workdir / "scores")}),
        "bench_spark": ({"kind": "parquet", "path": str(workdir / "features"), "date_column": "snapshot_date"},
                        {"kind": "parquet", "path": str(workdir / "scores_spark")}),
    }
    for name, (source, output) in jobs.items():
        job = {"name": name, "source": source, "pipeline": {"name": "bench", "version": "production"},
               "id_columns": ["customer_id"], "output": output, "chunk_size": args.chunk_size, "workers": args.workers}
        (configs / f"{name}.yaml").write_text(yaml.safe_dump(job))
    common = ["--config-dir", str(configs), "--state-url", f"sqlite:///{workdir / 'state.db'}", "--models", str(workdir / "models")]
    python = sys.executable

    def bs(job: str, day=data.DAY, *extra: str) -> list[str]:
        return [python, "-m", "jobs", "run", job, "--date", day.isoformat(), "--force", *common, *extra]

    day, big = data.DAY, BIG_DAY
    contenders = [
        Contender("naive script (pd.read_sql, to_sql)", [python, "-m", "benchmarks.scripts", "naive", url, str(model_file), day.isoformat(), "scores_naive"],
                  args.rows, lambda: _pg_count(url, "scores_naive", day)),
        Contender("best hand-built (ADBC batches, ingest)", [python, "-m", "benchmarks.scripts", "best", url, str(model_file), day.isoformat(), "scores_best", "--chunk", str(args.chunk_size)],
                  args.rows, lambda: _pg_count(url, "scores_best", day)),
        Contender("batchscore PostgreSQL", bs("bench_pg"), args.rows, lambda: _pg_count(url, "scores_bs", day), "bench_pg"),
        Contender("batchscore SQLite", bs("bench_sqlite"), args.rows, lambda: _sqlite_count(workdir / "warehouse.db", day), "bench_sqlite"),
        Contender("batchscore Parquet", bs("bench_parquet"), args.rows, lambda: _parquet_count(workdir / "scores", day), "bench_parquet"),
    ]
    notes = []
    if args.no_spark:
        notes.append("Spark engine left out (--no-spark).")
    elif not SPARK_ENGINE.exists():
        notes.append(f"Spark engine skipped: {SPARK_ENGINE.relative_to(REPO)} does not exist on this branch.")
    else:
        backfill = [python, "-m", "jobs", "backfill", "bench_spark", "--start", COLD_DAY.isoformat(), "--end", day.isoformat(),
                    "--engine", "spark", "--force", *common]
        contenders.append(Contender(SPARK, backfill, 2 * args.rows, lambda: sum(_parquet_count(workdir / "scores_spark", d) for d in (COLD_DAY, day)),
                                    "bench_spark", days=2))
    if big_rows:
        contenders.append(Contender(f"batchscore PostgreSQL, {big_rows} rows", bs("bench_pg_big", big), big_rows,
                                    lambda: _pg_count(url, "scores_bs_big", big), "bench_pg_big"))

    runs: dict[str, list[dict]] = {c.name: [] for c in contenders}
    for rep in range(args.repeat):
        order = contenders if rep % 2 == 0 else list(reversed(contenders))  # alternate, so drift hits all alike
        for contender in order:
            _settle(url)
            measured = _measure(contender.argv)
            measured["rows_written"] = contender.count()
            measured["rows_expected"] = contender.rows
            if contender.job:
                per_day = _ledger_timings(python, common, contender.job, contender.days)
                measured["timings"] = per_day[0]  # the newest day
                if contender.days > 1:
                    measured["first_timings"] = per_day[-1]
            elif measured["returncode"] == 0:
                measured["timings"] = json.loads(measured["stdout"].strip().splitlines()[-1])
            log.info("rep %d %s: %.2fs, %.0f MiB, %d/%d rows, exit %d", rep + 1, contender.name, measured["wall_s"],
                     measured["peak_rss_mib"], measured["rows_written"], contender.rows, measured["returncode"])
            if measured["returncode"] != 0:
                log.error("%s failed:\n%s", contender.name, measured["stderr"])
            runs[contender.name].append(measured)

    profiles = {}
    if not args.no_profile:
        for job in ("bench_pg", "bench_sqlite", "bench_parquet"):
            done = subprocess.run([python, "-m", "benchmarks.profile", str(configs), str(workdir / "models"), job, day.isoformat()],
                                  capture_output=True, text=True, cwd=REPO)
            profiles[job] = json.loads(done.stdout) if done.returncode == 0 else {"error": done.stderr[-2000:]}
    return summarise(args, contenders, runs, profiles, notes, big_rows)


def summarise(args, contenders, runs, profiles, notes, big_rows) -> dict:
    rows_ok = all(r["rows_written"] == r["rows_expected"] and r["returncode"] == 0 for rs in runs.values() for r in rs)
    table = []
    for c in contenders:
        walls = [r["wall_s"] for r in runs[c.name]]
        rss = [r["peak_rss_mib"] for r in runs[c.name]]
        cpu = [r.get("cpu_s") for r in runs[c.name] if r.get("cpu_s") is not None]
        machine = [r.get("machine_cpu_s") for r in runs[c.name] if r.get("machine_cpu_s") is not None]
        table.append({"contender": c.name, "rows": c.rows, "wall_s_median": statistics.median(walls), "wall_s_min": min(walls),
                      "wall_s_max": max(walls), "rows_per_s": c.rows / statistics.median(walls), "peak_rss_mib_max": max(rss),
                      "peak_rss_mib_median": statistics.median(rss),
                      "cpu_s_median": statistics.median(cpu) if cpu else None,
                      "machine_cpu_s_median": statistics.median(machine) if machine else None})
    names = [c.name for c in contenders]

    def ratio(a: str, b: str, key: str) -> dict | None:
        if a not in runs or b not in runs:
            return None
        values = [x[key] / y[key] for x, y in zip(runs[a], runs[b]) if y[key]]
        return {"min": min(values), "max": max(values), "values": values} if values else None

    naive, best, pg = names[0], names[1], names[2]
    ratios = {
        "naive / batchscore PostgreSQL (time)": ratio(naive, pg, "wall_s"),
        "batchscore PostgreSQL / best (time)": ratio(pg, best, "wall_s"),
        "batchscore PostgreSQL / best (peak RSS)": ratio(pg, best, "peak_rss_mib"),
    }
    big_name = next((n for n in names if n.startswith("batchscore PostgreSQL, ")), None)
    if big_name:
        ratios[f"{big_name} / {args.rows} rows (peak RSS)"] = ratio(big_name, pg, "peak_rss_mib")
    if SPARK in runs:
        # Engine time of the same Parquet day: the Spark backfill's second day (its context,
        # JVM and Python workers already up) over the pandas engine's run. The first day, on
        # a context just started (its start-up not counted), is shown as the cold figure.
        # The model's load is not counted on either side: the engines load it on first use,
        # and a process's first load is mostly scikit-learn's import (the pandas engine's
        # reads overlap it, so this takes a little more from pandas than it costs there).
        def engine(timings: dict | None) -> float:
            timings = timings or {}
            return timings.get("engine_total", float("nan")) - timings.get("model_load", 0.0)

        pandas = runs["batchscore Parquet"]
        for label, key in (("warm", "timings"), ("cold, first day", "first_timings")):
            values = [engine(s.get(key)) / engine(p.get("timings")) for s, p in zip(runs[SPARK], pandas)]
            ratios[f"Spark {label} / pandas, Parquet (engine time)"] = {"min": min(values), "max": max(values), "values": values}
    return {
        "command": "python -m benchmarks.run " + " ".join(sys.argv[1:]),
        "rows": args.rows, "big_rows": big_rows, "repeat": args.repeat, "chunk_size": args.chunk_size,
        "workers": args.workers, "cpus": os.cpu_count(), "all_rows_written": rows_ok, "table": table,
        "ratios": {k: v for k, v in ratios.items() if v}, "profiles": profiles, "notes": notes, "runs": runs,
    }


def render(result: dict) -> str:
    lines = [f"rows {result['rows']}, {result['repeat']} repetitions, chunk_size {result['chunk_size']}, "
             f"workers {result['workers']}, {result['cpus']} CPUs; every row written: {result['all_rows_written']}", "",
             "| contender | rows | wall s (median) | wall s min-max | rows/s | peak RSS MiB (max) | CPU s | machine CPU s |",
             "|---|---|---|---|---|---|---|---|"]

    def figure(value) -> str:
        return "" if value is None else f"{value:.1f}"

    for row in result["table"]:
        lines.append(f"| {row['contender']} | {row['rows']} | {row['wall_s_median']:.2f} | {row['wall_s_min']:.2f}-{row['wall_s_max']:.2f} "
                     f"| {row['rows_per_s']:,.0f} | {row['peak_rss_mib_max']:.0f} | {figure(row.get('cpu_s_median'))} "
                     f"| {figure(row.get('machine_cpu_s_median'))} |")
    lines += ["", "CPU s: the command's user + system time (its children included); machine CPU s: every CPU's busy "
              f"time during the run, the database server's work included (medians). With {result['cpus']} CPUs, no "
              "contender can take less wall time than its machine CPU s / CPUs."]
    lines += ["", "| ratio (per repetition) | min | median | max | every repetition |", "|---|---|---|---|---|"]
    for name, value in result["ratios"].items():
        each = " ".join(f"{v:.2f}" for v in value["values"])
        lines.append(f"| {name} | {value['min']:.2f} | {statistics.median(value['values']):.2f} | {value['max']:.2f} | {each} |")
    if result["profiles"]:
        lines += ["", "Stages, one after the other (benchmarks.profile), seconds:", "",
                  "| source | read | convert | predict | output | write+commit | model load |", "|---|---|---|---|---|---|---|"]
        for job, p in result["profiles"].items():
            if "error" in p:
                lines.append(f"| {job} | failed: {p['error'].strip().splitlines()[-1] if p['error'].strip() else '?'} |||||")
            else:
                lines.append(f"| {job} | {p['read']:.2f} | {p['convert']:.2f} | {p['predict']:.2f} | {p['output']:.2f} | {p['write']:.2f} | {p['model_load']:.2f} |")
    stage_rows = []
    for name, rs in result["runs"].items():
        for key, label in (("first_timings", f"{name}: first day"), ("timings", f"{name}: second day" if rs and "first_timings" in rs[0] else name)):
            timings = [r.get(key) for r in rs if r.get(key)]
            if timings:
                keys = [k for k in timings[0] if isinstance(timings[0][k], (int, float)) and k != "rows"]
                stage_rows.append(f"| {label} | " + ", ".join(f"{k} {statistics.median(t.get(k, 0) for t in timings):.2f}" for k in keys) + " |")
    if stage_rows:
        lines += ["", "Stage seconds reported by each contender (median; batchscore: the ledger's stats.timings, busy time per stage, overlapping):", "",
                  "| contender | stages |", "|---|---|", *stage_rows]
    for note in result["notes"]:
        lines.append(f"\nNote: {note}")
    return "\n".join(lines)


def _measure(argv: list[str]) -> dict:
    done = subprocess.run([sys.executable, "-m", "benchmarks.measure", "--", *argv], capture_output=True, text=True, cwd=REPO, check=True)
    return json.loads(done.stdout)


def _ledger_timings(python: str, common: list[str], job: str, days: int = 1) -> list[dict]:
    """The stage timings of the job's ``days`` newest ledger rows, newest first."""
    done = subprocess.run([python, "-m", "jobs", "status", job, "--last", str(days), "--format", "json", *common],
                          capture_output=True, text=True, cwd=REPO)
    try:
        rows = json.loads(done.stdout) or []
    except json.JSONDecodeError:
        rows = []
    timings = [(row.get("stats") or {}).get("timings", {}) for row in rows]
    return timings + [{}] * (days - len(timings))


def _pg(url: str, *statements: str) -> None:
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    with engine.begin() as conn:
        for statement in statements:
            conn.execute(sa.text(statement))
    engine.dispose()


def _settle(url: str) -> None:
    """The same start for every contender: no dead rows of the last one, no dirty pages."""
    import sqlalchemy as sa

    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text("VACUUM"))
        conn.execute(sa.text("CHECKPOINT"))
    engine.dispose()


def _pg_count(url: str, table: str, day) -> int:
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(sa.text(f"SELECT count(*) FROM {table} WHERE score_date = :d"), {"d": day}).scalar()
    except sa.exc.ProgrammingError:
        return 0
    finally:
        engine.dispose()


def _sqlite_count(path: Path, day) -> int:
    import sqlite3

    con = sqlite3.connect(path)
    try:
        return con.execute("SELECT count(*) FROM scores_bs WHERE score_date = ?", (day.isoformat(),)).fetchone()[0]
    except sqlite3.OperationalError:
        return 0
    finally:
        con.close()


def _parquet_count(root: Path, day) -> int:
    import pyarrow.dataset as ds

    path = root / f"score_date={day.isoformat()}"
    return ds.dataset(path, format="parquet").count_rows() if path.exists() else 0


if __name__ == "__main__":
    sys.exit(main())
