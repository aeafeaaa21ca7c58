"""Commands that show the ledger: status, report, list."""

from __future__ import annotations

import json
import sys
from datetime import date, datetime
from typing import TYPE_CHECKING

from jobs import config as config_mod
from jobs.cli.common import print_table, resolve_settings
from jobs.errors import EXIT_OK, BatchScoreError, UsageError
from pipelines.basics import utcnow

if TYPE_CHECKING:
    from jobs.lifecycle.evaluation import Evaluation


def cmd_status(args) -> int:
    from jobs.ledger import COLUMNS, Ledger
    from jobs.report import quality_cells

    settings = resolve_settings(args)
    job = config_mod.load_named(settings.config_dir, args.job)
    rows = Ledger(settings.state_url).history(args.job, last=args.last)
    realized = _evaluations_by_day(settings.state_url, args.job, {row["score_date"] for row in rows})
    if args.format == "json":
        print(json.dumps([
            {**{k: _json_value(row[k]) for k in COLUMNS}, "realized": [_realized_json(e) for e in realized.get(row["score_date"], ())]}
            for row in rows
        ], indent=2))
        return EXIT_OK
    headers = ["score_date", "status", "attempt", "started_at", "secs", "rows_read", "rows_written", "rejected", "quality", "psi_ref", "psi_prev", "model", "engine", "target", "run_id", "error"]
    table = []
    for row in rows:
        secs = (row["finished_at"] - row["started_at"]).total_seconds() if row["finished_at"] else None
        table.append([
            str(row["score_date"]), row["status"], str(row["attempt"]),
            f"{row['started_at']:%Y-%m-%dT%H:%M:%S}Z", "" if secs is None else f"{secs:.1f}",
            _blank(row["rows_read"]), _blank(row["rows_written"]), _blank(row["rows_rejected"]),
            *quality_cells(row["stats"]),
            f"{row['model_name']} v{row['model_version']}" if row["model_name"] else "",
            row["engine"] or "", row["output_target"] or "", row["run_id"][:8], (row["error"] or "")[:80],
        ])
    print_table(headers, table)
    if not rows:
        print(f"no runs of {args.job} yet", file=sys.stderr)
    elif realized:
        print("\nrealized metrics (batchscore evaluate): per day, the main version and each shadow version")
        print_table(["score_date", "metric", "main", "shadow"], [_realized_cells(day, realized[day]) for day in sorted(realized, reverse=True)])
    elif job.outcomes is not None:
        print("\nrealized metrics: none yet (batchscore evaluate measures the scored days once their labels mature)")
    return EXIT_OK


def _evaluations_by_day(state_url: str, job: str, days: set[date]) -> dict[date, list[Evaluation]]:
    """The job's evaluations of ``days`` (the ledger rows shown), by day."""
    from jobs.lifecycle.evaluation import EvaluationStore

    by_day: dict[date, list[Evaluation]] = {}
    if days:
        for evaluation in EvaluationStore(state_url).rows(job, start=min(days), end=max(days)):
            if evaluation.score_date in days:
                by_day.setdefault(evaluation.score_date, []).append(evaluation)
    return by_day


def _realized_json(evaluation: Evaluation) -> dict:
    metric = evaluation.primary
    return {
        "model_name": evaluation.model_name, "model_version": evaluation.model_version, "role": evaluation.role,
        "n": evaluation.n, "metric": metric and metric.name, "value": metric and metric.value,
        "metrics": dict(evaluation.metrics),
    }


def _realized_cells(day: date, evaluations: list[Evaluation]) -> list[str]:
    """One line of a day: its primary metric, the main version's figure, each shadow's."""
    from jobs.lifecycle.evaluation import MAIN

    metrics = [e.primary for e in evaluations if e.primary is not None]
    return [
        str(day), metrics[0].name if metrics else "",
        ", ".join(_version_figure(e) for e in evaluations if e.role == MAIN),
        ", ".join(_version_figure(e) for e in evaluations if e.role != MAIN),
    ]


def _version_figure(evaluation: Evaluation) -> str:
    metric = evaluation.primary
    value = "n/a" if metric is None or metric.value is None else f"{metric.value:.4f}"
    return f"v{evaluation.model_version} {value} n={evaluation.n}"


def cmd_report(args) -> int:
    from datetime import timedelta

    from jobs.schedule.days import local_today, parse_day
    from jobs.ledger import Ledger
    from jobs.lifecycle.evaluation import EvaluationStore
    from jobs.report import render_html, render_json, report_data

    settings = resolve_settings(args)
    job = config_mod.load_named(settings.config_dir, args.job)
    ledger = Ledger(settings.state_url)
    today = local_today(utcnow(), job.tz)
    try:
        if args.end:
            end = parse_day(args.end, today)
        else:
            last = ledger.history(job.name)
            end = max((r["score_date"] for r in last), default=today)
        start = parse_day(args.start, today) if args.start else end - timedelta(days=29)
    except BatchScoreError as exc:
        raise exc.in_context(job.name, None)
    if start > end:
        raise UsageError(f"--start {start} is after --end {end}", hint="give the earlier day first")
    evaluations = EvaluationStore(settings.state_url).rows(job.name, start=start, end=end)
    data = report_data(job, ledger.latest_per_day(job.name, start, end), start, end, evaluations)
    text = render_json(data) if args.format == "json" else render_html(data)
    if args.out is None:
        sys.stdout.write(text)
        return EXIT_OK
    try:
        args.out.write_text(text)
    except OSError as exc:
        raise UsageError(f"cannot write {args.out}: {exc.strerror}", hint="give a writable path") from exc
    print(args.out)
    return EXIT_OK


def cmd_list(args) -> int:
    from jobs.ledger import Ledger
    from jobs.report import next_fire_text

    settings = resolve_settings(args)
    ledger = Ledger(settings.state_url)
    now = utcnow()
    table = []
    for name in config_mod.job_names(settings.config_dir):
        try:
            job = config_mod.load_job(config_mod.job_path(settings.config_dir, name))
        except BatchScoreError as exc:
            table.append([name, "(invalid)", "", "", str(exc)[:80]])
            continue
        last = ledger.last_run(job.name)
        table.append([
            job.name,
            f"{job.schedule} {job.timezone}" if job.schedule else "manual",
            f"{last['score_date']} {last['status']}" if last else "never",
            next_fire_text(job, now),
            f"{job.pipeline.name}@{job.pipeline.version} {job.engine}",
        ])
    print_table(["job", "schedule", "last run", "next fire", "pipeline"], table)
    return EXIT_OK


def _blank(value) -> str:
    return "" if value is None else str(value)


def _json_value(value):
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    return value

