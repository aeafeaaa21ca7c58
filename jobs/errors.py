"""Typed errors: what went wrong, for which job and day, what to do, and the exit code.

Adapters raise these (wrapping third-party exceptions once, with ``raise ... from exc``);
the runner adds the job and day it was running; only the command line (``jobs.cli``) turns
them into an exit code. The base class and the errors of models live in ``pipelines.errors``
(the registry raises them) and are re-exported here: import every error from this module.
"""

from __future__ import annotations

from pipelines.errors import (  # noqa: F401  (re-exported: one import place for jobs/)
    EXIT_FAILED,
    EXIT_LOCKED,
    EXIT_NO_INPUT,
    EXIT_OK,
    EXIT_USAGE,
    BatchScoreError,
    ConfigError,
    ModelError,
    ModelIntegrityError,
    ModelNotFound,
    RuntimeRefused,
    SchemaMismatch,
    ScoringError,
    TransientError,
    UsageError,
)
from jobs.run_stats import RunStats


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


class SourceError(BatchScoreError):
    """Reading the input failed."""


class SinkError(BatchScoreError):
    """Writing the scores failed; the day's previous output is untouched."""


class StateError(BatchScoreError):
    """Reading or writing the run ledger or the locks in the state database failed."""


class QualityCheckFailed(BatchScoreError):
    """A data-quality, bad-row or drift check failed; the run stopped before its write.

    ``stats`` carries the run's quality and drift figures (and its scores, when it got that
    far) so the ledger keeps them.
    """

    def __init__(self, what: str, *, hint: str | None = None, stats: RunStats | None = None) -> None:
        super().__init__(what, hint=hint)
        self.stats = stats if stats is not None else RunStats()


class TrainingError(BatchScoreError):
    """Fitting or measuring a new version failed: bad training data or a failing pipeline."""


class ModelLeakage(ModelError):
    """The chosen version was trained on data up to or past the day it would score."""


class GateRefused(BatchScoreError):
    """The promotion gate found the candidate short of a rule; nothing was moved (exit 1)."""


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
