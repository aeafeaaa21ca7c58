"""One chunk, end to end: conform its features to the model's spec, let the run's monitor
observe them (input checks), predict, and build its output rows.

No I/O here: the pandas engine (in this process or its workers) and the Spark engine's tasks
all call ``score_chunk``, so the same rows give the same scores to the last bit whichever way
a job runs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from jobs.output import Lineage, output_batch, reject_batch
from jobs.quality.bisect import isolate_bad_rows
from pipelines.spec import ModelSpec, conform, predict, raw_predict


@dataclass(frozen=True)
class ChunkResult:
    """One scored chunk: its output rows, their scores, the rows set aside (reject mode), and
    the shadow models' rows."""

    output: pa.RecordBatch
    scores: np.ndarray
    rejects: pa.RecordBatch | None = None  # ids, score_date, run_id, reason
    kept: np.ndarray | None = None  # reject mode: which rows of the chunk were scored (None: all)
    # per shadow version (jobs.shadow): (its output rows of the kept rows, or its error; seconds)
    shadows: Mapping[str, tuple[pa.RecordBatch | str, float]] = field(default_factory=dict)


def score_chunk(
    pipeline,
    batch: pa.RecordBatch,
    spec: ModelSpec,
    positive: int,
    schema: pa.Schema,
    lineage: Lineage,
    *,
    monitor=None,
    reject_schema: pa.Schema | None = None,
) -> ChunkResult:
    """One chunk end to end: conform its features, let ``monitor`` observe them (input checks),
    predict, build its output rows.

    With ``reject_schema`` (``quality.on_bad_rows: reject``) the rows the pipeline cannot
    score are isolated by bisection and returned as reject rows instead of failing the chunk.
    """
    # One pandas block per column: the default consolidates the numbers into one 2-D copy.
    features = conform(batch.select(spec.feature_names).to_pandas(split_blocks=True), spec)
    if monitor is not None:
        monitor.observe(features)
        monitor.observe_ids(batch)  # the duplicate-id check, judged with the verdict
    if reject_schema is None:
        scores, labels = predict(pipeline, features, spec, positive)
        return ChunkResult(output_batch(batch, schema, scores, labels, lineage), scores)
    scores, labels, reasons = isolate_bad_rows(lambda part: raw_predict(pipeline, part, spec, positive), features)
    if not reasons:
        return ChunkResult(output_batch(batch, schema, scores, labels, lineage), scores)
    bad = np.zeros(len(scores), dtype=bool)
    bad[list(reasons)] = True
    good = pa.array(~bad)
    kept = batch.filter(good)
    output = output_batch(kept, schema, scores[~bad], None if labels is None else labels[~bad], lineage)
    rejects = reject_batch(batch.filter(pa.array(bad)), [reasons[i] for i in sorted(reasons)], reject_schema, lineage)
    return ChunkResult(output, scores[~bad], rejects, ~bad)
