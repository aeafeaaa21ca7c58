"""Realized metrics: matured labels (``outcomes:``) joined to the stored scores of a day.

For each day, the labels of the day's outcomes are joined on the id columns to the rows of
the output table (role ``main``) and, when it exists, of ``<table>_shadow`` (role
``shadow``; Parquet: ``<path>_shadow``), which has the same columns. One row per (job,
score_date, model_name, model_version, role) goes to ``batchscore_evaluations`` in the state
database; a day's rows are replaced in one transaction. A day is evaluated once its labels
have matured: ``delay_days`` after it.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
import sqlalchemy as sa

from jobs import db
from jobs.config import JobConfig, OutcomesConfig, ParquetOutput, SqlOutput
from jobs.errors import BatchScoreError, ConfigError, ModelNotFound, SchemaMismatch, SinkError, StateError
from pipelines.spec import BINARY, MULTICLASS, REGRESSION
from pipelines.settings import Settings
from jobs.sinks.base import shadow_name
from jobs.sources import open_source
from pipelines.registry import Registry

log = logging.getLogger(__name__)

MAIN, SHADOW = "main", "shadow"  # roles of a scored row
# The metric each task is judged on (status, the promotion gate) and whether higher is better.
PRIMARY_METRIC = {BINARY: ("roc_auc", True), MULTICLASS: ("accuracy", True), REGRESSION: ("rmse", False)}
PROBABILITY_FLOOR = 1e-15  # log loss of a probability of exactly 0 or 1 is infinite
EVALUATED, NO_SCORES, NO_LABELS, NOT_MATURED = "evaluated", "no scores", "no labels", "not matured"

metadata = sa.MetaData()

evaluations = sa.Table(
    "batchscore_evaluations",
    metadata,
    sa.Column("job", sa.String(200), primary_key=True),
    sa.Column("score_date", sa.Date, primary_key=True),
    sa.Column("model_name", sa.String(200), primary_key=True),
    sa.Column("model_version", sa.Integer, primary_key=True),
    sa.Column("role", sa.String(16), primary_key=True),
    sa.Column("n", sa.BigInteger, nullable=False),
    sa.Column("metrics", sa.JSON, nullable=False),
    sa.Column("evaluated_at", sa.DateTime(timezone=True), nullable=False),
)


class PrimaryMetric(NamedTuple):
    """The metric a version is judged on (``PRIMARY_METRIC``), its value (None: not measurable,
    e.g. roc_auc of a day with one class only) and whether higher is better."""

    name: str
    value: float | None
    higher_is_better: bool


@dataclass(frozen=True)
class Evaluation:
    """One row of ``batchscore_evaluations``: a version's realized metrics on one day."""

    job: str
    score_date: date
    model_name: str
    model_version: int
    role: str  # MAIN | SHADOW
    n: int  # scored rows with a matured label
    metrics: Mapping[str, float | None]
    evaluated_at: datetime | None = None

    @property
    def primary(self) -> PrimaryMetric | None:
        return primary(self.metrics)


@dataclass(frozen=True)
class DayResult:
    day: date
    status: str  # evaluated | no scores | no labels | not matured
    rows: tuple[Evaluation, ...] = ()


class EvaluationStore:
    """The ``batchscore_evaluations`` table; the constructor does no I/O."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._engine: sa.Engine | None = None

    @property
    def engine(self) -> sa.Engine:
        if self._engine is None:
            self._engine = db.state_engine(self.url, metadata, "batchscore_evaluations")
        return self._engine

    def create(self) -> None:
        """Create the table if it is missing."""
        self.engine  # noqa: B018 -- creating the engine creates the table

    def replace_day(self, job: str, day: date, rows: list[Evaluation]) -> None:
        """The (job, day)'s rows, all replaced in one transaction."""
        with _translated(), db.connect(self.engine, "state", begin=True) as conn:
            conn.execute(evaluations.delete().where(evaluations.c.job == job, evaluations.c.score_date == day))
            if rows:
                conn.execute(evaluations.insert(), [asdict(r) for r in rows])

    def rows(
        self, job: str, *, start: date | None = None, end: date | None = None,
        model_name: str | None = None, model_version: int | None = None, role: str | None = None,
    ) -> list[Evaluation]:
        """Evaluation rows of a job, oldest day first (then role, model, version): the one
        reader of ``batchscore_evaluations`` (status, report, the gate)."""
        t = evaluations
        stmt = sa.select(t).where(t.c.job == job)
        for column, value in ((t.c.model_name, model_name), (t.c.model_version, model_version), (t.c.role, role)):
            if value is not None:
                stmt = stmt.where(column == value)
        if start is not None:
            stmt = stmt.where(t.c.score_date >= start)
        if end is not None:
            stmt = stmt.where(t.c.score_date <= end)
        stmt = stmt.order_by(t.c.score_date, t.c.role, t.c.model_name, t.c.model_version)
        with _translated(), db.connect(self.engine, "state") as conn:
            return [_evaluation(row) for row in conn.execute(stmt).mappings()]


