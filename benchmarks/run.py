"""The performance benchmark: one command, one run, every contender, ratios measured together.

    .venv/bin/python -m benchmarks.run [--rows 1000000] [--repeat 5] [--big-rows N] [--no-spark]

Generates the day (``benchmarks.data``, deterministic), starts its own PostgreSQL with
durability on (fsync, synchronous_commit, full_page_writes: its settings are recorded), fits
two pipelines (logistic regression and gradient boosting), then measures in alternating
repetitions: the naive cron script, the sequential and the pipelined hand-built scripts, the
pipelined script again through batchscore's build of the ADBC driver (when there is one:
``jobs.db.adbc.driver_library()``, which batchscore's reads load too) and ``batchscore run``
on PostgreSQL (each model), ``batchscore run`` on SQLite (and, unless ``--no-before``, with
the SQLite read forced through SQLAlchemy rows, as before issue 16) and Parquet, a bare
chunked read of the Parquet day, ``batchscore backfill --engine spark`` of the Parquet day
and the day before it, ``batchscore run`` on a day of ``--big-rows`` rows, and the probes of
the limit (a fresh process's floor; read, predict and write each alone, through batchscore's
driver build when there is one: the fastest read and write at hand, so a stricter limit).
Each contender runs as a fresh subprocess under ``benchmarks.measure`` (peak memory of the
whole process tree) and is checked after every repetition (``benchmarks.checks``). Prints
which ADBC driver library each kind of contender loads (with its count of frame-pointer
prologues: thousands in a build without optimization), the tables and the targets
(``benchmarks.report``), and writes the figures as JSON (``--json``).
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import yaml

from benchmarks import data, report
from benchmarks.checks import CheckFailed, Output, check
from benchmarks.write_paths import prologues, wheel_library
from jobs.db.adbc import driver_library

log = logging.getLogger("benchmarks")

REPO = Path(__file__).resolve().parent.parent
SPARK_ENGINE = REPO / "jobs" / "engines" / "spark" / "__init__.py"
BIG_DAY = data.DAY + timedelta(days=1)
COLD_DAY = data.DAY - timedelta(days=1)  # the Spark backfill's first day, on a cold context
# The production settings PostgreSQL ships with; tests.pgserver turns them off for speed, and
# an earlier benchmark ran that way without saying so. -c options given later win.
DURABLE = {"fsync": "on", "synchronous_commit": "on", "full_page_writes": "on"}
SHOWN = ("server_version", "fsync", "synchronous_commit", "full_page_writes", "wal_level", "shared_buffers",
         "max_wal_size", "checkpoint_timeout", "autovacuum")
SCRIPT_TABLES = ("scores_naive", "scores_seq", "scores_pipe", "scores_naive_hgb", "scores_seq_hgb", "scores_pipe_hgb", "scores_limit",
                 "scores_pipe_built", "scores_pipe_built_hgb")


@dataclass
class Contender:
    name: str
    argv: list[str]
    rows: int
    # (output, day, reference scores) to check after each repetition; empty: the rows the
    # command reports reading are compared with ``rows`` instead
    outputs: list[tuple[Output, object, object]] = field(default_factory=list)
    job: str | None = None  # batchscore job: its ledger timings are collected
    days: int = 1  # days the contender scores (the last one's timings are "timings", the first's "first_timings")
    seen_runs: set = field(default_factory=set)

    def check(self, measured: dict) -> dict:
        if measured["returncode"] != 0:
            raise CheckFailed(f"exit {measured['returncode']}")
        if not self.outputs:
            reported = (measured.get("timings") or {}).get("rows")
            if reported is not None and reported != self.rows:
                raise CheckFailed(f"read {reported} rows, expected {self.rows}")
            return {"ok": True}
        figures = [check(output, day, reference(), self.seen_runs) for output, day, reference in self.outputs]
        return figures[0] if len(figures) == 1 else {"ok": True, "days": figures}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows of the day (default 1000000)")
    parser.add_argument("--repeat", type=int, default=5, help="repetitions, alternating contenders (default 5)")
    parser.add_argument("--big-rows", type=int, default=None, help="rows of the big day (default 5 x --rows; 0: skip)")
    parser.add_argument("--chunk-size", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=1, help="batchscore's workers (default 1)")
    parser.add_argument("--no-spark", action="store_true", help="leave out the Spark engine")
    parser.add_argument("--no-before", action="store_true", help="leave out the SQLite run through SQLAlchemy rows")
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
    server = PostgresServer(workdir / "pg", {"autovacuum": "off", **DURABLE})
    server.start()
    try:
        url = server.url("bench")
        create_database(url)
        settings = _pg_settings(url)
        log.info("PostgreSQL settings: %s", settings)
        wrong = {k: settings.get(k) for k, v in DURABLE.items() if settings.get(k) != v}
        if wrong:
            raise SystemExit(f"PostgreSQL is not durable: {wrong}")
        result = benchmark(args, workdir, url, big_rows)
        result["postgres_settings"] = settings
    finally:
        server.stop()
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
    result["uptime_after"] = _uptime()
    args.json.write_text(json.dumps(result, indent=2) + "\n")
    sys.stdout.write(report.render(result) + "\n")
    return 0 if result["all_checks_passed"] else 1


def _treelite_available() -> bool:
    """The compiled runtime's packages are installed (the ``treelite`` extra)."""
    import importlib.util

    return all(importlib.util.find_spec(name) is not None for name in ("treelite", "tl2cgen"))


