"""The sections of a job file, as frozen pydantic models: sources, outputs, the pipeline
reference, quality, drift, spark, training, outcomes, gate; the defaults and the validators of
names they share."""

from __future__ import annotations

import re
from typing import Annotated, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from jobs.schedule.cron import trigger
from jobs.vocabulary import DEFAULT_ALIAS, DEFAULT_MAX_NULL_FRACTION, PARQUET, SQL

IDENTIFIER = r"[A-Za-z_][A-Za-z0-9_]*"
TABLE_NAME = re.compile(rf"^{IDENTIFIER}(\.{IDENTIFIER})?$")
COLUMN_NAME = re.compile(rf"^{IDENTIFIER}$")
JOB_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")

# Defaults of the job file (SPEC "Configuration").
DEFAULT_CHUNK_SIZE = 100_000
DEFAULT_RETRY_DELAY_S = 60.0
DEFAULT_WORKERS = 1  # scoring processes per run; 1: score in the run's own process
DEFAULT_PIPELINE_VERSION = DEFAULT_ALIAS  # an alias or a version number
DEFAULT_MAX_CATCHUP_DAYS = 7  # how far back the scheduler looks for missed fires
DEFAULT_WAIT_FOR_DATA_S = 0.0  # how long a day with no input rows yet is polled for (0: fail at once)
DEFAULT_MISFIRE_GRACE_S = 600  # a fire later than this (daemon busy or asleep) is dropped
RESOLVE_RUN_START, RESOLVE_AS_OF_DAY = "run_start", "as_of_day"  # pipeline.resolve
DEFAULT_SERVE_MAX_RECORDS = 1000  # records in one online scoring request
DEFAULT_PUBLISH_TTL_DAYS = 3  # a day published to Redis expires this long after its publish
DEFAULT_TRAINING_ALIAS = "staging"  # where `batchscore train` puts a new version


def _table_name(value: str) -> str:
    if not TABLE_NAME.match(value):
        raise ValueError(
            f"{value!r} is not a table name: use name or schema.name of letters, digits and _"
        )
    return value


def _column_name(value: str) -> str:
    if not COLUMN_NAME.match(value):
        raise ValueError(f"{value!r} is not a column name: use letters, digits and _")
    return value


def check_cron(value: str | None) -> str | None:
    """A 5-field cron expression APScheduler's trigger accepts (a job's or training's schedule)."""
    if value is None:
        return None
    if len(value.split()) != 5:
        raise ValueError(f"{value!r} is not a 5-field cron expression (minute hour day month weekday)")
    try:
        trigger(value, ZoneInfo("UTC"))
    except ValueError as exc:
        raise ValueError(f"{value!r} is not a valid cron expression: {exc}") from exc
    return value


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=False)


class SqlSource(_Frozen):
    """Rows of a table for one ``date_column`` value, or a query bound with ``:score_date``."""

    kind: Literal[SQL]
    url: str
    table: str | None = None
    date_column: str | None = None
    query: str | None = None

    _check_table = field_validator("table")(lambda v: v if v is None else _table_name(v))
    _check_date = field_validator("date_column")(lambda v: v if v is None else _column_name(v))

    @model_validator(mode="after")
    def _table_or_query(self) -> SqlSource:
        if (self.table is None) == (self.query is None):
            raise ValueError("give either table (with date_column) or query, not both")
        if self.table is not None and self.date_column is None:
            raise ValueError("table needs date_column: the column that holds the day")
        if self.query is not None and ":score_date" not in self.query:
            raise ValueError("query must use the bind parameter :score_date")
        return self

    def describe(self) -> str:
        return self.table or "query"


class ParquetSource(_Frozen):
    """A Parquet dataset: hive directories ``date_column=D/`` or a date column in the files."""

    kind: Literal[PARQUET]
    path: str
    date_column: str

    _check_date = field_validator("date_column")(_column_name)

    def describe(self) -> str:
        return self.path


class PipelineRef(_Frozen):
    name: str
    version: str | int = DEFAULT_PIPELINE_VERSION  # an alias or a version number
    # run_start: the alias's target when the run starts; as_of_day: its target on the scored day
    resolve: Literal["run_start", "as_of_day"] = RESOLVE_RUN_START
    # aliases or version numbers also scored every run, into <table>_shadow (jobs.shadow)
    shadow: tuple[str | int, ...] = ()

    @field_validator("shadow", mode="before")
    @classmethod
    def _shadow_is_a_list(cls, value):
        if not isinstance(value, (list, tuple)):
            raise ValueError(f"{value!r} is not a list: give aliases or version numbers, e.g. [staging]")
        return value


class SqlOutput(_Frozen):
    kind: Literal[SQL]
    url: str
    table: str
    positive_class: str | int | bool | None = None  # binary classifiers; default classes_[1]

    _check_table = field_validator("table")(_table_name)

    def describe(self) -> str:
        return self.table


class ParquetOutput(_Frozen):
    """Written as ``path/score_date=D/*.parquet``."""

    kind: Literal[PARQUET]
    path: str
    positive_class: str | int | bool | None = None

    def describe(self) -> str:
        return self.path


def null_limit(max_null_fraction: float | dict[str, float], column: str) -> float:
    """A column's limit under ``quality.max_null_fraction``: one figure for every column, or a
    mapping by column (the columns it leaves out get ``DEFAULT_MAX_NULL_FRACTION``)."""
    if isinstance(max_null_fraction, dict):
        return max_null_fraction.get(column, DEFAULT_MAX_NULL_FRACTION)
    return max_null_fraction


