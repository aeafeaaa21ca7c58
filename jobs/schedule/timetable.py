"""The daemon's timers: each a cron trigger (APScheduler's, which says *when* given ``now``),
its next fire and the thread of its running fire. Nothing here reads the clock: the daemon's
``tick(now)`` asks each timer what is ``due(now)``."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from apscheduler.triggers.base import BaseTrigger

MAX_DUE = 1000  # fires of one timer looked at per tick (a frequent schedule after a long sleep)


@dataclass
class Timer:
    """One cron trigger of the daemon (a job's schedule, or its training schedule): when it
    fires next and the thread of its running fire. Fields named as APScheduler's ``Job``."""

    id: str
    trigger: BaseTrigger
    action: Callable[[datetime], None]  # runs a fire (in its own thread), given the fire time
    misfire_grace_time: float  # seconds a fire may be late and still run
    next_run_time: datetime | None
    thread: threading.Thread | None = None
    max_instances = 1  # one fire of a job at a time: later ones are skipped while it runs
    coalesce = True  # fires due together (the daemon was busy or asleep) run once

    def due(self, now: datetime) -> list[datetime]:
        """The fires due at ``now`` (oldest first); moves ``next_run_time`` past them."""
        fires = []
        while self.next_run_time is not None and self.next_run_time <= now:
            fires.append(self.next_run_time)
            if len(fires) >= MAX_DUE:
                self.next_run_time = self.trigger.get_next_fire_time(None, now)
                break
            self.next_run_time = self.trigger.get_next_fire_time(self.next_run_time, now)
        return fires

    def running(self) -> bool:
        return self.thread is not None and self.thread.is_alive()


class Timetable:
    """The daemon's timers by id (``get_job``, ``add_job``, ``remove_job``, as APScheduler's
    scheduler names them)."""

    def __init__(self) -> None:
        self._timers: dict[str, Timer] = {}
        self._lock = threading.Lock()

    def get_job(self, job_id: str) -> Timer | None:
        return self._timers.get(job_id)

    def add_job(self, timer: Timer) -> None:
        """Add, or replace a timer of the same id (its running fire goes on, and still counts)."""
        with self._lock:
            old = self._timers.get(timer.id)
            if old is not None:
                timer.thread = old.thread
            self._timers[timer.id] = timer

    def remove_job(self, job_id: str) -> None:
        with self._lock:
            self._timers.pop(job_id, None)

    def timers(self) -> list[Timer]:
        with self._lock:
            return list(self._timers.values())