def benchmark(args, workdir: Path, url: str, big_rows: int) -> dict:
    uptime_before = _uptime()
    log.info("generating %d rows (+%d on the big day) in PostgreSQL, SQLite and Parquet", args.rows, big_rows)
    data.load_postgres(url, args.rows, big_rows=big_rows, big_day=BIG_DAY)
    data.load_sqlite(workdir / "warehouse.db", args.rows)
    data.write_parquet(workdir / "features", args.rows)
    spark = not args.no_spark and SPARK_ENGINE.exists()
    if spark:
        data.write_parquet(workdir / "features", args.rows, COLD_DAY)
    model_files = {kind: workdir / f"model_{kind}.joblib" for kind in data.MODELS}
    treelite = _treelite_available()
    for kind, model_file in model_files.items():
        data.train_and_register(workdir / "models", model_file, kind, treelite=treelite and kind == "hgb")
    _script_tables(url)
    built = driver_library()  # what batchscore's reads load; the scripts given --driver load it too
    drivers = _drivers(built)
    log.info("ADBC PostgreSQL driver: %s", report.drivers_line(drivers))
    with_built = ("--driver", built) if built else ()
    references: dict[tuple, object] = {}

    def reference(kind: str, day=data.DAY, rows: int = args.rows):
        def get():
            if (kind, day) not in references:
                log.info("reference scores: %s, %s, %d rows", kind, day, rows)
                references[(kind, day)] = data.reference_scores(model_files[kind], rows, day)
            return references[(kind, day)]
        return get

    configs = workdir / "configs"
    configs.mkdir(exist_ok=True)
    sqlite_file = workdir / "warehouse.db"
    sqlite_url = f"sqlite:///{sqlite_file}"
    pg_source = {"kind": "sql", "url": url, "table": data.TABLE, "date_column": "snapshot_date"}
    parquet_source = {"kind": "parquet", "path": str(workdir / "features"), "date_column": "snapshot_date"}
    jobs = {
        "bench_pg": ("lr", pg_source, {"kind": "sql", "url": url, "table": "scores_bs"}),
        "bench_pg_hgb": ("hgb", pg_source, {"kind": "sql", "url": url, "table": "scores_bs_hgb"}),
        "bench_pg_hgb_tl": ("hgb" + data.TREELITE, pg_source, {"kind": "sql", "url": url, "table": "scores_bs_hgb_tl"}),
        # The big day writes a table of its own: the 1M-row day's table then holds that day
        # alone, as the hand-built script's does (deleting a day costs more in a bigger table).
        "bench_pg_big": ("lr", pg_source, {"kind": "sql", "url": url, "table": "scores_bs_big"}),
        "bench_sqlite": ("lr", {**pg_source, "url": sqlite_url}, {"kind": "sql", "url": sqlite_url, "table": "scores_bs"}),
        "bench_sqlite_before": ("lr", {**pg_source, "url": sqlite_url}, {"kind": "sql", "url": sqlite_url, "table": "scores_bs_before"}),
        "bench_parquet": ("lr", parquet_source, {"kind": "parquet", "path": str(workdir / "scores")}),
        "bench_spark": ("lr", parquet_source, {"kind": "parquet", "path": str(workdir / "scores_spark")}),
    }
    for name, (kind, source, output) in jobs.items():
        job = {"name": name, "source": source, "pipeline": {"name": f"bench_{kind}", "version": "production"},
               "id_columns": ["customer_id"], "output": output, "chunk_size": args.chunk_size, "workers": args.workers}
        (configs / f"{name}.yaml").write_text(yaml.safe_dump(job))
    common = ["--config-dir", str(configs), "--state-url", f"sqlite:///{workdir / 'state.db'}", "--models", str(workdir / "models")]
    python = sys.executable
    day, big = data.DAY, BIG_DAY

    def bs(job: str, on=day) -> list[str]:
        return [python, "-m", "jobs", "run", job, "--date", on.isoformat(), "--force", *common]

    def script(which: str, kind: str, table: str, *extra: str) -> list[str]:
        model = ",".join(str(model_files[k]) for k in data.MODELS) if which == "stages" else str(model_files[kind])
        return [python, "-m", "benchmarks.scripts", which, url, model, day.isoformat(), table, "--chunk", str(args.chunk_size), *extra]

    def pg_out(table: str, kind: str = "lr") -> list:
        return [(Output("postgres", url, table), day, reference(kind))]

    contenders = [
        Contender(report.NAIVE, script("naive", "lr", "scores_naive"), args.rows, pg_out("scores_naive")),
        Contender(report.SEQUENTIAL, script("sequential", "lr", "scores_seq"), args.rows, pg_out("scores_seq")),
        Contender(report.PIPELINED, script("pipelined", "lr", "scores_pipe"), args.rows, pg_out("scores_pipe")),
        Contender(report.BS_PG, bs("bench_pg"), args.rows, pg_out("scores_bs"), "bench_pg"),
        Contender(report.NAIVE + report.HGB, script("naive", "hgb", "scores_naive_hgb"), args.rows, pg_out("scores_naive_hgb", "hgb")),
        Contender(report.PIPELINED + report.HGB, script("pipelined", "hgb", "scores_pipe_hgb"), args.rows, pg_out("scores_pipe_hgb", "hgb")),
        *([Contender(report.PIPELINED_BUILT, script("pipelined", "lr", "scores_pipe_built", *with_built), args.rows, pg_out("scores_pipe_built")),
           Contender(report.PIPELINED_BUILT + report.HGB, script("pipelined", "hgb", "scores_pipe_built_hgb", *with_built), args.rows,
                     pg_out("scores_pipe_built_hgb", "hgb"))] if built else []),
        Contender(report.BS_PG + report.HGB, bs("bench_pg_hgb"), args.rows, pg_out("scores_bs_hgb", "hgb"), "bench_pg_hgb"),
        *([Contender(report.BS_PG + report.HGB + report.TREELITE, bs("bench_pg_hgb_tl"), args.rows,
                     pg_out("scores_bs_hgb_tl", "hgb"), "bench_pg_hgb_tl")] if treelite else []),
        Contender(report.FLOOR, script("floor", "lr", "-"), 0),
        Contender(report.FLOOR + report.HGB, script("floor", "hgb", "-"), 0),
        Contender(report.STAGES, script("stages", "lr", "scores_limit", *with_built), args.rows, pg_out("scores_limit", data.MODELS[-1])),
        Contender(report.BS_SQLITE, bs("bench_sqlite"), args.rows,
                  [(Output("sqlite", str(sqlite_file), "scores_bs"), day, reference("lr"))], "bench_sqlite"),
        Contender(report.BS_PARQUET, bs("bench_parquet"), args.rows,
                  [(Output("parquet", str(workdir / "scores")), day, reference("lr"))], "bench_parquet"),
        Contender(report.BARE_PARQUET, [python, "-m", "benchmarks.scripts", "bare-parquet", str(workdir / "features"), "-",
                                        day.isoformat(), "-", "--chunk", str(args.chunk_size)], args.rows),
    ]
    if not args.no_before:
        before = [python, "-m", "benchmarks.sqlite_before", "run", "bench_sqlite_before", "--date", day.isoformat(), "--force", *common]
        contenders.append(Contender(report.BS_SQLITE_BEFORE, before, args.rows,
                                    [(Output("sqlite", str(sqlite_file), "scores_bs_before"), day, reference("lr"))], "bench_sqlite_before"))
    notes = []
    if args.no_spark:
        notes.append("Spark engine left out (--no-spark).")
    elif not spark:
        notes.append(f"Spark engine skipped: {SPARK_ENGINE.relative_to(REPO)} does not exist on this branch.")
    else:
        backfill = [python, "-m", "jobs", "backfill", "bench_spark", "--start", COLD_DAY.isoformat(), "--end", day.isoformat(),
                    "--engine", "spark", "--force", *common]
        spark_out = Output("parquet", str(workdir / "scores_spark"))
        contenders.append(Contender(report.SPARK, backfill, 2 * args.rows,
                                    [(spark_out, COLD_DAY, reference("lr", COLD_DAY)), (spark_out, day, reference("lr"))],
                                    "bench_spark", days=2))
    if big_rows:
        contenders.append(Contender(report.big_name(big_rows), bs("bench_pg_big", big), big_rows,
                                    [(Output("postgres", url, "scores_bs_big"), big, reference("lr", big, big_rows))], "bench_pg_big"))
    for contender in contenders:  # computed before the first repetition, so no contender waits on them
        for _, _, get in contender.outputs:
            get()

    runs: dict[str, list[dict]] = {c.name: [] for c in contenders}
    for rep in range(args.repeat):
        order = contenders if rep % 2 == 0 else list(reversed(contenders))  # alternate, so drift hits all alike
        for contender in order:
            _settle(url)
            measured = _measure(contender.argv)
            measured["rows_expected"] = contender.rows
            if contender.job:
                per_day = _ledger_timings(python, common, contender.job, contender.days)
                measured["timings"] = per_day[0]  # the newest day
                if contender.days > 1:
                    measured["first_timings"] = per_day[-1]
            elif measured["returncode"] == 0:
                measured["timings"] = json.loads(measured["stdout"].strip().splitlines()[-1])
            try:
                measured["check"] = contender.check(measured)
            except CheckFailed as exc:
                measured["check"] = {"ok": False, "error": str(exc)}
                log.error("CHECK FAILED, rep %d %s: %s\n%s", rep + 1, contender.name, exc, measured["stderr"][-2000:])
            log.info("rep %d %s: %.2fs, %.0f MiB (tree), exit %d, check %s", rep + 1, contender.name, measured["wall_s"],
                     measured["peak_rss_mib"], measured["returncode"], "ok" if measured["check"]["ok"] else "FAILED")
            runs[contender.name].append(measured)
        # What was measured so far survives a run stopped before its end.
        partial = {"repetitions_done": rep + 1, "chunk_size": args.chunk_size, "workers": args.workers,
                   "postgres_settings": _pg_settings(url), "adbc_drivers": drivers, "uptime_before": uptime_before, "runs": runs}
        args.json.with_suffix(".partial.json").write_text(json.dumps(partial) + "\n")

    profiles = {}
    if not args.no_profile:
        for job in ("bench_pg", "bench_pg_hgb", "bench_sqlite", "bench_parquet"):
            done = subprocess.run([python, "-m", "benchmarks.profile", str(configs), str(workdir / "models"), job, day.isoformat()],
                                  capture_output=True, text=True, cwd=REPO, check=False)
            profiles[job] = json.loads(done.stdout) if done.returncode == 0 else {"error": done.stderr[-2000:]}
    result = report.summarise(args, [(c.name, c.rows) for c in contenders], runs, profiles, notes, big_rows)
    result["uptime_before"] = uptime_before
    result["adbc_drivers"] = drivers
    result["output_indexes"] = _indexes(url, [*SCRIPT_TABLES, "scores_bs", "scores_bs_hgb"])
    return result


