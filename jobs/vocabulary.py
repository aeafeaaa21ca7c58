"""The words batchscore's parts share, each defined once: run statuses, engine names, source
and output kinds, and the defaults more than one part uses. ``Literal``s, CLI choices and
comparisons derive from these; a ``StrEnum`` member is its own text, so it compares equal to
what the ledger stores."""

from __future__ import annotations

from enum import StrEnum

from pipelines.names import DEFAULT_ALIAS, RUNTIMES, SKLEARN  # noqa: F401  (re-exported: the registry's words)


class RunStatus(StrEnum):
    """A ledger row's status; ``SKIPPED`` is never stored: it is the outcome of a run that
    found its day already succeeded (and of a backfill day it passed over)."""

    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    SKIPPED = "skipped"


class Engine(StrEnum):
    """Who scores the day: ``pandas`` in this process (and its workers), ``spark`` on a cluster."""

    PANDAS = "pandas"
    SPARK = "spark"


ENGINES = tuple(e.value for e in Engine)

# Kinds of ``source:`` and ``output:`` in a job file.
SQL, PARQUET = "sql", "parquet"
KINDS = (SQL, PARQUET)

WORKERS_AUTO = "auto"  # workers: auto, the pandas engine picks the count from the cores and the model


def workers_setting(value: object) -> int | str:
    """A ``workers`` value (job file or ``--workers``): a whole number >= 1, or ``auto``."""
    if isinstance(value, str) and value.strip().lower() == WORKERS_AUTO:
        return WORKERS_AUTO
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
        return value
    raise ValueError(f"workers must be a whole number >= 1 or {WORKERS_AUTO}, not {value!r}")


DEFAULT_MAX_NULL_FRACTION = 0.05  # quality.max_null_fraction, and columns a mapping leaves out
