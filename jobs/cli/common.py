"""What the commands share: settings from the global flags, the clock, the day, tables."""

from __future__ import annotations

from datetime import date

from pipelines.basics import utcnow


def resolve_settings(args):
    from pipelines.settings import Settings

    return Settings.resolve({"config_dir": args.config_dir, "state_url": args.state_url, "models": args.models})


def chosen_day(job, text: str | None) -> date:
    from jobs.schedule.days import local_today, parse_day

    return parse_day(text or job.score_date, local_today(utcnow(), job.tz))


def print_table(headers: list[str], rows: list[list[str]]) -> None:
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(headers)]
    print("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip())
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
