"""Backfill: every day of a range, skipping days that already succeeded, N days at a time.

Each day is one ``run_day`` with its own lock and ledger row; with ``workers > 1`` days run
in separate processes, so one day's crash or memory blow-up cannot take the others down.
With the spark engine the days run one after the other on one Spark context, started once.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from datetime import date

from jobs.config import JobConfig
from jobs.engines import kept_warm
from jobs.errors import BatchScoreError, ConfigError
from jobs.ledger import Ledger, same_target
from jobs.sinks import output_target
from jobs.schedule.retry import run_with_retries
from jobs.vocabulary import Engine, RunStatus
from pipelines.settings import Settings



@dataclass(frozen=True)
class PlannedDay:
    day: date
    action: str  # score | skip
    reason: str


@dataclass(frozen=True)
class DayResult:
    day: date
    status: str  # succeeded | skipped | failed
    rows: int = 0
    seconds: float = 0.0
    model_version: int | None = None
    error: str | None = None
    exit_code: int = 0


def plan(job: JobConfig, days: Iterable[date], ledger: Ledger, *, force: bool) -> list[PlannedDay]:
    """What a backfill would do with each day, and why."""
    days = list(days)
    target = output_target(job.output)
    latest = ledger.latest_per_day(job.name, days[0], days[-1], target) if days else {}
    out = []
    for day in days:
        row = latest.get(day)
        if row is None:
            out.append(PlannedDay(day, "score", "never run"))
        elif row["status"] == RunStatus.SUCCEEDED.value and not same_target(row["output_target"], target):
            out.append(PlannedDay(day, "score", f"succeeded into {row['output_target']} only, not into {target}"))
        elif row["status"] == RunStatus.SUCCEEDED.value:
            if force:
                out.append(PlannedDay(day, "score", f"succeeded (v{row['model_version']}), --force re-scores it"))
            else:
                out.append(PlannedDay(day, "skip", f"succeeded at {row['finished_at']:%Y-%m-%d %H:%M} UTC, v{row['model_version']}"))
        else:
            out.append(PlannedDay(day, "score", f"last attempt {row['status']}: {row['error'] or ''}".rstrip(": ")))
    return out


def run_days(
    job: JobConfig,
    days: list[date],
    settings: Settings,
    *,
    workers: int = 1,
    force: bool = False,
    pipeline_version: str | int | None = None,
    engine: str | None = None,
    on_result: Callable[[DayResult], None] = lambda _: None,
) -> list[DayResult]:
    """Run each day (oldest first); ``on_result`` is called as each one ends."""
    engine = engine or job.engine
    args = dict(settings=settings, force=force, pipeline_version=pipeline_version, engine=engine)
    results = []
    if engine == Engine.SPARK and workers > 1:
        raise ConfigError(
            "backfill --workers above 1 with the spark engine: Spark already spreads each day over its executors",
            hint="drop --workers (the days then share one Spark context), or use --engine pandas",
        ).in_context(job.name, None)
    if workers <= 1:
        try:
            with kept_warm(engine, job.spark, f"batchscore backfill {job.name}"):
                for day in days:
                    result = _run_one(job, day, **args)  # a day's error ends as its DayResult
                    on_result(result)
                    results.append(result)
        except BatchScoreError as exc:  # the engine could not start (Spark without Java)
            raise exc.in_context(job.name, None)
        return results
    # spawn, not fork: the parent may hold threads and open database connections.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        futures = [pool.submit(_run_one, job, day, **args) for day in days]
        for future in as_completed(futures):
            result = future.result()
            on_result(result)
            results.append(result)
    return sorted(results, key=lambda r: r.day)


def _run_one(job: JobConfig, day: date, **args) -> DayResult:
    try:
        outcome = run_with_retries(job, day, **args)
    except BatchScoreError as exc:
        return DayResult(day, RunStatus.FAILED, error=str(exc), exit_code=exc.exit_code)
    return DayResult(
        day,
        outcome.status,
        rows=outcome.rows_written,
        seconds=outcome.seconds,
        model_version=outcome.model_version,
        exit_code=0,
    ) if outcome.status == RunStatus.SUCCEEDED else DayResult(day, outcome.status)
