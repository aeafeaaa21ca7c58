"""Pure date arithmetic: which day a word means, ranges of days. Time is always a parameter."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta

from jobs.errors import UsageError

RELATIVE_DAYS = {"today": 0, "yesterday": -1}


def parse_day(text: str, today: date) -> date:
    """``YYYY-MM-DD``, ``today`` or ``yesterday`` (relative to ``today``)."""
    if text in RELATIVE_DAYS:
        return today + timedelta(days=RELATIVE_DAYS[text])
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise UsageError(
            f"{text!r} is not a day", hint="use YYYY-MM-DD, today or yesterday"
        ) from None


def local_today(now: datetime, tz) -> date:
    """The calendar day at ``now`` in the job's time zone."""
    return now.astimezone(tz).date()


def day_range(start: date, end: date) -> Iterator[date]:
    """Every day from ``start`` to ``end``, both included."""
    if end < start:
        raise UsageError(f"the range {start}..{end} ends before it starts", hint="swap --start and --end")
    for offset in range((end - start).days + 1):
        yield start + timedelta(days=offset)
