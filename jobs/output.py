"""The ground floor of a run's output: the columns batchscore writes besides the ids and
passthrough, the per-run ``Lineage``, and the Arrow schemas and batches of output and reject
rows. Pure: no I/O, imports nothing of jobs but errors.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

import numpy as np
import pyarrow as pa

from pipelines.spec import MULTICLASS

# Columns every output row carries besides ids, scores and passthrough.
SCORE_DATE, LABEL, SCORE = "score_date", "label", "score"
MODEL_NAME, MODEL_VERSION, RUN_ID, SCORED_AT = "model_name", "model_version", "run_id", "scored_at"
RESERVED_COLUMNS = (SCORE_DATE, LABEL, SCORE, MODEL_NAME, MODEL_VERSION, RUN_ID, SCORED_AT)


# --- building output ---------------------------------------------------------------------

def output_schema(
    id_fields: Sequence[pa.Field], passthrough_fields: Sequence[pa.Field], task: str
) -> pa.Schema:
    """The Arrow schema of output rows: ids, score_date, [label], score, passthrough, lineage."""
    fields = list(id_fields) + [pa.field(SCORE_DATE, pa.date32(), nullable=False)]
    if task == MULTICLASS:
        fields.append(pa.field(LABEL, pa.string()))
    fields.append(pa.field(SCORE, pa.float64(), nullable=False))
    fields += list(passthrough_fields)
    fields += [
        pa.field(MODEL_NAME, pa.string(), nullable=False),
        pa.field(MODEL_VERSION, pa.int32(), nullable=False),
        pa.field(RUN_ID, pa.string(), nullable=False),
        pa.field(SCORED_AT, pa.timestamp("us", tz="UTC"), nullable=False),
    ]
    return pa.schema(fields)


@dataclass(frozen=True)
class Lineage:
    """Per-run constants written on every output row."""

    day: date
    model_name: str
    model_version: int
    run_id: str
    scored_at: datetime  # UTC


def output_batch(
    source: pa.RecordBatch,
    schema: pa.Schema,
    scores: np.ndarray,
    labels: np.ndarray | None,
    lineage: Lineage,
) -> pa.RecordBatch:
    """Output rows for one chunk: ids and passthrough copied from the source batch as-is."""
    n = source.num_rows
    arrays = []
    for field in schema:
        name = field.name
        if name == SCORE_DATE:
            arr = _constant(lineage.day, pa.date32(), n)
        elif name == SCORE:
            arr = pa.array(scores, pa.float64())
        elif name == LABEL:
            arr = pa.array(labels, pa.string())
        elif name == MODEL_NAME:
            arr = _constant(lineage.model_name, pa.string(), n)
        elif name == MODEL_VERSION:
            arr = _constant(lineage.model_version, pa.int32(), n)
        elif name == RUN_ID:
            arr = _constant(lineage.run_id, pa.string(), n)
        elif name == SCORED_AT:
            arr = _constant(lineage.scored_at, pa.timestamp("us", tz="UTC"), n)
        else:
            arr = source.column(name)
            if arr.type != field.type:
                arr = arr.cast(field.type)
        arrays.append(arr)
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


REASON = "reason"  # why a rejected row could not be scored


def reject_schema(id_fields: Sequence[pa.Field]) -> pa.Schema:
    """Rows set aside by ``quality.on_bad_rows: reject``: ids, score_date, run_id, reason."""
    return pa.schema(
        list(id_fields)
        + [
            pa.field(SCORE_DATE, pa.date32(), nullable=False),
            pa.field(RUN_ID, pa.string(), nullable=False),
            pa.field(REASON, pa.string(), nullable=False),
        ]
    )


def reject_batch(source: pa.RecordBatch, reasons: Sequence[str], schema: pa.Schema, lineage: Lineage) -> pa.RecordBatch:
    n = source.num_rows
    arrays = []
    for field in schema:
        if field.name == SCORE_DATE:
            arrays.append(pa.array([lineage.day] * n, pa.date32()))
        elif field.name == RUN_ID:
            arrays.append(pa.array([lineage.run_id] * n, pa.string()))
        elif field.name == REASON:
            arrays.append(pa.array(list(reasons), pa.string()))
        else:
            arrays.append(source.column(field.name).cast(field.type))
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


def _constant(value, kind: pa.DataType, n: int) -> pa.Array:
    """``n`` copies of one value, built in Arrow: a Python list of ``n`` dates or datetimes
    costs more than predicting the chunk."""
    return pa.repeat(pa.scalar(value, kind), n)
