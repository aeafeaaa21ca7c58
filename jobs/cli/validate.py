"""validate: a job's config, source, pipeline and columns, checked without scoring anything."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

from jobs.config import JobConfig
from jobs.errors import NoInputRows
from pipelines.spec import check_columns, conform, positive_index
from pipelines.settings import Settings
from jobs.sources import open_source
from pipelines.registry import Registry


def validate_job(job: JobConfig, settings: Settings, day: date | None = None) -> Iterator[str]:
    """Yield one line per check passed; raise the first failure's error (with job and day)."""
    yield "config ok"
    registry = Registry(settings.models_root)
    try:
        version = registry.resolve(job.pipeline.name, job.pipeline.version)
        loaded = registry.load(version)
        if version.spec.task == "binary":
            positive_index(version.spec, job.output.positive_class)
        yield f"pipeline {version.name} v{version.version} loads (sha256 ok, {version.task}, {len(version.features)} features, runtime {loaded.runtime})"
        for warning in loaded.warnings:
            yield f"warning: {warning}"
        wanted = list(dict.fromkeys([*job.id_columns, *job.passthrough, *version.spec.feature_names]))
        source = open_source(job.source, chunk_size=job.chunk_size, wanted=wanted)
        columns = source.columns()
        yield f"source {source.describe()} reachable ({len(columns)} columns)"
        check_columns(columns, version.spec, also=[*job.id_columns, *job.passthrough])
        yield "required columns present"
        if day is not None:
            first = next((b for b in source.iter_batches(day) if b.num_rows), None)
            if first is None:
                raise NoInputRows.in_source(source.describe())
            yield f"source has rows for {day}"
            # run's own check of the first chunk: the same columns, cast to the same types
            conform(first.select(version.spec.feature_names).to_pandas(), version.spec)
            yield f"the first chunk of {day} ({first.num_rows} rows) has the pipeline's column types"
    except Exception as exc:
        if hasattr(exc, "in_context"):
            exc.in_context(job.name, day)
        raise
