"""Training as a job: fit the ``training.factory`` pipeline on a window of labelled days,
measure it on the window's last days (held out by time), register it with its training frame
as reference, its metrics and its window, and move ``training.alias`` to it.

The window of train date D is the ``window_days`` days ending D - 1; the last
``holdout_days`` of them are the holdout. Days are read one at a time through the job's
source adapters (the same "rows of day D" rule as scoring, the same types), so a version is
fitted on the dtypes scoring will hand it.
"""

from __future__ import annotations

import importlib
import logging
import math
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pyarrow as pa

from jobs.config import JobConfig, TrainingConfig
from jobs.errors import BatchScoreError, ConfigError, NoInputRows, SchemaMismatch, TrainingError
from pipelines.spec import BINARY, MULTICLASS, task_of
from pipelines.settings import Settings
from jobs.sources import open_source
from pipelines.registry import Registry

log = logging.getLogger(__name__)

DAY_COLUMN = "__batchscore_day"  # the window day a training row was read for


@dataclass(frozen=True)
class Window:
    start: date  # first training day
    holdout_start: date  # first held-out day
    end: date  # last day (the day before the train date)

    @classmethod
    def of(cls, day: date, training: TrainingConfig) -> Window:
        return cls(
            start=day - timedelta(days=training.window_days),
            holdout_start=day - timedelta(days=training.holdout_days),
            end=day - timedelta(days=1),
        )

    def days(self) -> list[date]:
        return [self.start + timedelta(days=k) for k in range((self.end - self.start).days + 1)]


@dataclass(frozen=True)
class TrainResult:
    job: str
    day: date
    name: str
    version: int
    alias: str
    window: Window
    rows_train: int
    rows_holdout: int
    metrics: dict


def train_job(job: JobConfig, day: date, settings: Settings) -> TrainResult:
    """Fit, measure and register a new version of the job's pipeline for train date ``day``."""
    try:
        training = _training(job)
        window = Window.of(day, training)
        pipeline = build(training.factory)
        frame = read_window(job, training, window)
        features = feature_columns(frame, job, training)
        fit_part = frame[frame[DAY_COLUMN] < window.holdout_start]
        held = frame[frame[DAY_COLUMN] >= window.holdout_start]
        _check_parts(training, window, fit_part, held)
        x_fit, y_fit = fit_part[features].reset_index(drop=True), fit_part[training.label_column]
        log.info(
            "%s %s: fitting %s on %d rows of %s..%s, holding out %d rows of %s..%s",
            job.name, day, training.factory, len(fit_part), window.start,
            window.holdout_start - timedelta(days=1), len(held), window.holdout_start, window.end,
        )
        pipeline = _fit(pipeline, x_fit, y_fit, training)
        metrics = measure(pipeline, held[features], held[training.label_column])
        metrics.update(n_train=len(fit_part), n_holdout=len(held))
        version = Registry(settings.models_root).register(
            job.pipeline.name, pipeline, training_frame=x_fit, alias=training.alias, metrics=metrics,
            training_window=(window.start, window.end),
            reason=f"trained by batchscore train {job.name} --date {day}",
        )
    except BatchScoreError as exc:
        raise exc.in_context(job.name, day)
    log.info("%s %s: registered %s v%d as %s: %s", job.name, day, job.pipeline.name, version, training.alias, metrics)
    return TrainResult(
        job=job.name, day=day, name=job.pipeline.name, version=version, alias=training.alias,
        window=window, rows_train=len(fit_part), rows_holdout=len(held), metrics=metrics,
    )


def _training(job: JobConfig) -> TrainingConfig:
    if job.training is None:
        raise ConfigError(
            f"job {job.name} has no training: section",
            hint="add training: (factory, source, label_column...) to the job file; see docs/configuration.md",
        )
    return job.training


def build(spec: str):
    """The unfitted pipeline that ``training.factory`` (module:function) returns."""
    module_name, _, attr = spec.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(f"training.factory {spec}: cannot import {module_name}: {exc}",
                          hint="give an importable module:function") from exc
    factory = getattr(module, attr, None)
    if not callable(factory):
        raise ConfigError(f"training.factory {spec}: {module_name} has no function {attr}",
                          hint="give module:function of a function returning an unfitted pipeline")
    try:
        return factory()
    except Exception as exc:  # the user's factory: report it as theirs
        raise ConfigError(f"training.factory {spec} raised {type(exc).__name__}: {exc}",
                          hint="fix the factory function") from exc