def _evaluation(row: Mapping) -> Evaluation:
    metrics = row["metrics"]
    if isinstance(metrics, str):  # some drivers hand JSON back as text
        metrics = json.loads(metrics)
    day = row["score_date"]
    return Evaluation(
        job=row["job"], score_date=day if isinstance(day, date) else date.fromisoformat(str(day)[:10]),
        model_name=row["model_name"], model_version=int(row["model_version"]), role=row["role"], n=int(row["n"]),
        metrics=dict(metrics), evaluated_at=row["evaluated_at"],
    )


def matured_end(outcomes: OutcomesConfig, today: date) -> date:
    """The last day whose labels are final on ``today``."""
    return today - timedelta(days=outcomes.delay_days)


def evaluate_job(
    job: JobConfig, days: list[date], settings: Settings, *, today: date, now: datetime,
) -> list[DayResult]:
    """Evaluate every day of ``days`` whose labels have matured on ``today``; ``now`` stamps
    the rows written."""
    outcomes = _outcomes(job)
    store = EvaluationStore(settings.state_url)
    store.create()  # the table exists from the first evaluate on, even before a day is evaluated
    registry = Registry(settings.models_root)
    results = []
    for day in days:
        try:
            if day > matured_end(outcomes, today):
                results.append(DayResult(day, NOT_MATURED))
                continue
            result = evaluate_day(job, outcomes, day, registry, now)
            if result.rows:
                store.replace_day(job.name, day, list(result.rows))
            results.append(result)
        except BatchScoreError as exc:
            raise exc.in_context(job.name, day)
    return results


def _outcomes(job: JobConfig) -> OutcomesConfig:
    if job.outcomes is None:
        raise ConfigError(
            f"job {job.name} has no outcomes: section",
            hint="add outcomes: (source, label_column, delay_days) to the job file; see docs/configuration.md",
        )
    return job.outcomes


def evaluate_day(job: JobConfig, outcomes: OutcomesConfig, day: date, registry: Registry, now: datetime) -> DayResult:
    """The day's evaluation rows (nothing written)."""
    ids = list(job.id_columns)
    scored = {MAIN: read_scores(job.output, day, ids), SHADOW: read_scores(shadow_output(job.output), day, ids)}
    if scored[MAIN] is None or scored[MAIN].empty:
        return DayResult(day, NO_SCORES)
    labels = read_labels(job, outcomes, day)
    if labels.empty:
        return DayResult(day, NO_LABELS)
    rows = []
    for role, frame in scored.items():
        if frame is None or frame.empty:
            continue
        joined = _join(frame, labels, ids)
        for (name, version), group in joined.groupby(["model_name", "model_version"], sort=True):
            task, positive = _task(registry, str(name), int(version), job.output.positive_class)
            rows.append(Evaluation(
                job=job.name, score_date=day, model_name=str(name), model_version=int(version),
                role=role, n=len(group), metrics=realized_metrics(task, group, positive), evaluated_at=now,
            ))
    return DayResult(day, EVALUATED, tuple(rows))


def shadow_output(output: SqlOutput | ParquetOutput) -> SqlOutput | ParquetOutput:
    """Where the shadow versions' scores of ``output`` are: same columns, ``_shadow`` suffix."""
    return output.model_copy(update={"table" if isinstance(output, SqlOutput) else "path": shadow_name(output)})


