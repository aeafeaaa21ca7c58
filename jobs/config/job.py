"""``JobConfig``: one job file, whole and checked (every option-compatibility check at load)."""

from __future__ import annotations

from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator, model_validator

from jobs.config.sections import (
    DEFAULT_CHUNK_SIZE,
    DEFAULT_MAX_CATCHUP_DAYS,
    DEFAULT_MISFIRE_GRACE_S,
    DEFAULT_RETRY_DELAY_S,
    DEFAULT_WAIT_FOR_DATA_S,
    DEFAULT_WORKERS,
    JOB_NAME,
    DriftConfig,
    GateConfig,
    OutcomesConfig,
    OutputConfig,
    PipelineRef,
    QualityConfig,
    RedisPublish,
    ServeConfig,
    SourceConfig,
    SparkSettings,
    TrainingConfig,
    _column_name,
    _Frozen,
    check_cron,
)
from jobs.output import RESERVED_COLUMNS
from jobs.vocabulary import Engine, workers_setting


class JobConfig(_Frozen):
    name: str
    source: SourceConfig
    pipeline: PipelineRef
    id_columns: list[str] = Field(min_length=1)
    output: OutputConfig
    schedule: str | None = None  # cron, 5 fields; None: a manual-only job
    timezone: str = "UTC"
    score_date: Literal["yesterday", "today"] = "yesterday"
    catchup: bool = False
    passthrough: list[str] = []
    chunk_size: int = Field(DEFAULT_CHUNK_SIZE, gt=0)
    workers: int | str = DEFAULT_WORKERS  # or auto (jobs.engines.cores)
    engine: Engine = Engine.PANDAS
    retries: int = Field(0, ge=0)
    retry_delay_s: float = Field(DEFAULT_RETRY_DELAY_S, ge=0)
    quality: QualityConfig = QualityConfig()
    drift: DriftConfig = DriftConfig()
    max_catchup_days: int = Field(DEFAULT_MAX_CATCHUP_DAYS, ge=1)
    wait_for_data_s: float = Field(DEFAULT_WAIT_FOR_DATA_S, ge=0)
    misfire_grace_s: int = Field(DEFAULT_MISFIRE_GRACE_S, ge=1)
    spark: SparkSettings = SparkSettings()  # used by engine: spark only
    serve: ServeConfig = ServeConfig()  # batchscore serve
    publish: RedisPublish | None = None  # scores by id after each committed day
    training: TrainingConfig | None = None
    outcomes: OutcomesConfig | None = None
    gate: GateConfig = GateConfig()

    @field_validator("name")
    @classmethod
    def _check_name(cls, value: str) -> str:
        if not JOB_NAME.match(value):
            raise ValueError(f"{value!r} is not a job name: use letters, digits, _ . -")
        return value

    @field_validator("id_columns", "passthrough")
    @classmethod
    def _check_columns(cls, value: list[str]) -> list[str]:
        for column in value:
            _column_name(column)
            if column in RESERVED_COLUMNS:
                raise ValueError(f"{column!r} is an output column of batchscore; rename it")
        if len(set(value)) != len(value):
            raise ValueError("a column is listed twice")
        return value

    @field_validator("timezone")
    @classmethod
    def _check_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}: use an IANA name such as UTC or Europe/Paris") from exc
        return value

    _check_schedule = field_validator("schedule")(lambda v: check_cron(v))
    _check_workers = field_validator("workers", mode="before")(lambda v: workers_setting(v))

    @model_validator(mode="after")
    def _ids_not_passthrough(self) -> JobConfig:
        both = sorted(set(self.id_columns) & set(self.passthrough))
        if both:
            raise ValueError(f"{', '.join(both)} in both id_columns and passthrough")
        return self

    @model_validator(mode="after")
    def _engine_runs_the_options(self) -> JobConfig:
        refused = self.unsupported_by(self.engine)
        if refused is not None:
            raise ValueError(f"{refused[0]} ({refused[1]})")
        return self

    def unsupported_by(self, engine: str) -> tuple[str, str] | None:
        """What of this job ``engine`` cannot run, as (problem, fix); None when it runs it all.
        Checked at load for the job's own engine, and by the runner for ``--engine``."""
        if engine != Engine.SPARK:
            return None
        # on_duplicate_ids: reject runs on both engines; bad rows are isolated by the pandas engine only.
        if self.quality.on_bad_rows == "reject":
            return ("quality.on_bad_rows: reject is not supported by the spark engine",
                    "use engine: pandas for this job, or on_bad_rows: fail")
        return None

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)
