"""One loaded version of a job's pipeline, and the online scoring of records through it.

Scoring is the batch path itself: the records become an Arrow batch (``records.py``) and go
through ``jobs.scoring.score_chunk`` (conform, predict in row blocks, output rows), exactly as
a chunk of a day does; only the lineage columns are the request's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import pyarrow as pa

from jobs.config import JobConfig
from pipelines.spec import BINARY, MULTICLASS, positive_index
from jobs.output import LABEL, SCORE, Lineage, output_schema
from jobs.scoring import score_chunk
from jobs.serve.records import records_to_batch
from pipelines.basics import utcnow
from pipelines.registry import LoadedModel, ModelVersion

ONLINE_RUN = "online"  # the run_id of online lineage (never written anywhere)


@dataclass(frozen=True)
class Served:
    """A job's pipeline as served: immutable, swapped whole when the alias moves. A request
    keeps the ``Served`` it started with, so it finishes on that version."""

    job: str
    version: ModelVersion
    pipeline: object
    positive: int
    id_columns: tuple[str, ...]
    warnings: tuple[str, ...] = ()

    @classmethod
    def of(cls, job: JobConfig, loaded: LoadedModel) -> Served:
        version = loaded.version
        positive = positive_index(version.spec, job.output.positive_class) if version.task == BINARY else 1
        return cls(job.name, version, loaded.pipeline, positive, tuple(job.id_columns), loaded.warnings)

    @property
    def model(self) -> dict:
        return {"name": self.version.name, "version": self.version.version}

    @property
    def columns(self) -> list[str]:
        """The columns of each score: ids, [label], score."""
        return [*self.id_columns, *([LABEL] if self.version.task == MULTICLASS else []), SCORE]


def score_records(served: Served, records: Sequence, *, now: datetime) -> list[dict]:
    """One score object per record, in order: the id columns, [label], score."""
    if not records:
        return []
    return score_batches(served, [records_to_batch(records, served.version.spec, served.id_columns)], now=now)[0]


def score_batches(served: Served, batches: Sequence[pa.RecordBatch], *, now: datetime | None = None) -> list[list[dict]]:
    """The score objects of each batch (checked records of one request each), computed in
    ONE ``score_chunk`` call over all of them."""
    spec = served.version.spec
    if len(batches) == 1:
        batch = batches[0]
    else:  # the requests' Arrow types may differ (a column all null in one): promoted to one
        table = pa.concat_tables([pa.Table.from_batches([b]) for b in batches], promote_options="permissive")
        batch = table.combine_chunks().to_batches()[0]
    now = now or utcnow()
    schema = output_schema([batch.schema.field(n) for n in served.id_columns], [], spec.task)
    lineage = Lineage(day=now.date(), model_name=spec.name, model_version=spec.version, run_id=ONLINE_RUN, scored_at=now)
    output = score_chunk(served.pipeline, batch, spec, served.positive, schema, lineage).output.select(served.columns)
    scores, start = [], 0
    for part in batches:
        scores.append(output.slice(start, part.num_rows).to_pylist())
        start += part.num_rows
    return scores
