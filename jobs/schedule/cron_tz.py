"""A job's cron schedule in its own time zone, as crontab lines for a cron that runs in the
system's zone and ignores ``CRON_TZ=`` (Debian's cron 3.0pl1). Pure: ``now`` is a parameter.

For each pair of UTC offsets (job zone, system zone) that occurs in the year after ``now``,
the schedule's times are shifted by the difference; where the pair changes over the year
(daylight saving), each line is guarded by a check, in the shell cron hands it to, that the
pair is in force (``date +%z``). The result fires once at each scheduled local time:

- a local time skipped by a spring-forward gap fires at the instant that time has with the
  offset before the change (Python's ``fold=0``; 02:30 becomes 03:30), unless the schedule
  already fires then;
- a local time repeated by a fall-back fold fires once, at its first occurrence.

A schedule that reads the same at every offset it meets (``* * * * *``, ``0 * * * *``,
``*/15 * * * *`` between whole-hour offsets) is not guarded: it fires at every matching minute
of the clock, as cron runs such jobs through its own changes, and as the daemon does.

A fire at instant ``t`` assumed to be at offset ``o`` of the job's zone stands for the local
time ``L = t + o``; under ``fold=0`` that is right iff the offset at ``t + o - o_max`` is ``o``
(``o_max``: the zone's largest offset), which the guard checks ``o_max - o`` before ``t``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from zoneinfo import ZoneInfo

MINUTES_PER_DAY = 24 * 60
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")


@dataclass(frozen=True)
class Guard:
    """``date +FMT`` in ``tz`` (None: the system's), ``ago_s`` seconds before now, is one of ``values``."""

    tz: str | None
    ago_s: int
    fmt: str
    values: tuple[str, ...]

    def holds(self, instant: datetime, system_tz: str) -> bool:
        """What the shell check answers when it runs at ``instant``."""
        zone = ZoneInfo(self.tz or system_tz)
        return (instant - timedelta(seconds=self.ago_s)).astimezone(zone).strftime(self.fmt) in self.values

    def shell(self) -> str:
        when = f" -d @$(($(date +%s)-{self.ago_s}))" if self.ago_s else ""
        prefix = f"TZ={self.tz} " if self.tz else ""
        return f'case "$({prefix}date{when} +{self.fmt})" in {"|".join(self.values)}) ;; *) false;; esac'


@dataclass(frozen=True)
class CronLine:
    """Five cron fields in the system's zone, and the checks the command runs behind."""

    fields: str
    guards: tuple[Guard, ...] = ()

    def command(self, command: str) -> str:
        """The line's command (``%`` not yet escaped for cron)."""
        return " && ".join([*(g.shell() for g in self.guards), command])

    def fires_at(self, instant: datetime, system_tz: str) -> bool:
        """Whether cron, running in ``system_tz``, runs this line at ``instant`` (on a minute)
        and its guards let the command through."""
        return cron_matches(self.fields, instant.astimezone(ZoneInfo(system_tz))) and all(
            g.holds(instant, system_tz) for g in self.guards
        )


def convert(schedule: str, job_tz: str, system_tz: str, now: datetime, days: int = 366) -> list[CronLine]:
    """Cron lines in ``system_tz`` firing ``schedule`` of ``job_tz`` at its local times."""
    minute, hour, dom, month, dow = schedule.split()
    minutes, hours = field_values(minute, 0, 59), field_values(hour, 0, 23)
    pairs = offset_pairs(job_tz, system_tz, now, days)
    job_offsets = sorted({o for o, _ in pairs})
    system_offsets = {s for _, s in pairs}
    o_max = job_offsets[-1]
    times = {h * 60 + m for h in hours for m in minutes}  # local minutes of the day
    if dom == month == dow == "*":
        shifted = {frozenset((t - (o - s)) % MINUTES_PER_DAY for t in times) for o, s in pairs}
        if len(shifted) == 1:  # the same minutes of the day whatever the offsets
            return [CronLine(f"{m} {h} * * *") for m, h in _product_fields(next(iter(shifted)))]
    groups: dict[tuple[str, str, str, tuple[Guard, ...]], set[int]] = defaultdict(set)
    for o, s in sorted(pairs):
        base: list[Guard] = []
        if len(system_offsets) > 1:
            base.append(Guard(None, 0, "%z", (_offset_text(s),)))
        zone_guard = Guard(job_tz, (o_max - o) * 60, "%z", (_offset_text(o),)) if len(job_offsets) > 1 else None
        # A time whose gap carry-over (t + a larger offset) is itself scheduled fires only
        # when its own offset is in force: the scheduled time then stands for the instant.
        larger = [x for x in job_offsets if x > o]
        for t in times:
            guards = list(base)
            if zone_guard is not None:
                guards.append(zone_guard)
                if o != o_max and any((t + x - o) % MINUTES_PER_DAY in times for x in larger):
                    guards.append(Guard(job_tz, 0, "%z", (_offset_text(o),)))
            shifted = t - (o - s)
            day_shift, system_minute = divmod(shifted, MINUTES_PER_DAY)
            day_fields, day_guards = _day_fields(dom, month, dow, day_shift, job_tz)
            key = (*day_fields, tuple(dict.fromkeys([*guards, *day_guards])))
            groups[key].add(system_minute)
    lines = []
    for (d, mo, w, guards), system_minutes in groups.items():
        for minute_text, hour_text in _product_fields(system_minutes):
            lines.append(CronLine(f"{minute_text} {hour_text} {d} {mo} {w}", guards))
    return lines


def offset_pairs(job_tz: str, system_tz: str, now: datetime, days: int = 366) -> set[tuple[int, int]]:
    """The (job zone, system zone) UTC offsets in minutes that occur in ``days`` days from ``now``."""
    zones = ZoneInfo(job_tz), ZoneInfo(system_tz)
    start = now.astimezone(timezone.utc).replace(minute=0, second=0, microsecond=0)
    pairs = set()
    for step in range(days * 24 * 2):  # every half hour: no pair lasts less
        instant = start + timedelta(minutes=30 * step)
        pairs.add(tuple(int(instant.astimezone(z).utcoffset().total_seconds()) // 60 for z in zones))
    return pairs


def _day_fields(dom: str, month: str, dow: str, shift: int, job_tz: str) -> tuple[tuple[str, str, str], list[Guard]]:
    """The day fields of a line whose system day is the local day + ``shift``."""
    if shift == 0 or (dom == month == dow == "*"):
        return (dom, month, dow), []
    new_dow = "*" if dow == "*" else _render(sorted({(d + shift) % 7 for d in field_values(dow, 0, 7, _DAYS)}), 0, 6)
    guards = []
    if dom != "*":  # month lengths differ: check the local day of month where the fire runs
        guards.append(Guard(job_tz, 0, "%d", tuple(f"{d:02d}" for d in sorted(field_values(dom, 1, 31)))))
    if month != "*":
        guards.append(Guard(job_tz, 0, "%m", tuple(f"{m:02d}" for m in sorted(field_values(month, 1, 12, _MONTHS, 1)))))
    return ("*", "*", new_dow), guards


def _product_fields(system_minutes: Iterable[int]) -> list[tuple[str, str]]:
    """(minute field, hour field) pairs whose product is exactly ``system_minutes``."""
    by_hour: dict[int, set[int]] = defaultdict(set)
    for t in system_minutes:
        by_hour[t // 60].add(t % 60)
    by_minutes: dict[frozenset[int], list[int]] = defaultdict(list)
    for h, ms in sorted(by_hour.items()):
        by_minutes[frozenset(ms)].append(h)
    return [(_render(sorted(ms), 0, 59), _render(hs, 0, 23)) for ms, hs in by_minutes.items()]


def _render(values: list[int], low: int, high: int) -> str:
    """A cron field for sorted ``values``: ``*``, ``*/n``, ``a-b/n``, or a list of ranges."""
    if values == list(range(low, high + 1)):
        return "*"
    if len(values) >= 3:
        step = values[1] - values[0]
        if step > 1 and values == list(range(values[0], values[-1] + 1, step)):
            if values[0] == low and values[-1] + step > high:
                return f"*/{step}"
            return f"{values[0]}-{values[-1]}/{step}"
    parts, i = [], 0
    while i < len(values):
        j = i
        while j + 1 < len(values) and values[j + 1] == values[j] + 1:
            j += 1
        parts.append(f"{values[i]}-{values[j]}" if j - i >= 2 else ",".join(map(str, values[i:j + 1])))
        i = j + 1
    return ",".join(parts)


@lru_cache(maxsize=1024)
def field_values(field: str, low: int, high: int, names: tuple[str, ...] = (), name_base: int = 0) -> frozenset[int]:
    """The numbers a cron field names (``*``, ``a-b``, ``*/n``, ``a-b/n``, lists, names).
    Day of week: 7 is Sunday, returned as 0."""

    def number(token: str) -> int:
        if token.lower()[:3] in names and not token.isdigit():
            return names.index(token.lower()[:3]) + name_base
        value = int(token)
        if not low <= value <= high:
            raise ValueError(f"{token} is outside {low}-{high}")
        return value

    values: set[int] = set()  # a fresh set: the result is cached, callers only read it
    for part in field.split(","):
        span, _, step_text = part.partition("/")
        step = int(step_text) if step_text else 1
        if span == "*":
            first, last = low, high
        elif "-" in span:
            first, last = (number(x) for x in span.split("-", 1))
        else:
            first = number(span)
            last = high if step_text else first
        values.update(range(first, last + 1, step))
    if names == _DAYS:
        values = {v % 7 for v in values}
    return frozenset(values)


def cron_matches(fields: str, wall: datetime) -> bool:
    """Whether cron's five ``fields`` match the wall time ``wall`` (cron's rule: when both day
    of month and day of week are restricted, either may match)."""
    minute, hour, dom, month, dow = fields.split()
    if wall.minute not in field_values(minute, 0, 59) or wall.hour not in field_values(hour, 0, 23):
        return False
    if wall.month not in field_values(month, 1, 12, _MONTHS, 1):
        return False
    day_ok = wall.day in field_values(dom, 1, 31)
    dow_ok = (wall.isoweekday() % 7) in field_values(dow, 0, 7, _DAYS)
    if dom != "*" and dow != "*":
        return day_ok or dow_ok
    return day_ok and dow_ok


def _offset_text(minutes: int) -> str:
    sign = "-" if minutes < 0 else "+"
    return f"{sign}{abs(minutes) // 60:02d}{abs(minutes) % 60:02d}"
