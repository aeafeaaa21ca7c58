"""Is the process that holds a lock alive? On this host: its pid exists and is the same process
(its start time since boot tells a reused pid apart). On another host: its heartbeat is
younger than the lease. The ledger's (job, day) lock asks this."""

from __future__ import annotations

import os
import socket
from datetime import datetime, timedelta, timezone
from pathlib import Path


def process_identity() -> dict:
    pid = os.getpid()
    return {"host": socket.gethostname(), "pid": pid, "pid_started": _pid_started(pid)}


def _pid_started(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (tells a reused pid apart)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2 :].split()
    return None if fields[0] == "Z" else fields[19]  # a zombie has finished: dead


def holder_alive(holder, now: datetime, lease_s: float) -> bool:
    """Whether a lock's holder lives: a process of this host that exists (the same one: its
    start time matches), or another host's whose heartbeat is younger than ``lease_s``."""
    if holder["host"] == socket.gethostname():
        try:
            os.kill(holder["pid"], 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            pass  # exists, owned by another user
        started = _pid_started(holder["pid"])
        if Path("/proc").is_dir() and started is None:
            return False
        return holder["pid_started"] is None or started == holder["pid_started"]
    beat = holder["heartbeat_at"]
    beat = beat.replace(tzinfo=timezone.utc) if beat.tzinfo is None else beat
    return now - beat < timedelta(seconds=lease_s)
