"""Job files: YAML -> frozen, typed ``JobConfig``. All validation happens here, once.

An unknown key, a wrong type, a missing field, a bad cron expression, time zone, table name
or enum value is a ``ConfigError`` naming the file, the key and what is allowed (exit 2).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from jobs.errors import ConfigError, UsageError
from jobs.scoring import RESERVED_COLUMNS
from jobs.settings import SETTINGS_FILE, resolve_path, resolve_url

IDENTIFIER = r"[A-Za-z_][A-Za-z0-9_]*"
TABLE_NAME = re.compile(rf"^{IDENTIFIER}(\.{IDENTIFIER})?$")
COLUMN_NAME = re.compile(rf"^{IDENTIFIER}$")
JOB_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")
_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")

# Defaults of the job file (SPEC "Configuration").
DEFAULT_CHUNK_SIZE = 100_000
DEFAULT_RETRY_DELAY_S = 60.0
DEFAULT_WORKERS = 1  # scoring processes per run; 1: score in the run's own process
DEFAULT_PIPELINE_VERSION = "production"
DEFAULT_MAX_NULL_FRACTION = 0.05  # quality.max_null_fraction, and columns a mapping leaves out
DEFAULT_MAX_CATCHUP_DAYS = 7  # how far back the scheduler looks for missed fires
DEFAULT_WAIT_FOR_DATA_S = 0.0  # how long a day with no input rows yet is polled for (0: fail at once)
DEFAULT_MISFIRE_GRACE_S = 600  # a fire later than this (daemon busy or asleep) is dropped
DEFAULT_SERVE_MAX_RECORDS = 1000  # records in one online scoring request
DEFAULT_PUBLISH_TTL_DAYS = 3  # a day published to Redis expires this long after its publish


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


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=False)


class SqlSource(_Frozen):
    """Rows of a table for one ``date_column`` value, or a query bound with ``:score_date``."""

    kind: Literal["sql"]
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

    kind: Literal["parquet"]
    path: str
    date_column: str

    _check_date = field_validator("date_column")(_column_name)

    def describe(self) -> str:
        return self.path


class PipelineRef(_Frozen):
    name: str
    version: str | int = DEFAULT_PIPELINE_VERSION  # an alias or a version number


class SqlOutput(_Frozen):
    kind: Literal["sql"]
    url: str
    table: str
    positive_class: str | int | bool | None = None  # binary classifiers; default classes_[1]

    _check_table = field_validator("table")(_table_name)

    def describe(self) -> str:
        return self.table


class ParquetOutput(_Frozen):
    """Written as ``path/score_date=D/*.parquet``."""

    kind: Literal["parquet"]
    path: str
    positive_class: str | int | bool | None = None

    def describe(self) -> str:
        return self.path


class QualityConfig(_Frozen):
    """Input checks of every run (``quality:``); each failure stops the run before the write."""

    min_rows: int = Field(1, ge=0)
    max_rows: int | None = Field(None, ge=1)
    max_null_fraction: float | dict[str, float] = DEFAULT_MAX_NULL_FRACTION  # a mapping: per column, others 0.05
    max_unseen_category_fraction: float = Field(0.01, ge=0, le=1)
    max_out_of_range_fraction: float | None = Field(None, ge=0, le=1)  # None: counted only
    on_fail: Literal["fail", "warn"] = "fail"
    on_bad_rows: Literal["fail", "reject"] = "fail"
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
        if isinstance(self.max_null_fraction, dict):
            return self.max_null_fraction.get(column, DEFAULT_MAX_NULL_FRACTION)
        return self.max_null_fraction


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
    workers: int = Field(DEFAULT_WORKERS, ge=1)
    engine: Literal["pandas", "spark"] = "pandas"
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

    @field_validator("schedule")
    @classmethod
    def _check_schedule(cls, value: str | None) -> str | None:
        if value is None:
            return None
        from jobs.schedule import trigger

        if len(value.split()) != 5:
            raise ValueError(f"{value!r} is not a 5-field cron expression (minute hour day month weekday)")
        try:
            trigger(value, ZoneInfo("UTC"))
        except ValueError as exc:
            raise ValueError(f"{value!r} is not a valid cron expression: {exc}") from exc
        return value

    @model_validator(mode="after")
    def _ids_not_passthrough(self) -> JobConfig:
        both = sorted(set(self.id_columns) & set(self.passthrough))
        if both:
            raise ValueError(f"{', '.join(both)} in both id_columns and passthrough")
        return self

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


# --- loading -----------------------------------------------------------------------------

def expand_env(value: Any, path: str, env: dict[str, str] | os._Environ) -> Any:
    """``${VAR}`` and ``${VAR:-default}`` in every string value, recursively."""
    if isinstance(value, str):

        def sub(match: re.Match) -> str:
            name, default = match.group(1), match.group(2)
            if name in env and env[name] != "":
                return env[name]
            if default is not None:
                return default
            raise ValueError(f"{path or 'value'}: environment variable {name} is not set (use ${{{name}:-default}} for a default)")

        return _ENV_REF.sub(sub, value)
    if isinstance(value, dict):
        return {k: expand_env(v, f"{path}.{k}" if path else str(k), env) for k, v in value.items()}
    if isinstance(value, list):
        return [expand_env(v, f"{path}[{i}]", env) for i, v in enumerate(value)]
    return value


def load_job(path: Path, env: dict[str, str] | None = None) -> JobConfig:
    """Read, expand and validate one job file; relative paths resolve against the project root."""
    env = os.environ if env is None else env
    try:
        raw = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the job file: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}", hint="fix the file") from exc
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: a job file is a mapping of keys", hint=f"allowed keys: {_allowed(JobConfig)}")
    try:
        raw = expand_env(raw, "", env)
    except ValueError as exc:
        raise ConfigError(f"{path}: {exc}") from exc
    try:
        job = JobConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(f"{path}: {_explain(exc)}", hint="see docs/configuration.md") from exc
    if job.name != path.stem:
        raise ConfigError(
            f"{path}: key name: {job.name!r} differs from the file name",
            hint=f"rename the file to {job.name}.yaml or set name: {path.stem}",
        )
    return _resolve_paths(job, path.parent.resolve().parent)


def _resolve_paths(job: JobConfig, root: Path) -> JobConfig:
    def fix(part):
        if isinstance(part, (SqlSource, SqlOutput)):
            return part.model_copy(update={"url": resolve_url(part.url, root)})
        if "://" in part.path:  # hdfs://, s3a://, file://...: for Spark's file systems, as given
            return part
        return part.model_copy(update={"path": str(resolve_path(part.path, root))})

    return job.model_copy(update={"source": fix(job.source), "output": fix(job.output)})


def job_path(config_dir: Path, name: str) -> Path:
    return config_dir / f"{name}.yaml"


def job_names(config_dir: Path) -> list[str]:
    """Every job file's name in the config directory (settings.yaml is not a job)."""
    if not config_dir.is_dir():
        raise ConfigError(
            f"config directory {config_dir} does not exist",
            hint="pass --config-dir or set BATCHSCORE_CONFIG_DIR",
        )
    return sorted(
        p.stem for p in config_dir.glob("*.yaml") if p.name != SETTINGS_FILE
    )


def load_named(config_dir: Path, name: str) -> JobConfig:
    """The job called ``name``; an unknown name says which jobs exist."""
    path = job_path(config_dir, name)
    if not path.exists():
        known = job_names(config_dir)
        raise UsageError(
            f"no job {name!r} in {config_dir}",
            hint=f"known jobs: {', '.join(known) or 'none'}",
        )
    return load_job(path)


# --- error messages ----------------------------------------------------------------------

_SECTIONS = {
    "pipeline": PipelineRef, "quality": QualityConfig, "drift": DriftConfig, "spark": SparkSettings,
    "serve": ServeConfig, "publish": RedisPublish,
}
_KINDS = {"source": {"sql": SqlSource, "parquet": ParquetSource}, "output": {"sql": SqlOutput, "parquet": ParquetOutput}}


def _allowed(model: type[BaseModel]) -> str:
    return ", ".join(model.model_fields)


def _explain(exc: ValidationError) -> str:
    """One readable clause per problem: key, what is wrong, what is allowed."""
    parts = []
    for err in exc.errors():
        loc = list(err["loc"])
        model: type[BaseModel] = JobConfig
        if loc and loc[0] in _KINDS and len(loc) > 1 and loc[1] in _KINDS[loc[0]]:
            model = _KINDS[loc[0]][loc.pop(1)]
        elif loc and loc[0] in _SECTIONS:
            model = _SECTIONS[loc[0]]
        key = ".".join(str(x) for x in loc) or "(top level)"
        if err["type"] == "extra_forbidden":
            parts.append(f"unknown key {key}; allowed keys here: {_allowed(model)}")
        elif err["type"] == "missing":
            parts.append(f"missing key {key}")
        elif err["type"] == "union_tag_invalid" or err["type"] == "union_tag_not_found":
            parts.append(f"key {key}.kind must be one of: sql, parquet")
        else:
            msg = err["msg"].removeprefix("Value error, ")
            parts.append(f"key {key}: {msg}")
    return "; ".join(parts)
