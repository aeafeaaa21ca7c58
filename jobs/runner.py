"""run_day(): the one place that composes lock, ledger, registry, engine (source -> score ->
sink) for one (job, day). Every attempt past the lock is a ledger row, failures included."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime

from jobs.config import JobConfig
from jobs.engines import Progress, ScoringTask, run_engine
from jobs.errors import BatchScoreError, NoInputRows, QualityCheckFailed
from jobs.ledger import Ledger, utcnow
from jobs.scoring import Lineage, positive_index
from jobs.serve.publish import publish_after_commit
from jobs.settings import Settings
from pipelines.registry import ModelVersion, Registry, version_warnings

log = logging.getLogger(__name__)

SUCCEEDED, SKIPPED = "succeeded", "skipped"


@dataclass(frozen=True)
class RunOutcome:
    job: str
    day: date
    status: str  # succeeded | skipped
    run_id: str | None = None
    rows_read: int = 0
    rows_written: int = 0
    model_name: str | None = None
    model_version: int | None = None
    seconds: float = 0.0
    warnings: tuple[str, ...] = field(default=())


def run_day(
    job: JobConfig,
    day: date,
    settings: Settings,
    *,
    force: bool = False,
    pipeline_version: str | int | None = None,
    engine: str | None = None,
    clock: Callable[[], datetime] = utcnow,
    progress: Progress | None = None,
) -> RunOutcome:
    """Score ``day`` for ``job`` unless it already succeeded (then skip, unless ``force``).

    Raises a ``BatchScoreError`` (with the job and day filled in) when the run fails; the
    failure is in the ledger before it is raised.
    """
    engine_name = engine or job.engine
    ledger = Ledger(settings.state_url, clock)
    try:
        if pipeline_version is not None:  # a version asked for must exist, even on a day that is skipped
            Registry(settings.models_root).resolve(job.pipeline.name, pipeline_version)
        claim = ledger.claim(job.name, day, force=force, engine=engine_name)
    except BatchScoreError as exc:
        raise exc.in_context(job.name, day)
    if claim is None:
        log.info("%s %s: skipped, the day already succeeded (use --force to score it again)", job.name, day)
        return RunOutcome(job=job.name, day=day, status=SKIPPED)

    started = time.perf_counter()
    warnings: tuple[str, ...] = ()
    timings: dict[str, float] = {}
    try:  # the one broad except of a run: record the failure, re-raise it
        registry = Registry(settings.models_root)
        version = registry.resolve(job.pipeline.name, pipeline_version or job.pipeline.version)
        ledger.set_model(claim, version.name, version.version)
        warnings = version_warnings(version)
        for warning in warnings:
            log.warning("%s %s: %s", job.name, day, warning)
        log.info(
            "%s %s: run %s (attempt %d) scoring with %s v%d on %s",
            job.name, day, claim.run_id, claim.attempt, version.name, version.version, engine_name,
        )
        task = ScoringTask(
            job=job.name,
            day=day,
            source=job.source,
            output=job.output,
            id_columns=tuple(job.id_columns),
            passthrough=tuple(job.passthrough),
            chunk_size=job.chunk_size,
            workers=job.workers,
            model=version,
            load_pipeline=_loader(registry, version, timings),
            positive=positive_index(version.spec, job.output.positive_class) if version.spec.task == "binary" else 1,
            lineage=Lineage(day=day, model_name=version.name, model_version=version.version, run_id=claim.run_id, scored_at=clock()),
            quality=job.quality,
            drift=job.drift,
            previous=_previous(ledger, job.name, day),
            spark=job.spark,
        )
        result = run_engine(engine_name, task, progress)
        seconds = time.perf_counter() - started
        timings.update(result.timings)
        timings["total"] = round(seconds, 4)
        checked = list(result.warnings)
        if not result.checks:
            checked.append(f"quality and drift checks are not run by the {engine_name} engine")
        for warning in checked:
            log.warning("%s %s: %s", job.name, day, warning)
        warnings += tuple(checked)
        ledger.finish(
            claim,
            rows_read=result.rows_read,
            rows_written=result.rows_written,
            rows_rejected=result.rows_rejected,
            stats={"scores": result.scores, "timings": timings, "warnings": list(warnings), **result.checks, **result.details},
        )
    except BaseException as exc:
        if isinstance(exc, BatchScoreError):
            exc.in_context(job.name, day)
        message = str(exc) or type(exc).__name__
        checks = exc.stats if isinstance(exc, QualityCheckFailed) else {}
        ledger.fail(claim, message, {"timings": timings, "warnings": list(warnings), **checks})
        # No rows yet is upstream's lateness, not our failure: a warning while retries wait.
        level = logging.WARNING if isinstance(exc, NoInputRows) else logging.ERROR
        log.log(level, "%s %s: run %s failed: %s", job.name, day, claim.run_id, message)
        raise
    log.info(
        "%s %s: succeeded, %d rows written in %.2fs (%.0f rows/s) with %s v%d",
        job.name, day, result.rows_written, seconds, result.rows_written / seconds if seconds else 0.0,
        version.name, version.version,
    )
    if job.publish is not None:  # scores by id: a failed publish is a warning, the day stays committed
        warnings += publish_after_commit(job, day, claim.run_id, ledger)
    return RunOutcome(
        job=job.name,
        day=day,
        status=SUCCEEDED,
        run_id=claim.run_id,
        rows_read=result.rows_read,
        rows_written=result.rows_written,
        model_name=version.name,
        model_version=version.version,
        seconds=seconds,
        warnings=warnings,
    )


def _previous(ledger: Ledger, job: str, day: date) -> dict | None:
    """The score distribution of the last succeeded day before ``day``, for drift."""
    row = ledger.previous_success(job, day)
    if row is None or not (row.get("stats") or {}).get("scores"):
        return None
    return {"day": row["score_date"].isoformat(), "scores": row["stats"]["scores"]}


def _loader(registry: Registry, version: ModelVersion, timings: dict[str, float]) -> Callable[[], object]:
    """The task's pipeline loader: sha256 check and unpickling, timed as model_load."""
    def load() -> object:
        with _timed(timings, "model_load"):
            return registry.load(version).pipeline

    return load


class _timed:
    def __init__(self, timings: dict[str, float], name: str) -> None:
        self.timings, self.name = timings, name

    def __enter__(self):
        self.start = time.perf_counter()

    def __exit__(self, *exc):
        self.timings[self.name] = round(time.perf_counter() - self.start, 4)
        return False