def _script_tables(url: str) -> None:
    """The hand-built scripts' output tables, defined as batchscore defines its own: the same
    columns and the same BRIN index on score_date, which each write maintains (about 0.5 s
    of the server's CPU for the 1M-row day). Replacing a day then asks the database for the
    same work whichever contender writes it."""
    import pyarrow as pa
    import sqlalchemy as sa

    from jobs.output import output_schema
    from jobs.sinks.sql import create_table, table_for
    from pipelines.spec import BINARY

    schema = output_schema([pa.field("customer_id", pa.int64())], [], BINARY)
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        for name in SCRIPT_TABLES:
            create_table(conn, table_for(name, schema))
    engine.dispose()


def _drivers(built: str | None) -> dict:
    """The ADBC PostgreSQL driver library each kind of contender loads, and its frame-pointer
    prologues (``benchmarks.write_paths``); ``built``: None when there is no optimized build."""
    wheel = wheel_library()
    mine = "the limit's stages probe, batchscore PostgreSQL's reads"
    return {
        "wheel": {"library": str(wheel), "prologues": prologues(wheel),
                  "used_by": "the sequential and pipelined scripts" + ("" if built else f", {mine}")},
        "built": {"library": built, "prologues": prologues(built), "used_by": f"the pipelined scripts given --driver, {mine}"}
        if built else None,
    }


