"""``quality.on_duplicate_ids: reject`` on the spark engine: the pandas engine's rule, split
between the driver and the tasks.

The driver reads the day's id columns alone with the pandas engine's source
(``jobs.engines.task.id_reader``), as the pandas engine's first pass does, and finds the
duplicated ids (``jobs.quality.duplicates.find_duplicates``: a small set, shipped to the
tasks). Each task leaves the rows of those ids out before scoring (``without``, the one split
``set_aside``). The rejects rows carry only ids, so the driver builds them from a second read
of the ids (only when there are duplicates), with the pandas engine's reject schema and
batches: the same table or directory, the same columns and types. They are written with the
day's scores, just before them (``jobs.engines.spark.stage``, ``jobs.engines.spark.arrow``).
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

from jobs.engines.task import ScoringTask, id_reader
from jobs.output import reject_batch, reject_schema
from jobs.quality.duplicates import REASON, Duplicates, find_duplicates, set_aside
from jobs.sinks.base import Aside
from jobs.sinks.rejects import rejects_aside

REJECT = "reject"


@dataclass
class DayRejects:
    """The day's duplicated ids and the rejects rows of their every row."""

    duplicates: Duplicates
    schema: pa.Schema  # the pandas engine's reject schema (ids as its source types them)
    batches: list[pa.RecordBatch]

    @property
    def rows(self) -> int:
        return sum(batch.num_rows for batch in self.batches)

    def aside(self, output) -> Aside:
        """``<table>_rejects`` or ``<path>_rejects``, replaced with the day's scores."""
        return rejects_aside(output, self.schema, self.batches)


def day_rejects(task: ScoringTask) -> DayRejects | None:
    """On the driver, before the scoring: the day's duplicate-id rejects (None: not in
    ``reject`` mode, or the day has no rows)."""
    if task.quality.on_duplicate_ids != REJECT:
        return None
    reread = id_reader(task)
    first: list[pa.Schema] = []

    def noted(batches):
        for batch in batches:
            if not first:
                first.append(batch.schema)
            yield batch

    duplicates = find_duplicates(noted(reread()), task.id_columns, reread)
    if not first:
        return None  # an empty day: the scoring says so
    schema = reject_schema([first[0].field(n) for n in task.id_columns])
    batches = []
    if duplicates:
        for batch in reread():
            _, aside = set_aside(batch, duplicates)
            if aside is not None:
                batches.append(reject_batch(aside, [REASON] * aside.num_rows, schema, task.lineage))
    return DayRejects(duplicates, schema, batches)


def without(batch: pa.RecordBatch, duplicates: Duplicates | None) -> pa.RecordBatch:
    """In a task: ``batch`` without the rows of a duplicated id (they are the driver's rejects)."""
    if not duplicates:
        return batch
    return set_aside(batch, duplicates)[0]
