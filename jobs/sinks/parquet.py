"""Parquet sink: ``path/score_date=D/part-0.parquet``, written aside and renamed into place."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterable
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from jobs.config import ParquetOutput
from jobs.errors import SinkError, TransientError
from jobs.files import fsync
from jobs.scoring import SCORE_DATE


class ParquetDaySink:
    def __init__(self, config: ParquetOutput) -> None:
        self.config = config

    def describe(self) -> str:
        return self.config.path

    def day_dir(self, day: date) -> Path:
        return Path(self.config.path) / f"{SCORE_DATE}={day.isoformat()}"

    def replace_day(self, day: date, schema: pa.Schema, batches: Iterable[pa.RecordBatch]) -> int:
        final = self.day_dir(day)
        staging = final.parent / f".tmp-{final.name}-{uuid.uuid4().hex}"
        # score_date lives in the directory name, as hive readers expect.
        file_schema = schema.remove(schema.get_field_index(SCORE_DATE))
        rows = 0
        # We hold the day's lock: any other staging directory of this day is a dead run's.
        for leftover in final.parent.glob(f".tmp-{final.name}-*"):
            shutil.rmtree(leftover, ignore_errors=True)
        try:
            staging.mkdir(parents=True)
            with pq.ParquetWriter(staging / "part-0.parquet", file_schema) as writer:
                for batch in batches:
                    writer.write_batch(batch.drop_columns([SCORE_DATE]))
                    rows += batch.num_rows
            fsync(staging)
            self._swap(staging, final)
        except OSError as exc:
            raise TransientError(f"writing {final} failed: {exc}", hint="the run can be retried") from exc
        except pa.ArrowException as exc:
            raise SinkError(f"writing {final} failed: {exc}") from exc
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return rows

    @staticmethod
    def _swap(staging: Path, final: Path) -> None:
        # rename() cannot replace a non-empty directory: move the old day aside first. A
        # crash between the two renames leaves the day absent (never partial); the old copy
        # stays in .old-* until a later run of the day replaces it.
        old = final.parent / f".old-{final.name}-{uuid.uuid4().hex}"
        had_old = final.exists()
        if had_old:
            os.rename(final, old)
        os.rename(staging, final)
        fsync(final.parent)
        if had_old:
            shutil.rmtree(old)
        for leftover in final.parent.glob(f".old-{final.name}-*"):
            shutil.rmtree(leftover, ignore_errors=True)
