"""What an engine is handed and what it gives back: the ``ScoringTask`` of one (job, day) as
plain data, the ``EngineResult``, seconds per stage (``StageTimer``), and the run's checks for
an engine that scores elsewhere (``driver_monitor``)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date

import pyarrow as pa

from jobs.config import DriftConfig, OutputConfig, QualityConfig, SourceConfig, SparkSettings
from jobs.quality.monitor import RunMonitor
from jobs.run_stats import PreviousDay, RunStats
from jobs.sources import open_source
from jobs.output import Lineage
from jobs.shadow import Shadow
from pipelines.spec import ModelSpec
from pipelines.distribution import PROBABILITY_EDGES, ScoreSummary
from pipelines.model import ModelHandle, ModelVersion

Progress = Callable[[int], None]  # called with the rows scored so far


@dataclass(frozen=True)
class ScoringTask:
    """Everything an engine needs for one (job, day), as plain data."""

    job: str
    day: date
    source: SourceConfig
    output: OutputConfig
    id_columns: tuple[str, ...]
    passthrough: tuple[str, ...]
    chunk_size: int
    model: ModelVersion  # the registry's record: sha256, feature schema, reference scores
    positive: int  # predict_proba column of the positive class
    lineage: Lineage
    quality: QualityConfig = QualityConfig()
    drift: DriftConfig = DriftConfig()
    previous: PreviousDay | None = None  # the last succeeded day before this one, for drift
    spark: SparkSettings = SparkSettings()  # the job's spark: section (spark engine only)
    workers: int | str = 1  # processes scoring chunks (pandas engine); 1: in this process; auto (jobs.engines.cores)
    shadows: tuple[Shadow, ...] = ()  # pipeline.shadow, resolved at the run's start

    @property
    def spec(self) -> ModelSpec:
        return self.model.spec

    @property
    def histogram_edges(self) -> tuple[float, ...] | None:
        """Edges of the score histogram, comparable with the training reference."""
        reference = self.model.reference
        if reference is not None and reference.edges:
            return reference.edges
        return PROBABILITY_EDGES if self.spec.task != "regression" else None

    @property
    def wanted_columns(self) -> list[str]:
        shadow_features = [name for shadow in self.shadows for name in shadow.feature_names]
        return list(dict.fromkeys([*self.id_columns, *self.passthrough, *self.spec.feature_names, *shadow_features]))


@dataclass
class EngineResult:
    rows_read: int
    rows_written: int
    rows_rejected: int
    scores: ScoreSummary  # the day's score distribution
    timings: dict[str, float] = field(default_factory=dict)  # seconds per stage
    checks: RunStats | None = None  # the quality and drift sections (RunMonitor.finish); None: not checked
    warnings: list[str] = field(default_factory=list)  # checks over their limit that only warn
    details: dict = field(default_factory=dict)  # engine facts for the ledger (spark: application id)
    shadow: dict = field(default_factory=dict)  # per shadow version: comparison figures or error


class StageTimer:
    """Seconds spent per stage, for the ledger's stats."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextmanager
    def stage(self, name: str):
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - start

    def iterate(self, name: str, items: Iterator) -> Iterator:
        """Count the time spent producing each item of ``items`` under ``name``."""
        while True:
            with self.stage(name):
                item = next(items, _DONE)
            if item is _DONE:
                return
            yield item


_DONE = object()


def driver_monitor(task: ScoringTask, model: ModelHandle, timer: StageTimer) -> RunMonitor:
    """The run's checks, for an engine that scores elsewhere (Spark's executors): the pipeline
    is loaded here only for what its encoders were fitted on (timed as ``model_load``)."""
    with timer.stage("model_load"):
        pipeline = model.load()
    return RunMonitor.for_task(task, pipeline)


def id_reader(task: ScoringTask) -> Callable[[], Iterator[pa.RecordBatch]]:
    """The day's id columns alone, read again from the source: the duplicate-id check's first
    pass (``on_duplicate_ids: reject``) and its confirmation of hashed ids."""

    def read() -> Iterator[pa.RecordBatch]:
        source = open_source(task.source, chunk_size=task.chunk_size, wanted=task.id_columns)
        return iter(source.iter_batches(task.day))

    return read
