"""Commands of the model lifecycle: train, evaluate, pipeline history, gated promote."""

from __future__ import annotations

import json
import logging
import sys
from datetime import timedelta

from jobs import config as config_mod
from jobs.cli.common import print_table, resolve_settings
from jobs.errors import EXIT_OK, BatchScoreError, GateRefused, UsageError
from pipelines.basics import utcnow

log = logging.getLogger("batchscore")


def cmd_train(args) -> int:
    from jobs.schedule.days import local_today, parse_day
    from jobs.lifecycle.training import train_job

    settings = resolve_settings(args)
    job = config_mod.load_named(settings.config_dir, args.job)
    try:
        day = parse_day(args.date or "today", local_today(utcnow(), job.tz))
    except BatchScoreError as exc:
        raise exc.in_context(job.name, None)
    result = train_job(job, day, settings)
    metrics = " ".join(f"{k}={v:.4f}" if isinstance(v, float) else f"{k}={v}" for k, v in result.metrics.items())
    print(
        f"{job.name} {day}: trained {result.name} v{result.version} on {result.window.start}..{result.window.end} "
        f"(holdout from {result.window.holdout_start}): {metrics}; {result.alias} -> v{result.version}"
    )
    print(result.version)  # the contract: the new version is the last line of stdout
    return EXIT_OK


def cmd_evaluate(args) -> int:
    from jobs.schedule.days import day_range, local_today, parse_day
    from jobs.lifecycle.evaluation import EVALUATED, evaluate_job, matured_end

    settings = resolve_settings(args)
    job = config_mod.load_named(settings.config_dir, args.job)
    if job.outcomes is None:
        raise UsageError(f"job {job.name} has no outcomes: section", hint="add one to the job file; see docs/configuration.md")
    today = local_today(utcnow(), job.tz)
    try:
        end = parse_day(args.end, today) if args.end else matured_end(job.outcomes, today)
        start = parse_day(args.start, today) if args.start else end - timedelta(days=29)
        days = list(day_range(start, end))
    except BatchScoreError as exc:
        raise exc.in_context(job.name, None)
    results = evaluate_job(job, days, settings, today=today, now=utcnow())
    for result in results:
        if result.status != EVALUATED:
            print(f"{result.day} {result.status}")
        for row in result.rows:
            print(f"{result.day} {row.role} {row.model_name} v{row.model_version} n={row.n} {_metrics_text(row.metrics)}")
    done = sum(r.status == EVALUATED for r in results)
    print(f"evaluate {job.name} {days[0]}..{days[-1]}: {done} day(s) evaluated, {len(results) - done} without")
    return EXIT_OK


def cmd_pipeline_history(args) -> int:
    from pipelines.registry import Registry

    registry = Registry(resolve_settings(args).models_root)
    rows = []
    for move in registry.alias_history(args.name):
        gate = move.gate or {}
        verdict = "" if not gate else ("pass" if gate.get("passed") else "fail") + f" ({gate.get('job')})"
        if gate.get("forced"):
            verdict += " forced"
        rows.append([
            f"{move.at:%Y-%m-%d %H:%M:%S}", move.alias,
            "" if move.from_version is None else f"v{move.from_version}", f"v{move.to_version}",
            move.by, move.reason or "", verdict,
        ])
    print_table(["at (UTC)", "alias", "from", "to", "by", "reason", "gate"], rows)
    if not rows:
        print(f"no alias moves of {args.name} recorded", file=sys.stderr)
    return EXIT_OK


def cmd_pipeline_promote(args) -> int:
    """``pipeline promote NAME VERSION ALIAS [--gate JOB] [--force --reason TEXT]``."""
    from jobs.lifecycle.gate import check_gate
    from pipelines.registry import Registry

    if args.force and not args.reason:
        raise UsageError("--force needs --reason TEXT", hint="say why the gate is overridden; it is recorded")
    if args.force and not args.gate:
        raise UsageError("--force overrides a gate: give --gate JOB too", hint="or promote without --force")
    settings = resolve_settings(args)
    registry = Registry(settings.models_root)
    mv = registry.resolve(args.name, args.version)
    verdict = None
    if args.gate:
        job = config_mod.load_named(settings.config_dir, args.gate)
        verdict = check_gate(job, mv.name, mv.version, settings)
        print(f"gate {job.name} for {mv.name} v{mv.version}: {'pass' if verdict.passed else 'FAIL'}")
        print_table(
            ["rule", "figure", "limit", "verdict"],
            [[r.name, r.figure, r.limit, "pass" if r.passed else "FAIL"] for r in verdict.rules],
        )
        if not verdict.passed and not args.force:
            raise GateRefused(
                f"{mv.name} v{mv.version} did not pass the gate of job {job.name}; {args.alias} was not moved",
                hint="let it shadow-score longer, or override with --force --reason TEXT",
            )
    gate = None if verdict is None else {**verdict.to_json(), "forced": bool(args.force and not verdict.passed)}
    registry.promote(mv.name, mv.version, args.alias, reason=args.reason, gate=gate)
    print(f"{args.name}: {args.alias} -> v{mv.version}")
    return EXIT_OK


def _metrics_text(metrics: dict) -> str:
    return json.dumps({k: (round(v, 4) if isinstance(v, float) else v) for k, v in metrics.items()})