def read_window(job: JobConfig, training: TrainingConfig, window: Window) -> pd.DataFrame:
    """Every row of the window's days, each tagged with its day in ``DAY_COLUMN``."""
    source = open_source(training.source, chunk_size=job.chunk_size, wanted=[])
    columns = source.columns()
    if training.label_column not in columns:
        raise SchemaMismatch(
            f"the training source {source.describe()} has no label column {training.label_column}",
            hint="fix training.label_column, or add the label to the source",
        )
    source = open_source(training.source, chunk_size=job.chunk_size, wanted=columns)
    frames = []
    for day in window.days():
        batches = list(source.iter_batches(day))
        if not batches or not sum(b.num_rows for b in batches):
            continue
        frame = pa.Table.from_batches(batches).to_pandas()
        frame[DAY_COLUMN] = day
        frames.append(frame)
    if not frames:
        raise NoInputRows(
            f"the training source {source.describe()} has no rows in the window {window.start}..{window.end}",
            hint="upstream may not be ready, or the window is wrong (training.window_days, --date)",
        )
    frame = pd.concat(frames, ignore_index=True)
    missing = int(frame[training.label_column].isna().sum())
    if missing:
        days = sorted({str(d) for d in frame.loc[frame[training.label_column].isna(), DAY_COLUMN]})
        raise TrainingError(
            f"label {training.label_column} is missing in {missing} of {len(frame)} training rows "
            f"(days {', '.join(days[:5])}{'...' if len(days) > 5 else ''})",
            hint="labels must be final for every day of the window: fix upstream, or train later",
        )
    return frame


def feature_columns(frame: pd.DataFrame, job: JobConfig, training: TrainingConfig) -> list[str]:
    """The source's columns but the label, the date column and the job's id columns."""
    leave_out = {training.label_column, DAY_COLUMN, *job.id_columns}
    date_column = getattr(training.source, "date_column", None)
    if date_column:
        leave_out.add(date_column)
    features = [c for c in frame.columns if c not in leave_out]
    if not features:
        raise SchemaMismatch(
            f"the training source has no feature columns (only {', '.join(map(str, frame.columns))})",
            hint="the source must hold the features as well as the label",
        )
    return features


def _check_parts(training: TrainingConfig, window: Window, fit_part: pd.DataFrame, held: pd.DataFrame) -> None:
    if fit_part.empty:
        raise NoInputRows(
            f"no training rows before the holdout: {window.start}..{window.holdout_start - timedelta(days=1)} is empty",
            hint="upstream may not be ready, or widen training.window_days",
        )
    if held.empty:
        raise NoInputRows(
            f"no holdout rows: {window.holdout_start}..{window.end} is empty",
            hint="upstream may not be ready, or change training.holdout_days",
        )


def _fit(pipeline, x: pd.DataFrame, y: pd.Series, training: TrainingConfig):
    from sklearn.base import BaseEstimator

    if not isinstance(pipeline, BaseEstimator):
        raise ConfigError(
            f"training.factory {training.factory} returned a {type(pipeline).__name__}, not a scikit-learn estimator",
            hint="return an unfitted sklearn Pipeline or estimator",
        )
    try:
        return pipeline.fit(x, y)
    except Exception as exc:  # whatever the pipeline raises on this data: say so, keep the cause
        raise TrainingError(
            f"fitting {training.factory} failed: {type(exc).__name__}: {exc}",
            hint="check the training data (types, labels, missing values) and the pipeline",
        ) from exc


def measure(pipeline, x: pd.DataFrame, y: pd.Series) -> dict:
    """Holdout metrics by task: binary roc_auc, log_loss, brier; multiclass accuracy,
    log_loss; regression rmse, mae. roc_auc is None when the holdout has one class."""
    from sklearn import metrics as m

    task, classes = task_of(pipeline)
    try:
        if task == BINARY:
            proba = pipeline.predict_proba(x)
            positive = np.asarray(y) == classes[1]
            auc = float(m.roc_auc_score(positive, proba[:, 1])) if 0 < positive.sum() < len(positive) else None
            return {
                "roc_auc": auc,
                "log_loss": float(m.log_loss(y, proba, labels=list(classes))),
                "brier": float(m.brier_score_loss(positive, proba[:, 1])),
            }
        if task == MULTICLASS:
            return {
                "accuracy": float(m.accuracy_score(y, pipeline.predict(x))),
                "log_loss": float(m.log_loss(y, pipeline.predict_proba(x), labels=list(classes))),
            }
        predicted = pipeline.predict(x)
        return {
            "rmse": math.sqrt(float(m.mean_squared_error(y, predicted))),
            "mae": float(m.mean_absolute_error(y, predicted)),
        }
    except Exception as exc:  # a holdout the fitted pipeline cannot score (a new label...)
        raise TrainingError(
            f"measuring on the holdout failed: {type(exc).__name__}: {exc}",
            hint="check the holdout days' labels and features",
        ) from exc