def _indexes(url: str, tables: list[str]) -> dict[str, list[str]]:
    """Each PostgreSQL output table's index definitions, as the server has them."""
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            query = sa.text("SELECT indexdef FROM pg_indexes WHERE tablename = :t ORDER BY indexname")
            return {t: [r[0] for r in conn.execute(query, {"t": t})] for t in tables}
    finally:
        engine.dispose()


def _pg_settings(url: str) -> dict:
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return {name: conn.execute(sa.text(f"SHOW {name}")).scalar() for name in SHOWN}
    finally:
        engine.dispose()


def _uptime() -> str:
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout.strip()
    except OSError:
        return ""


def _measure(argv: list[str]) -> dict:
    done = subprocess.run([sys.executable, "-m", "benchmarks.measure", "--", *argv], capture_output=True, text=True, cwd=REPO, check=True)
    return json.loads(done.stdout)


def _ledger_timings(python: str, common: list[str], job: str, days: int = 1) -> list[dict]:
    """The stage timings of the job's ``days`` newest ledger rows, newest first."""
    done = subprocess.run([python, "-m", "jobs", "status", job, "--last", str(days), "--format", "json", *common],
                          capture_output=True, text=True, cwd=REPO, check=False)
    try:
        rows = json.loads(done.stdout) or []
    except json.JSONDecodeError:
        rows = []
    timings = [(row.get("stats") or {}).get("timings", {}) for row in rows]
    return timings + [{}] * (days - len(timings))


def _settle(url: str) -> None:
    """The same start for every contender: no dead rows of the last one, no dirty pages."""
    import sqlalchemy as sa

    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text("VACUUM"))
        conn.execute(sa.text("CHECKPOINT"))
    engine.dispose()


if __name__ == "__main__":
    sys.exit(main())
