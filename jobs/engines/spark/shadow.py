"""Shadow models on the spark engine: scored in the same Spark tasks as the main model, in one
pass over the day.

- the driver (``SparkShadows``) broadcasts each usable shadow's verified bytes, as it does the
  main model's, and merges the tasks' ``ShadowTallies`` (counts, paired samples, errors) into
  the ledger's figures and warnings (``jobs.shadow_compare``, as the pandas engine does);
- each task (``executor_shadows``) unpickles the shadows from their broadcasts (sha256
  checked) and scores every chunk with them through the one ``ShadowScorer`` right after the
  main model: its rows go out with the main rows (Spark's own path: one frame, told apart by
  ``model_version``) or into files of their own (the Arrow path, ``ShadowFiles``);
- the day's writing keeps only the versions without an error anywhere (``SparkShadows.ok``)
  and swaps ``<table>_shadow`` / ``<path>_shadow`` in with the scores
  (``jobs.engines.spark.stage``).

A shadow that fails to load or score in any task is a warning, never a failed day.
"""

from __future__ import annotations

import posixpath
from collections.abc import Mapping
from dataclasses import dataclass, replace

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from jobs.engines.spark.session import spark_errors
from jobs.engines.spark.worker import executor_pipeline
from jobs.output import SCORE_DATE
from jobs.shadow import Shadow, ShadowScorer, load_scorer, unusable
from jobs.shadow_compare import SEED, ShadowTallies, shadow_figures, shadow_warnings


@dataclass(frozen=True)
class ShippedShadow:
    """What a task gets of one shadow: the resolved ``Shadow`` without its bytes, and the
    broadcast of them."""

    shadow: Shadow
    model: object  # a Spark broadcast of the verified handle (its bytes, its compiled runtime)


class SparkShadows:
    """The driver's side of the run's shadows."""

    def __init__(self, sc, shadows, edges) -> None:
        self.shadows = tuple(shadows)
        self.edges = None if edges is None else np.asarray(edges, dtype=float)
        self.tallies = ShadowTallies(self.edges)
        self.tallies.errors.update(unusable(self.shadows))
        self.shipped = tuple(
            ShippedShadow(replace(s, handle=None), sc.broadcast(s.handle))
            for s in self.shadows if s.key not in self.tallies.errors
        )

    def __bool__(self) -> bool:
        return bool(self.shadows)

    def destroy(self) -> None:
        with spark_errors("releasing the shadow models' broadcasts"):
            for shipped in self.shipped:
                shipped.model.destroy()

    def merge(self, tallies: ShadowTallies) -> None:
        """A task's (or the accumulated) counts and errors."""
        self.tallies.merge(tallies)

    def ok(self) -> tuple[int, ...]:
        """The versions whose rows the day keeps: loaded and scored in every task."""
        return tuple(int(key) for key in self.tallies.ok())

    def figures(self) -> dict[str, dict]:
        return shadow_figures(self.shadows, self.tallies)

    def warnings(self) -> list[str]:
        return shadow_warnings(self.shadows, self.tallies.errors)

    @property
    def seconds(self) -> float:
        return self.tallies.seconds


def executor_shadows(shipped: tuple[ShippedShadow, ...], edges, part: int) -> tuple[ShadowScorer, ShadowTallies]:
    """In a task: the shadows unpickled from their broadcasts (sha256 checked, kept by the
    worker like the main model) and an empty tally of the task's part. The paired sample's
    seed is the part's, so the parts' samples merge into a uniform one."""
    tallies = ShadowTallies(edges, (SEED, part))
    models = {s.shadow.key: s.model for s in shipped}
    scorer = load_scorer(
        [s.shadow for s in shipped], tallies.errors, lambda s: executor_pipeline(models[s.key], s.version)
    )
    tallies.start(model.key for model in scorer.models)
    return scorer, tallies


def task_part() -> int:
    """The Spark partition this task scores (the paired sample's seed)."""
    from pyspark import TaskContext

    context = TaskContext.get()
    return context.partitionId() if context is not None else 0


class ShadowFiles:
    """A task's shadow rows on the Arrow path: one Parquet file per shadow version in the
    shadow day's staging directory (``part-K-vV.parquet``), so the driver can drop the files
    of a version that failed in another task."""

    def __init__(self, directory: str, part: int, schema: pa.Schema) -> None:
        self.directory, self.part = directory, part
        self.schema = schema.remove(schema.get_field_index(SCORE_DATE))
        self._writers: dict[str, pq.ParquetWriter] = {}

    def write(self, outputs: Mapping[str, pa.RecordBatch]) -> None:
        for key, batch in outputs.items():
            writer = self._writers.get(key)
            if writer is None:
                writer = self._writers[key] = pq.ParquetWriter(file_of(self.directory, self.part, key), self.schema)
            writer.write_batch(batch.drop_columns([SCORE_DATE]))

    def close(self) -> None:
        for writer in self._writers.values():
            writer.close()
        self._writers.clear()


def file_of(directory: str, part: int, key: str) -> str:
    return posixpath.join(directory, f"part-{part:05d}-v{key}.parquet")


def version_of(name: str) -> str | None:
    """The shadow version of a file ``ShadowFiles`` wrote (None: another file)."""
    stem = name.removesuffix(".parquet")
    return stem.rsplit("-v", 1)[1] if name.startswith("part-") and "-v" in stem else None
