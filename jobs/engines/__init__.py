"""Engines: score one day from a source into a sink. ``pandas`` in this process, ``spark``
distributed. Both take the same ``ScoringTask`` and the model's ``ModelHandle`` (its record,
verified bytes and ``load()``, from the registry) and give the same ``EngineResult``."""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext

from jobs.config import SparkSettings
from jobs.engines import pandas_engine
from jobs.engines.task import EngineResult, Progress, ScoringTask, StageTimer, driver_monitor
from jobs.errors import ConfigError
from jobs.vocabulary import Engine
from pipelines.model import ModelHandle

__all__ = ["EngineResult", "Progress", "ScoringTask", "StageTimer", "driver_monitor", "kept_warm", "run_engine"]


def run_engine(name: str, task: ScoringTask, model: ModelHandle, progress: Progress | None = None) -> EngineResult:
    """Score ``task``'s day with engine ``name``. The engine loads the pipeline from ``model``
    when it needs it: after its reads have started, so the load overlaps them."""
    if name == Engine.PANDAS:
        return pandas_engine.run(task, model, progress)
    if name == Engine.SPARK:
        # Imported when used: pyspark is an optional dependency (the spark extra).
        from jobs.engines import spark

        return spark.run(task, model, progress)
    raise ConfigError(f"unknown engine {name!r}", hint=f"known engines: {', '.join(Engine)}")


def kept_warm(name: str, spark: SparkSettings, app_name: str) -> AbstractContextManager:
    """Around several days scored one after the other in this process (a backfill, the
    scheduler's catch-up): what the engine can keep from one day to the next stays alive.
    For spark, the context (JVM, Python workers, the unpickled pipeline); pandas keeps nothing."""
    if name == Engine.SPARK:
        from jobs.engines.spark.session import kept_context

        return kept_context(spark, app_name)
    return nullcontext()
