"""The base of batchscore's typed errors, and those a model and its use can raise: what went
wrong, for which job and day, what to do, and the exit code of its kind.

They live here, in the lower layer, because the registry and the model spec raise them;
``jobs.errors`` adds the errors of runs (locks, sources, sinks, checks) and is where the rest
of batchscore imports every error from. Only the command line turns them into an exit code.
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


class SchemaMismatch(BatchScoreError):
    """The input does not fit the model: missing columns or types that cannot be cast."""


class ModelError(BatchScoreError):
    """A model version cannot be used: unknown, tampered with, or unloadable."""


class ModelNotFound(ModelError):
    """No such model, version or alias in the registry: what was asked for is wrong (usage)."""

    exit_code = EXIT_USAGE


class ModelIntegrityError(ModelError):
    """The model file on disk no longer matches the sha256 recorded at registration."""


class RuntimeRefused(UsageError):
    """A compiled runtime asked for at registration cannot score as scikit-learn does (exit 2)."""


class ScoringError(BatchScoreError):
    """The pipeline raised, or produced NaN/inf scores, on the day's rows."""


class TransientError(BatchScoreError):
    """A failure a retry may fix: a lost database connection, an I/O error."""

    transient = True
