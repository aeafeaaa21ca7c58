"""Job files: YAML -> frozen, typed ``JobConfig``. All validation happens here, once.

An unknown key, a wrong type, a missing field, a bad cron expression, time zone, table name
or enum value is a ``ConfigError`` naming the file, the key and what is allowed (exit 2).
"""

from __future__ import annotations

import os
from pathlib import Path

import yaml
from pydantic import BaseModel, ValidationError

from jobs.config.job import JobConfig
from jobs.config.sections import (  # noqa: F401  (re-exported: jobs.config is where the sections are imported from)
    DEFAULT_PIPELINE_VERSION,
    RESOLVE_AS_OF_DAY,
    RESOLVE_RUN_START,
    DriftConfig,
    GateConfig,
    OutcomesConfig,
    OutputConfig,
    ParquetOutput,
    ParquetSource,
    PipelineRef,
    QualityConfig,
    RedisPublish,
    ServeConfig,
    SourceConfig,
    SparkSettings,
    SqlOutput,
    SqlSource,
    TrainingConfig,
    null_limit,
)
from jobs.errors import ConfigError, UsageError
from jobs.vocabulary import KINDS, PARQUET, SQL
from pipelines.envfile import expand_env  # noqa: F401  (job files and settings.yaml share it)
from pipelines.settings import SETTINGS_FILE, resolve_path, resolve_url


# --- loading -----------------------------------------------------------------------------

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

    update = {"source": fix(job.source), "output": fix(job.output)}
    for section in ("training", "outcomes"):
        part = getattr(job, section)
        if part is not None:
            update[section] = part.model_copy(update={"source": fix(part.source)})
    return job.model_copy(update=update)


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
    "training": TrainingConfig, "outcomes": OutcomesConfig, "gate": GateConfig, "serve": ServeConfig, "publish": RedisPublish,
}
_KINDS = {"source": {SQL: SqlSource, PARQUET: ParquetSource}, "output": {SQL: SqlOutput, PARQUET: ParquetOutput}}


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
            parts.append(f"key {key}.kind must be one of: {', '.join(KINDS)}")
        else:
            msg = err["msg"].removeprefix("Value error, ")
            parts.append(f"key {key}: {msg}")
    return "; ".join(parts)
