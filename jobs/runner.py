"""run_day(): one (job, day), in one direction: claim the day, resolve the model, hand the
day to an engine (source -> score -> sink), record the outcome. Every attempt past the lock
is a ledger row, failures included."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date, datetime

from jobs import db
from jobs.config import JobConfig
from jobs.engines import EngineResult, Progress, ScoringTask, run_engine
from jobs.errors import BatchScoreError, ConfigError, JobLocked, NoInputRows, QualityCheckFailed
from jobs.ledger import Claim, Ledger
from jobs.lifecycle.model_choice import ModelChoice, choose_model
from jobs.output import Lineage
from jobs.run_stats import RunStats
from jobs.serve.publish import publish_after_commit
from jobs.shadow import resolve_shadows
from jobs.sinks import open_sink, output_target
from jobs.vocabulary import RunStatus
from pipelines.basics import utcnow
from pipelines.model import ModelHandle, ModelVersion, version_warnings
from pipelines.registry import Registry
from pipelines.settings import Settings
from pipelines.spec import BINARY, positive_index

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunOutcome:
    job: str
    day: date
    status: RunStatus  # succeeded | skipped
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
    ledger, registry = Ledger(settings.state_url, clock), Registry(settings.models_root)
    try:
        refused = job.unsupported_by(engine_name)
        if refused is not None:  # the job's own engine was checked at load; this is --engine
            raise ConfigError(refused[0], hint=refused[1])
        if pipeline_version is not None:  # a version asked for must exist, even on a day that is skipped
            registry.resolve(job.pipeline.name, pipeline_version)
        target = output_target(job.output)
        claim = ledger.claim(job.name, day, force=force, engine=engine_name, target=target)
    except BatchScoreError as exc:
        raise exc.in_context(job.name, day)
    if claim is None:
        log.info("%s %s: skipped, the day already succeeded into %s (use --force to score it again)", job.name, day, target)
        _recover(ledger, job, day)
        return RunOutcome(job=job.name, day=day, status=RunStatus.SKIPPED)
    log.info(
        "%s %s: reads %s, writes %s, ledger %s", job.name, day,
        _where(job.source), _where(job.output), db.redact(settings.state_url),
    )
    if claim.elsewhere is not None:
        log.info("%s %s: the day succeeded before into %s, not into %s: scoring it", job.name, day, claim.elsewhere, target)
    run = _Run(job, day, claim, ledger, engine_name, clock)
    try:  # the one broad except of a run: record the failure, re-raise it
        choice = choose_model(registry, job, day, pipeline_version)
        version = run.chose(choice)
        task = run.task(version)
        shadows = resolve_shadows(registry, job.pipeline.shadow, version, task.lineage, job.output.positive_class)
        result = run_engine(engine_name, replace(task, shadows=shadows), run.handle(registry, version), progress)
        outcome = run.succeeded(version, result)
    except BaseException as exc:
        run.failed(exc)
        raise
    return outcome


def _recover(ledger: Ledger, job: JobConfig, day: date) -> None:
    """A skipped day too gets what a crash left half-done put back (a Parquet day left
    absent between two renames), under its lock; a live run of the day does it itself."""
    try:
        with ledger.holding(job.name, day):
            open_sink(job.output).recover(day)
    except JobLocked:
        pass
    except BatchScoreError as exc:
        raise exc.in_context(job.name, day)


@dataclass
class _Run:
    """One claimed (job, day) on its way from the model to the ledger."""

    job: JobConfig
    day: date
    claim: Claim
    ledger: Ledger
    engine: str
    clock: Callable[[], datetime]
    started: float = field(default_factory=time.perf_counter)
    warnings: tuple[str, ...] = ()
    choice: ModelChoice | None = None
    runtime: str | None = None  # what scores the final estimator: sklearn | treelite

    def chose(self, choice: ModelChoice) -> ModelVersion:
        """Record the model the day is scored with (and how it was chosen); its library drift
        becomes warnings."""
        self.choice, version = choice, choice.version
        self.ledger.set_model(self.claim, version.name, version.version)
        self.warnings = version_warnings(version)
        for warning in self.warnings:
            log.warning("%s %s: %s", self.job.name, self.day, warning)
        log.info(
            "%s %s: run %s (attempt %d) scoring with %s v%d on %s",
            self.job.name, self.day, self.claim.run_id, self.claim.attempt, version.name, version.version, self.engine,
        )
        return version

    def handle(self, registry: Registry, version: ModelVersion) -> ModelHandle:
        """The version's handle; a compiled library that cannot be used is a warning (the day
        is scored with scikit-learn), and the runtime is recorded."""
        handle = registry.handle(version)
        self.runtime = handle.runtime
        for warning in handle.warnings:
            log.warning("%s %s: %s", self.job.name, self.day, warning)
        self.warnings += handle.warnings
        return handle

    def task(self, version: ModelVersion) -> ScoringTask:
        job, day = self.job, self.day
        positive = positive_index(version.spec, job.output.positive_class) if version.spec.task == BINARY else 1
        return ScoringTask(
            job=job.name,
            day=day,
            source=job.source,
            output=job.output,
            id_columns=tuple(job.id_columns),
            passthrough=tuple(job.passthrough),
            chunk_size=job.chunk_size,
            workers=job.workers,
            model=version,
            positive=positive,
            lineage=Lineage(day=day, model_name=version.name, model_version=version.version, run_id=self.claim.run_id, scored_at=self.clock()),
            quality=job.quality,
            drift=job.drift,
            previous=self.ledger.previous_day(job.name, day),
            spark=job.spark,
        )

    def succeeded(self, version: ModelVersion, result: EngineResult) -> RunOutcome:
        seconds = time.perf_counter() - self.started
        checked = list(result.warnings)
        if result.checks is None:
            checked.append(f"quality and drift checks are not run by the {self.engine} engine")
        for warning in checked:
            log.warning("%s %s: %s", self.job.name, self.day, warning)
        self.warnings += tuple(checked)
        checks = result.checks or RunStats()
        stats = replace(RunStats.from_json({
            **result.details, **({"shadow": result.shadow} if result.shadow else {}),
            "timings": {**result.timings, "total": round(seconds, 4)}, "warnings": self.warnings,
            "model_choice": self.choice.to_json(), "runtime": self.runtime,
        }), scores=result.scores, quality=checks.quality, drift=checks.drift)
        self.ledger.finish(
            self.claim, rows_read=result.rows_read, rows_written=result.rows_written,
            rows_rejected=result.rows_rejected, stats=stats,
        )
        log.info(
            "%s %s: succeeded, %d rows written in %.2fs (%.0f rows/s) with %s v%d",
            self.job.name, self.day, result.rows_written, seconds, result.rows_written / seconds if seconds else 0.0,
            version.name, version.version,
        )
        if self.job.publish is not None:  # scores by id: a failed publish is a warning, the day stays committed
            self.warnings += tuple(publish_after_commit(self.job, self.day, self.claim.run_id, self.ledger))
        return RunOutcome(
            job=self.job.name, day=self.day, status=RunStatus.SUCCEEDED, run_id=self.claim.run_id,
            rows_read=result.rows_read, rows_written=result.rows_written, model_name=version.name,
            model_version=version.version, seconds=seconds, warnings=self.warnings,
        )

    def failed(self, exc: BaseException) -> None:
        """Record the failure in the ledger (the caller re-raises it)."""
        if isinstance(exc, BatchScoreError):
            exc.in_context(self.job.name, self.day)
        message = str(exc) or type(exc).__name__
        checks = exc.stats if isinstance(exc, QualityCheckFailed) else RunStats()
        self.ledger.fail(self.claim, message, replace(checks, timings={}, warnings=self.warnings, runtime=self.runtime))
        # No rows yet is upstream's lateness, not our failure: a warning while retries wait.
        level = logging.WARNING if isinstance(exc, NoInputRows) else logging.ERROR
        log.log(level, "%s %s: run %s failed: %s", self.job.name, self.day, self.claim.run_id, message)


def _where(target) -> str:
    """A source or output as a log names it: database (password masked) and table, or path."""
    url = getattr(target, "url", None)
    if url is None:
        return f"parquet {target.path}"
    return f"{db.redact(url)} table {target.describe()}"
