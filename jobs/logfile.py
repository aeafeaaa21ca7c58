"""Log lines and log files: UTC timestamps with their zone, and the per-job log files of cron.

``batchscore --log-file FILE ...`` (what the crontab lines run) appends the command's stdout
and stderr to FILE, rotating it first when it has grown past ``LOG_BYTES`` (``FILE.1`` ...
``FILE.<LOG_BACKUPS>`` are kept), and ends with a line naming the exit code.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
LOG_BYTES = 10 * 1024 * 1024  # a per-job cron log is rotated past this size...
LOG_BACKUPS = 5  # ...keeping this many old files


class UTCFormatter(logging.Formatter):
    """``2026-11-28T02:00:01.042Z``: UTC, with the zone, on every machine."""

    converter = time.gmtime

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        return time.strftime("%Y-%m-%dT%H:%M:%S", self.converter(record.created)) + f".{int(record.msecs):03d}Z"


def log_in_utc(level: int = logging.INFO) -> None:
    """Log to stderr in UTC with the zone, unless the process logs somewhere already (a
    process that no command line set up: a worker process of ``batchscore serve``)."""
    if not logging.getLogger().handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(UTCFormatter(LOG_FORMAT))
        logging.basicConfig(level=level, handlers=[handler])


def rotate(path: Path, max_bytes: int = LOG_BYTES, backups: int = LOG_BACKUPS) -> None:
    """``path`` -> ``path.1`` -> ... -> ``path.<backups>`` (the oldest dropped) once it has
    ``max_bytes`` or more; a file smaller than that, or none, is left alone."""
    try:
        if path.stat().st_size < max_bytes:
            return
    except FileNotFoundError:
        return
    for n in range(backups - 1, 0, -1):
        older = path.with_name(f"{path.name}.{n}")
        if older.exists():
            os.replace(older, path.with_name(f"{path.name}.{n + 1}"))
    if backups > 0:
        os.replace(path, path.with_name(f"{path.name}.1"))
    else:
        path.unlink()


def redirect_output(path: Path, max_bytes: int = LOG_BYTES, backups: int = LOG_BACKUPS) -> None:
    """Rotate ``path`` if due, then point this process's stdout and stderr (file descriptors 1
    and 2, so child processes and C libraries too) at it, appending."""
    path.parent.mkdir(parents=True, exist_ok=True)
    rotate(path, max_bytes, backups)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        for target in (1, 2):
            os.dup2(fd, target)
    finally:
        os.close(fd)
