"""Typed errors: what went wrong, for which job and day, what to do, and the exit code.

Adapters raise these (wrapping third-party exceptions once, with ``raise ... from exc``);
the runner adds the job and day it was running; only ``cli.py`` turns them into an exit code.
"""

from __future__ import annotations

from datetime import date

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_LOCKED = 3
EXIT_NO_INPUT = 4


class BatchScoreError(Exception):
    """Base of every error batchscore reports to a user.

    ``what`` says what happened, ``hint`` what to do about it. ``transient`` errors (a lost
    connection, an I/O error) may succeed when retried; the others never will.
    """

    exit_code = EXIT_FAILED
    transient = False

    def __init__(
        self,
        what: str,
        *,
        hint: str | None = None,
        job: str | None = None,
        day: date | None = None,
    ) -> None:
        super().__init__(what)
        self.what = what
        self.hint = hint
        self.job = job
        self.day = day

    def in_context(self, job: str | None, day: date | None) -> BatchScoreError:
        """Fill in the job and day where the raiser did not know them; returns self."""
        if self.job is None:
            self.job = job
        if self.day is None:
            self.day = day
        return self

    def __str__(self) -> str:
        where = " ".join(x for x in (self.job, self.day.isoformat() if self.day else None) if x)
        text = f"{where}: {self.what}" if where else self.what
        return f"{text} ({self.hint})" if self.hint else text


class ConfigError(BatchScoreError):
    """A job file or a setting is wrong: fix the file (exit 2)."""

    exit_code = EXIT_USAGE


class UsageError(BatchScoreError):
    """The command line is wrong: an unknown job, a bad date, a bad flag (exit 2)."""

    exit_code = EXIT_USAGE


class JobLocked(BatchScoreError):
    """The same job and day is being scored by a live process (exit 3)."""

    exit_code = EXIT_LOCKED


class NoInputRows(BatchScoreError):
    """The source has no rows for the day: upstream is not ready yet (exit 4)."""

    exit_code = EXIT_NO_INPUT

    @classmethod
    def in_source(cls, source: str) -> NoInputRows:
        """The one message every engine and ``validate`` give for an empty day of ``source``."""
        return cls(
            f"the source {source} has no rows for this day",
            hint="upstream may not be ready: run again later, or check the date column",
        )


class SchemaMismatch(BatchScoreError):
    """The input does not fit the model: missing columns or types that cannot be cast."""


class ModelError(BatchScoreError):
    """A model version cannot be used: unknown, tampered with, or unloadable."""


class ModelNotFound(ModelError):
    """No such model, version or alias in the registry."""


class ModelIntegrityError(ModelError):
    """The model file on disk no longer matches the sha256 recorded at registration."""


class ScoringError(BatchScoreError):
    """The pipeline raised, or produced NaN/inf scores, on the day's rows."""


class SourceError(BatchScoreError):
    """Reading the input failed."""


class SinkError(BatchScoreError):
    """Writing the scores failed; the day's previous output is untouched."""


class StateError(BatchScoreError):
    """Reading or writing the run ledger or the locks in the state database failed."""


class TransientError(BatchScoreError):
    """A failure a retry may fix: a lost database connection, an I/O error."""

    transient = True


class QualityCheckFailed(BatchScoreError):
    """A data-quality, bad-row or drift check failed; the run stopped before its write.

    ``stats`` carries the run's quality and drift figures so the ledger keeps them.
    """

    def __init__(self, what: str, *, hint: str | None = None, stats: dict | None = None) -> None:
        super().__init__(what, hint=hint)
        self.stats = stats or {}


class InvalidRecord(SchemaMismatch):
    """One record of an online scoring request does not fit the model's schema (HTTP 422).

    ``record`` is its index in the request, ``field`` the offending field, ``found`` and
    ``expected`` the JSON type given and the type the model needs.
    """

    def __init__(self, what: str, *, record: int, field: str | None, found: str, expected: str, hint: str | None = None) -> None:
        super().__init__(what, hint=hint)
        self.record, self.field, self.found, self.expected = record, field, found, expected


class NotServing(BatchScoreError):
    """The server has no model loaded for a job (its load failed): HTTP 503."""


class ParityMismatch(BatchScoreError):
    """Online scores differ from the committed batch scores of the day (exit 1)."""


class PublishError(TransientError):
    """Publishing a committed day's scores (Redis) failed; the previous day stays current."""
