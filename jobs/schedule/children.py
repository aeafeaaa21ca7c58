"""What the daemon's child processes run: the days of one fire (``child_main``), or a
training (``train_child_main``). A crash, a signal or a memory blow-up ends the child, never
the daemon; SIGTERM (the daemon's shutdown) unwinds the child so its transaction rolls back."""

from __future__ import annotations

import logging
import logging.handlers
import signal
import sys
from datetime import date

from jobs.config import JobConfig
from jobs.errors import BatchScoreError, JobLocked
from pipelines.settings import Settings

log = logging.getLogger("jobs.schedule.daemon")  # the daemon's log lines, from its children


class _Terminated(BaseException):
    """SIGTERM in a child: unwinds like Ctrl-C, so the run's transaction rolls back."""


def _on_sigterm(signum, frame):
    raise _Terminated("terminated by the scheduler's shutdown (SIGTERM); nothing of the day was committed")


def child_main(job: JobConfig, days: list[date], settings: Settings, logs, level: int) -> None:
    """Score ``days`` of ``job`` in order, each with the job's retry policy; exit 1 if any failed.
    Several days (a catch-up) share what the engine can keep warm (``jobs.engines.kept_warm``)."""
    from jobs.engines import kept_warm

    root = logging.getLogger()
    root.handlers[:] = [logging.handlers.QueueHandler(logs)]
    root.setLevel(level)
    logging.getLogger("sqlalchemy.engine").setLevel(logging.WARNING)
    signal.signal(signal.SIGTERM, _on_sigterm)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the daemon, which decides
    failed = 0
    try:
        with kept_warm(job.engine, job.spark, f"batchscore {job.name}"):
            for day in days:
                failed += _run_logged(job, day, settings)
    except BatchScoreError as exc:  # the engine did not start (Spark without Java)
        failed += 1
        log.error("%s: gave up: %s", job.name, exc)
    except _Terminated:
        log.warning("%s: terminated; the day being scored was rolled back and recorded as failed", job.name)
        sys.exit(143)
    sys.exit(1 if failed else 0)


def train_child_main(job: JobConfig, day: date, settings: Settings, logs, level: int) -> None:
    """``batchscore train JOB --date day`` in a child of the daemon; exit 1 if it failed."""
    from jobs.lifecycle.training import train_job

    root = logging.getLogger()
    root.handlers[:] = [logging.handlers.QueueHandler(logs)]
    root.setLevel(level)
    signal.signal(signal.SIGTERM, _on_sigterm)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        train_job(job, day, settings)
    except BatchScoreError as exc:
        log.error("%s %s: training failed: %s", job.name, day, exc)
        sys.exit(1)
    except _Terminated:
        log.warning("%s %s: training terminated; nothing was registered", job.name, day)
        sys.exit(143)
    sys.exit(0)


def _run_logged(job: JobConfig, day: date, settings: Settings) -> int:
    """One day with the job's retry policy, its end logged; 1 if it failed."""
    from jobs.schedule.retry import run_with_retries

    try:
        run_with_retries(job, day, settings)
    except JobLocked as exc:
        log.info("%s %s: %s; leaving the day to that run", job.name, day, exc.what)
    except BatchScoreError as exc:
        log.error("%s %s: gave up: %s", job.name, day, exc)
        return 1
    except Exception:  # a bug: recorded in the ledger by the runner, logged here, next day
        log.exception("%s %s: internal error", job.name, day)
        return 1
    return 0