def read_scores(output: SqlOutput | ParquetOutput, day: date, ids: list[str]) -> pd.DataFrame | None:
    """The stored rows of ``day`` (ids, score, label if any, model); None if the table is missing."""
    wanted = [*ids, "score", "label", "model_name", "model_version"]
    if isinstance(output, ParquetOutput):
        from jobs.sinks.parquet import day_dir

        directory = Path(day_dir(output.path, day))
        if not directory.is_dir():
            return None
        dataset = ds.dataset(directory, format="parquet")
        return dataset.to_table(columns=[c for c in wanted if c in dataset.schema.names]).to_pandas()
    engine = db.make_engine(output.url)
    schema, name = db.table_parts(output.table)
    action = f"reading the scores of {output.table}"
    with db.translated(action, SinkError, "check output.url and output.table"), db.connect(engine, "output") as conn:
        if not sa.inspect(conn).has_table(name, schema=schema):
            return None
        table = sa.Table(name, sa.MetaData(), schema=schema, autoload_with=conn)
        stmt = sa.select(*[table.c[c] for c in wanted if c in table.c]).where(
            table.c.score_date >= sa.bindparam("start", type_=sa.Date),
            table.c.score_date < sa.bindparam("end", type_=sa.Date),
        )
        result = conn.execute(stmt, {"start": day, "end": day + timedelta(days=1)})
        return pd.DataFrame(result.fetchall(), columns=list(result.keys()))


def read_labels(job: JobConfig, outcomes: OutcomesConfig, day: date) -> pd.DataFrame:
    """The day's outcomes: the id columns and the label, rows without a label dropped."""
    wanted = [*job.id_columns, outcomes.label_column]
    source = open_source(outcomes.source, chunk_size=job.chunk_size, wanted=wanted)
    batches = list(source.iter_batches(day))
    if not batches:
        return pd.DataFrame(columns=wanted)
    frame = pa.Table.from_batches(batches).to_pandas()
    missing = [c for c in wanted if c not in frame.columns]
    if missing:
        raise SchemaMismatch(
            f"the outcomes source {source.describe()} lacks column(s) {', '.join(missing)}",
            hint="it needs the job's id_columns and outcomes.label_column",
        )
    frame = frame[wanted].dropna(subset=[outcomes.label_column])
    return frame.drop_duplicates(subset=list(job.id_columns), keep="last").rename(columns={outcomes.label_column: "__truth"})


def _join(scores: pd.DataFrame, labels: pd.DataFrame, ids: list[str]) -> pd.DataFrame:
    left, right = scores.copy(), labels.copy()
    for column in ids:  # ids typed differently on either side (text vs integer) still match
        if left[column].dtype != right[column].dtype:
            left[column], right[column] = left[column].astype(str), right[column].astype(str)
    return left.merge(right, on=ids, how="inner")


def _task(registry: Registry, name: str, version: int, positive_class) -> tuple[str, object]:
    """The version's task and the label value its score is the probability of."""
    try:
        mv = registry.resolve(name, version)
    except ModelNotFound as exc:
        raise ModelNotFound(
            f"the stored scores name {name} v{version}, which the registry does not have",
            hint="point --models at the registry these scores came from",
        ) from exc
    if mv.task != BINARY:
        return mv.task, None
    classes = mv.classes or (0, 1)
    if positive_class is None:
        return BINARY, classes[1]
    return BINARY, positive_class


def realized_metrics(task: str, joined: pd.DataFrame, positive) -> dict:
    """Metrics of scored rows against their labels (``__truth``), by task.

    Multiclass rows keep only the predicted label and its probability: accuracy is measured,
    log loss cannot be.
    """
    truth = joined["__truth"]
    if task == MULTICLASS:
        return {"accuracy": float((joined["label"].astype(str) == truth.astype(str)).mean())}
    if task == REGRESSION:
        error = joined["score"].to_numpy(float) - truth.to_numpy(float)
        return {"rmse": math.sqrt(float(np.mean(error**2))), "mae": float(np.mean(np.abs(error)))}
    from sklearn.metrics import roc_auc_score

    y = (truth.astype(str) == str(positive)).to_numpy(float)
    p = np.clip(joined["score"].to_numpy(float), PROBABILITY_FLOOR, 1 - PROBABILITY_FLOOR)
    both = 0 < y.sum() < len(y)
    return {
        "roc_auc": float(roc_auc_score(y, p)) if both else None,
        "log_loss": float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))),
        "brier": float(np.mean((p - y) ** 2)),
        "positive_rate": float(y.mean()),
    }


def primary(task_metrics: Mapping) -> PrimaryMetric | None:
    """The primary metric of an evaluation's metrics, by what they hold (one per task)."""
    for name, higher in PRIMARY_METRIC.values():
        if name in task_metrics:
            return PrimaryMetric(name, task_metrics[name], higher)
    return None


def _translated():
    return db.translated("updating batchscore_evaluations", StateError, "check the state database (BATCHSCORE_STATE_URL)")
