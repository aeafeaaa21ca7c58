"""Small helpers every layer shares, each defined once: the UTC clock, the JSON form of the
values batchscore records (numpy scalars, dates), the first line of an error, and fsync for
writes that must survive a crash. Imports nothing of batchscore."""

from __future__ import annotations

import os
from datetime import date, datetime, timezone
from pathlib import Path

import numpy as np


def utcnow() -> datetime:
    """Now, in UTC: the default clock of the ledger, the registry and the daemon (each takes
    another as a parameter, so tests inject theirs)."""
    return datetime.now(timezone.utc)


def json_default(value):
    """``json.dumps``'s ``default`` for recorded figures: numpy scalars and arrays as plain
    numbers and lists, dates and datetimes as ISO text; anything else is a ``TypeError``."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def first_line(exc: BaseException | None) -> str:
    """The first non-empty line of an error's text, or its type's name: drivers and Spark
    append statements, parameters and stack traces that one error line must not carry."""
    text = str(getattr(exc, "desc", None) or getattr(exc, "_desc", None) or exc or "").strip()
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__


def fsync(path: Path) -> None:
    """Flush a file, or a directory's entries, to disk before we rely on it."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