class QualityConfig(_Frozen):
    """Input checks of every run (``quality:``); each failure stops the run before the write."""

    min_rows: int = Field(1, ge=0)
    max_rows: int | None = Field(None, ge=1)
    max_null_fraction: float | dict[str, float] = DEFAULT_MAX_NULL_FRACTION  # a mapping: per column, others the default
    max_unseen_category_fraction: float = Field(0.01, ge=0, le=1)
    max_out_of_range_fraction: float | None = Field(None, ge=0, le=1)  # None: counted only
    on_fail: Literal["fail", "warn"] = "fail"
    on_bad_rows: Literal["fail", "reject"] = "fail"
    # The same id twice in a day: fail the run, or set every row of that id aside (rejects).
    on_duplicate_ids: Literal["fail", "reject"] = "fail"
    max_reject_fraction: float = Field(0.001, ge=0, le=1)

    @field_validator("max_null_fraction")
    @classmethod
    def _check_fractions(cls, value: float | dict[str, float]) -> float | dict[str, float]:
        for key, fraction in (value.items() if isinstance(value, dict) else [("", value)]):
            if key:
                _column_name(key)
            if not 0 <= fraction <= 1:
                raise ValueError(f"{fraction!r} is not a fraction between 0 and 1")
        return value

    @model_validator(mode="after")
    def _rows_in_order(self) -> QualityConfig:
        if self.max_rows is not None and self.max_rows < self.min_rows:
            raise ValueError(f"max_rows {self.max_rows} is below min_rows {self.min_rows}")
        return self

    def null_limit(self, column: str) -> float:
        return null_limit(self.max_null_fraction, column)


class DriftConfig(_Frozen):
    """Score and feature drift against the training reference and the previous day (``drift:``)."""

    max_psi: float = Field(0.2, gt=0)
    on_fail: Literal["warn", "fail"] = "warn"
    features: list[str] = []  # per-feature drift (PSI) for these

    _check_features = field_validator("features")(lambda v: [_column_name(c) for c in v])


class SparkSettings(_Frozen):
    """The ``spark:`` section: how the spark engine runs (docs/configuration.md).

    Settings given to ``spark-submit`` (or in its spark-defaults.conf) win over these.
    """

    master: str | None = None  # default: $BATCHSCORE_SPARK_MASTER, else local[*]
    executor_memory: str | None = None  # spark.executor.memory, e.g. 4g
    conf: dict[str, str | int | float | bool] = {}  # any other Spark setting
    read_partitions: int | None = Field(None, gt=0)  # parallel JDBC reads; default: Spark's parallelism
    partition_column: str | None = None  # JDBC reads split on it; default: the first id column

    _check_column = field_validator("partition_column")(lambda v: v if v is None else _column_name(v))


class ServeConfig(_Frozen):
    """The ``serve:`` section: how ``batchscore serve`` scores this job online."""

    max_records: int = Field(DEFAULT_SERVE_MAX_RECORDS, ge=1, le=100_000)  # records per request


class RedisPublish(_Frozen):
    """``publish: {kind: redis, ...}``: after a day commits, its scores by id in Redis."""

    kind: Literal["redis"]
    url: str  # redis://[:password@]host:port/db
    ttl_days: int = Field(DEFAULT_PUBLISH_TTL_DAYS, ge=1)  # how long a published day is kept

    @field_validator("url")
    @classmethod
    def _check_url(cls, value: str) -> str:
        if not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError(f"{value!r} is not a Redis URL: use redis://host:port/db")
        return value


SourceConfig = Annotated[SqlSource | ParquetSource, Field(discriminator="kind")]
OutputConfig = Annotated[SqlOutput | ParquetOutput, Field(discriminator="kind")]
_FACTORY = re.compile(rf"^{IDENTIFIER}(\.{IDENTIFIER})*:{IDENTIFIER}$")


class TrainingConfig(_Frozen):
    """``training:``: how `batchscore train` fits a new version (jobs.lifecycle.training)."""

    factory: str  # module:function returning an unfitted pipeline
    source: SourceConfig  # features and the label, one day per date_column value
    label_column: str
    window_days: int = Field(90, ge=2)  # days of data, ending the day before the train date
    holdout_days: int = Field(14, ge=1)  # the window's last days, held out for the metrics
    alias: str = DEFAULT_TRAINING_ALIAS
    schedule: str | None = None  # cron, 5 fields: the daemon and crontab train on it too

    _check_label = field_validator("label_column")(_column_name)

    @field_validator("factory")
    @classmethod
    def _check_factory(cls, value: str) -> str:
        if not _FACTORY.match(value):
            raise ValueError(f"{value!r} is not module:function (e.g. pipelines.churn:build)")
        return value

    _check_schedule = field_validator("schedule")(lambda v: check_cron(v))  # as the job's schedule

    @model_validator(mode="after")
    def _holdout_inside(self) -> TrainingConfig:
        if self.holdout_days >= self.window_days:
            raise ValueError(f"holdout_days {self.holdout_days} leaves no training days in window_days {self.window_days}")
        if self.alias == DEFAULT_PIPELINE_VERSION:
            raise ValueError(f"alias {self.alias!r}: training never lands on {DEFAULT_PIPELINE_VERSION}; promote it")
        return self


class OutcomesConfig(_Frozen):
    """``outcomes:``: the true labels, joined to stored scores by `batchscore evaluate`."""

    source: SourceConfig  # the id columns, label_column; date_column: the scored day they belong to
    label_column: str
    delay_days: int = Field(0, ge=0)  # a day's labels are final this many days after it

    _check_label = field_validator("label_column")(_column_name)


class GateConfig(_Frozen):
    """``gate:``: what `pipeline promote --gate JOB` asks of a candidate's shadow days."""

    min_days: int = Field(7, ge=1)
    max_metric_drop: float = Field(0.01, ge=0)
    max_psi: float = Field(0.2, gt=0)
