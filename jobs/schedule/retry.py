"""Retries around ``run_day``: the same policy for ``run``, ``backfill`` and the scheduler.

- a transient error (``BatchScoreError.transient``: a lost connection, an I/O error) is retried
  ``job.retries`` times, waiting ``retry_delay_s``, then twice that, and so on;
- no input rows (exit 4: upstream not ready) is polled with the same backoff until
  ``job.wait_for_data_s`` runs out, then fails with that reason;
- anything else (config, schema, model integrity, a live lock) fails at once.

Each attempt is its own ``run_day``, so its own ledger row with its ``attempt`` number.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import date

from jobs.config import JobConfig
from jobs.errors import BatchScoreError, NoInputRows
from jobs.runner import RunOutcome, run_day
from pipelines.settings import Settings

log = logging.getLogger(__name__)

MAX_BACKOFF_S = 3600.0  # no single wait between attempts is longer than an hour
MIN_POLL_S = 1.0  # waiting for input rows never polls the source faster than this


def backoff(base_s: float, retry: int) -> float:
    """The wait before retry number ``retry`` (1, 2, ...): ``base_s * 2**(retry - 1)``, capped."""
    return min(base_s * 2 ** (retry - 1), MAX_BACKOFF_S)


def run_with_retries(
    job: JobConfig,
    day: date,
    settings: Settings,
    *,
    sleep: Callable[[float], None] = time.sleep,
    monotonic: Callable[[], float] = time.monotonic,
    **run_args,
) -> RunOutcome:
    """``run_day(job, day, settings, **run_args)``, retried as the job's policy says.

    Raises the last attempt's error when the policy gives up.
    """
    started = monotonic()
    retries = waits = 0
    while True:
        try:
            return run_day(job, day, settings, **run_args)
        except NoInputRows as exc:
            waited = monotonic() - started
            left = job.wait_for_data_s - waited
            if left <= 0:
                if job.wait_for_data_s > 0:
                    exc.what = f"{exc.what}, still none after waiting {waited:.0f}s (wait_for_data_s)"
                raise
            waits += 1
            delay = min(max(backoff(job.retry_delay_s, waits), MIN_POLL_S), left)
            log.warning(
                "%s %s: no input rows yet; checking again in %.1fs (%.0fs of wait_for_data_s left)",
                job.name, day, delay, left,
            )
        except BatchScoreError as exc:
            if not exc.transient or retries >= job.retries:
                raise
            retries += 1
            delay = backoff(job.retry_delay_s, retries)
            log.warning(
                "%s %s: transient failure, retry %d of %d in %.1fs: %s",
                job.name, day, retries, job.retries, delay, exc.what,
            )
        sleep(delay)
