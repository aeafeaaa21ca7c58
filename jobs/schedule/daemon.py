"""The daemon (``batchscore scheduler``): every job of the config dir on its cron schedule.

APScheduler's (3.x) cron triggers decide *when*, given ``now``; the daemon's ``tick(now)``
decides what a due fire does, with ``now`` from its injectable ``clock``: a fire of a job
whose previous fire still runs is skipped (at most one per job at a time), several fires due
at once are one (coalesced), a fire seen later than ``misfire_grace_s`` is dropped (a
catch-up job scores its day at the next fire). ``serve`` ticks every ``TICK_S`` on the clock;
tests tick by hand on a clock of their own, so no promise depends on the wall clock.

Each fire runs in a child process (a crash or a memory blow-up of one job never takes the
daemon down) through the same ``run_with_retries`` -> ``run_day`` as ``batchscore run``: the
ledger's lock and rows decide what is scored, so a cron entry, a manual run and any number of
daemons on one state database never score a day twice. Which day a fire scores, and which
days a catch-up fills, come from the pure functions of ``jobs.schedule.cron``.
"""

from __future__ import annotations

import logging
import logging.handlers
import multiprocessing
import os
import threading
import time
from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path


from jobs import config as config_mod
from jobs.config import JobConfig
from jobs.db import redact
from jobs.errors import BatchScoreError
from jobs.ledger import Ledger
from jobs.logfile import UTCFormatter
from jobs.schedule.children import child_main, train_child_main
from jobs.schedule.timetable import Timer, Timetable
from jobs.sinks import output_target
from pipelines.basics import utcnow
from jobs.schedule.cron import catchup_days, last_fire, next_fire, scored_day, trigger
from pipelines.settings import Settings

log = logging.getLogger(__name__)

DEFAULT_GRACE_S = 60.0  # on SIGTERM, running children get this long to finish
RELOAD_CHECK_S = 60.0  # the config dir is checked for changed files at most this often
TICK_S = 0.2  # serve() looks for due fires this often
KILL_AFTER_S = 30.0  # a child that ignores SIGTERM this long is killed
LOG_FILE = "scheduler.log"
LOG_BYTES, LOG_BACKUPS = 10 * 1024 * 1024, 5
LOG_FORMAT = "%(asctime)s %(levelname)s [%(processName)s] %(name)s: %(message)s"
TRAIN_SUFFIX = ":train"  # the APScheduler id of a job's training.schedule is JOB:train


class Daemon:
    """The scheduler's state: the loaded jobs, the APScheduler instance, the running children."""

    def __init__(
        self,
        settings: Settings,
        *,
        second: str = "0",
        grace_s: float = DEFAULT_GRACE_S,
        reload_check_s: float = RELOAD_CHECK_S,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.settings = settings
        self.second = second
        self.grace_s = grace_s
        self.reload_check_s = reload_check_s
        self.clock = clock
        self.jobs: dict[str, JobConfig] = {}
        self.ledger = Ledger(settings.state_url)  # read by fires to skip days already done
        self._seen: dict[str, tuple[int, int]] = {}
        self._children: set[multiprocessing.Process] = set()
        self._lock = threading.Lock()
        self._stopping = False
        self._paused = True  # until start(): nothing fires
        self._context = multiprocessing.get_context("spawn")  # no fork: the daemon has threads
        self._logs = self._context.Queue()
        self._listener: logging.handlers.QueueListener | None = None
        self.scheduler = Timetable()

    # --- life cycle ----------------------------------------------------------------------

    def start(self, *, paused: bool = False) -> None:
        """Load every job and start firing (``paused``: schedule only, for inspection)."""
        self._listener = logging.handlers.QueueListener(self._logs, *logging.getLogger().handlers, respect_handler_level=True)
        self._listener.start()
        self.reload("start", fatal=True)
        self._paused = paused
        log.info(
            "scheduler started: %d job(s) from %s, state %s, pid %d",
            len(self.jobs), self.settings.config_dir, redact(self.settings.state_url), os.getpid(),
        )

    def serve(self, stop: threading.Event, hup: threading.Event) -> None:
        """Run until ``stop`` is set: fire what is due every ``TICK_S``; reload on ``hup``
        and when a config file changed."""
        checked = time.monotonic()
        while not stop.wait(TICK_S):
            self.tick()
            if hup.is_set():
                hup.clear()
                self.reload("SIGHUP")
                checked = time.monotonic()
            elif time.monotonic() - checked >= self.reload_check_s:
                checked = time.monotonic()
                try:
                    changed = self._scan() != self._seen
                except BatchScoreError:
                    changed = True  # the directory is gone: reload() says so and keeps the jobs
                if changed:
                    self.reload("a config file changed")

    def shutdown(self) -> None:
        """No new fires; running children get ``grace_s`` to finish, then are terminated
        (their transactions roll back, the ledger records the failure)."""
        with self._lock:
            self._stopping = True
            children = list(self._children)
        if children:
            log.info("stopping: waiting up to %.0fs for %d running job(s)", self.grace_s, len(children))
        deadline = time.monotonic() + self.grace_s
        for child in children:
            child.join(max(deadline - time.monotonic(), 0))
        for child in children:
            if child.is_alive():
                log.warning("%s: still running after the grace period; terminating pid %s", child.name, child.pid)
                child.terminate()
        for child in children:
            child.join(KILL_AFTER_S)
            if child.is_alive():
                log.error("%s: pid %s ignored SIGTERM; killing it", child.name, child.pid)
                child.kill()
                child.join()
        log.info("scheduler stopped")
        if self._listener is not None:
            self._listener.stop()

    def children(self) -> dict[int, str]:
        """The running children: pid -> the job (or ``JOB:train``) each scores."""
        with self._lock:
            return {child.pid: child.name for child in self._children}

    # --- configuration -------------------------------------------------------------------

    def _scan(self) -> dict[str, tuple[int, int]]:
        out = {}
        for name in config_mod.job_names(self.settings.config_dir):
            try:
                st = config_mod.job_path(self.settings.config_dir, name).stat()
            except OSError:
                continue
            out[name] = (st.st_mtime_ns, st.st_size)
        return out

    def reload(self, reason: str, *, fatal: bool = False) -> None:
        """Load every job file again; a broken file keeps the job's previous version running."""
        try:
            seen = self._scan()
        except BatchScoreError as exc:
            if fatal:
                raise
            log.error("reload (%s) failed: %s; keeping every job as it was", reason, exc)
            return
        log.info("loading jobs (%s)", reason)
        for name in sorted(seen):
            try:
                job = config_mod.load_job(config_mod.job_path(self.settings.config_dir, name))
            except BatchScoreError as exc:
                kept = "keeping its previous version" if name in self.jobs else "not scheduled"
                log.error("%s: %s; %s", name, exc, kept)
                continue
            old = self.jobs.get(name)
            if job != old:
                self.jobs[name] = job
                self._schedule(job, new=old is None)
        for name in sorted(set(self.jobs) - set(seen)):
            log.info("%s: its file is gone; unscheduled", name)
            del self.jobs[name]
            for job_id in (name, name + TRAIN_SUFFIX):
                if self.scheduler.get_job(job_id):
                    self.scheduler.remove_job(job_id)
        self._seen = seen

    def _schedule(self, job: JobConfig, *, new: bool) -> None:
        self._schedule_training(job)
        if job.schedule is None:
            if self.scheduler.get_job(job.name):
                self.scheduler.remove_job(job.name)
            log.info("%s: no schedule (manual-only job)", job.name)
            return
        now = self.clock()
        catch_up = new and job.catchup  # at once, on start (or when the job appears)
        cron = trigger(job.schedule, job.tz, self.second)
        name = job.name
        self.scheduler.add_job(Timer(
            name, cron, lambda fire: self._fire(name, fire), job.misfire_grace_s,
            now if catch_up else cron.get_next_fire_time(None, now),
        ))
        log.info(
            "%s: %s '%s' %s, scores %s, next fire %s%s",
            job.name, "scheduled" if new else "rescheduled", job.schedule, job.timezone, job.score_date,
            _when(next_fire(job.schedule, job.tz, now, self.second)),
            f", catch-up of the last {job.max_catchup_days} days now" if catch_up else "",
        )

    def _schedule_training(self, job: JobConfig) -> None:
        """``JOB:train`` on ``training.schedule``, removed when the job no longer has one."""
        job_id = job.name + TRAIN_SUFFIX
        if job.training is None or job.training.schedule is None:
            if self.scheduler.get_job(job_id):
                self.scheduler.remove_job(job_id)
            return
        cron = trigger(job.training.schedule, job.tz, self.second)
        name = job.name
        self.scheduler.add_job(Timer(
            job_id, cron, lambda fire: self._fire_training(name), job.misfire_grace_s,
            cron.get_next_fire_time(None, self.clock()),
        ))
        log.info("%s: training scheduled '%s' %s, next fire %s", job.name, job.training.schedule, job.timezone,
                 _when(next_fire(job.training.schedule, job.tz, self.clock(), self.second)))

    # --- fires ---------------------------------------------------------------------------

    def _fire_training(self, name: str) -> None:
        """Train the job's pipeline for today (local to the job) in a child process."""
        from jobs.schedule.days import local_today

        job = self.jobs.get(name)
        if job is None or job.training is None:
            return
        day = local_today(self.clock(), job.tz)
        with self._lock:
            if self._stopping:
                return
            child = self._context.Process(
                target=train_child_main, args=(job, day, self.settings, self._logs, logging.getLogger().level),
                name=name + TRAIN_SUFFIX, daemon=False,
            )
            child.start()
            self._children.add(child)
        log.info("%s: training for %s in child pid %s", name, day, child.pid)
        child.join()
        with self._lock:
            self._children.discard(child)
        level = logging.INFO if child.exitcode == 0 else logging.ERROR
        log.log(level, "%s: training for %s ended with exit code %s", name, day, child.exitcode)

    def tick(self, now: datetime | None = None) -> list[threading.Thread]:
        """Start every fire due at ``now`` (default: the clock's) in a thread of its own;
        returns the threads started. A fire later than its ``misfire_grace_s`` is dropped, a
        fire of a timer whose previous fire still runs is skipped: both logged."""
        now = self.clock() if now is None else now
        started = []
        if self._paused:
            return started
        for timer in self.scheduler.timers():
            fires = timer.due(now)
            if not fires:
                continue
            fire = fires[-1]  # coalesced
            late = (now - fire).total_seconds()
            if late > timer.misfire_grace_time:
                log.warning("%s: fire of %s missed by more than misfire_grace_s (%.0fs late, limit %.0fs); skipped",
                            timer.id, _when(fire), late, timer.misfire_grace_time)
                continue
            if timer.running():
                log.info("%s: fire of %s skipped: the previous fire is still running", timer.id, _when(fire))
                continue
            with self._lock:
                if self._stopping:
                    return started
                timer.thread = threading.Thread(target=timer.action, args=(fire,), name=f"fire {timer.id}", daemon=True)
                timer.thread.start()
            started.append(timer.thread)
        return started

    def days_for(self, job: JobConfig, now: datetime) -> tuple[datetime | None, list[date]]:
        """The fire this run stands for and the days it has to score (no succeeded run yet),
        oldest first. The child checks again under the lock: this only saves spawning it."""
        fire = last_fire(job.schedule, job.tz, now, timedelta(seconds=job.misfire_grace_s + 1), self.second)
        today = now.date()
        succeeded = self.ledger.succeeded_days(  # into this job's output target: the runner's rule
            job.name, today - timedelta(days=job.max_catchup_days + 2), today + timedelta(days=2), output_target(job.output)
        )
        if job.catchup:
            days = catchup_days(job.schedule, job.tz, job.score_date, now, job.max_catchup_days, succeeded, self.second)
        else:
            days = [d for d in [scored_day(fire or now, job.tz, job.score_date)] if d not in succeeded]
        return fire, days

    def _fire(self, name: str, when: datetime) -> None:
        """One fire of ``name`` at ``when``: its days (catch-up: every missed one) in a child."""
        job = self.jobs.get(name)
        if job is None or job.schedule is None:
            return
        started = time.monotonic()
        try:
            fire, days = self.days_for(job, when)
        except Exception as exc:  # the state database is down: this fire is lost, the next one tries again
            log.error("%s: fire skipped, cannot read the ledger in %s: %s", name, redact(self.settings.state_url), exc)
            return
        label = f"fire of {_when(fire)}" if fire else "start-up catch-up"
        if not days:
            log.info("%s: %s: nothing to score, %s", name, label,
                     "every day in the catch-up window succeeded" if job.catchup else "its day already succeeded")
            return
        with self._lock:
            if self._stopping:
                return
            child = self._context.Process(
                target=child_main, args=(job, days, self.settings, self._logs, logging.getLogger().level),
                name=name, daemon=False,
            )
            child.start()
            self._children.add(child)
        log.info("%s: %s: scoring %s in child pid %s", name, label, ", ".join(map(str, days)), child.pid)
        child.join()
        with self._lock:
            self._children.discard(child)
        seconds = time.monotonic() - started
        if child.exitcode == 0:
            log.info("%s: %s done in %.1fs", name, label, seconds)
        else:
            log.error("%s: %s ended with exit code %s after %.1fs (see the lines above)", name, label, child.exitcode, seconds)


# --- helpers -------------------------------------------------------------------------------

def log_to_file(log_dir: Path) -> None:
    """Add the rotating ``scheduler.log`` to the root logger; every handler gets the daemon's format."""
    log_dir.mkdir(parents=True, exist_ok=True)
    root = logging.getLogger()
    handler = logging.handlers.RotatingFileHandler(log_dir / LOG_FILE, maxBytes=LOG_BYTES, backupCount=LOG_BACKUPS)
    root.addHandler(handler)
    for h in root.handlers:
        h.setFormatter(UTCFormatter(LOG_FORMAT))
    # Its lines repeat ours (which name the job and day); skipped and missed fires are logged
    # by Daemon._on_skipped.
    logging.getLogger("apscheduler").setLevel(logging.ERROR)


def _when(instant: datetime | None) -> str:
    return f"{instant:%Y-%m-%d %H:%M:%S %Z}" if instant else "never"
