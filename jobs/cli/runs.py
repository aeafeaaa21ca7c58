"""Commands that score days: run, backfill, validate, demo."""

from __future__ import annotations

from jobs import config as config_mod
from jobs.cli.common import chosen_day, resolve_settings
from jobs.vocabulary import RunStatus
from jobs.errors import EXIT_FAILED, EXIT_OK, EXIT_USAGE, BatchScoreError, UsageError
from pipelines.basics import utcnow


def cmd_run(args) -> int:
    from jobs.cli.progress import end_line, reporter
    from jobs.schedule.retry import run_with_retries

    settings = resolve_settings(args)
    job = config_mod.load_named(settings.config_dir, args.job)
    if args.workers is not None:
        job = job.model_copy(update={"workers": args.workers})
    try:
        day = chosen_day(job, args.date)
    except BatchScoreError as exc:
        raise exc.in_context(job.name, None)
    try:
        outcome = run_with_retries(
            job, day, settings, force=args.force, pipeline_version=args.pipeline_version,
            engine=args.engine, progress=reporter(job.name, day),
        )
    finally:
        end_line()
    if outcome.status == RunStatus.SKIPPED:
        print(f"{job.name} {day}: skipped, already succeeded (use --force to score it again)")
    else:
        print(
            f"{job.name} {day}: succeeded, {outcome.rows_written} rows, "
            f"{outcome.model_name} v{outcome.model_version}, {outcome.seconds:.2f}s, run {outcome.run_id}"
        )
    return EXIT_OK


def cmd_backfill(args) -> int:
    from jobs.schedule.backfill import plan, run_days
    from jobs.schedule.days import day_range, local_today, parse_day
    from jobs.ledger import Ledger

    settings = resolve_settings(args)
    job = config_mod.load_named(settings.config_dir, args.job)
    today = local_today(utcnow(), job.tz)
    try:
        days = list(day_range(parse_day(args.start, today), parse_day(args.end, today)))
    except BatchScoreError as exc:
        raise exc.in_context(job.name, None)
    planned = plan(job, days, Ledger(settings.state_url), force=args.force)
    if args.dry_run:
        for p in planned:
            print(f"{p.day} {'would score' if p.action == 'score' else 'would skip'}: {p.reason}")
        todo = sum(p.action == "score" for p in planned)
        print(f"dry run {job.name} {days[0]}..{days[-1]}: {todo} to score, {len(planned) - todo} to skip")
        return EXIT_OK

    from jobs.cli.progress import BackfillProgress

    bar = BackfillProgress(len(days))

    def show(result) -> None:
        bar.clear()
        if result.status == RunStatus.SUCCEEDED:
            print(f"{result.day} succeeded: {result.rows} rows, v{result.model_version}, {result.seconds:.2f}s", flush=True)
        elif result.status == RunStatus.SKIPPED:
            print(f"{result.day} skipped: already succeeded", flush=True)
        else:
            print(f"{result.day} failed (exit {result.exit_code}): {result.error}", flush=True)
        bar.update(rows=result.rows or 0)

    try:
        results = run_days(
            job, days, settings, workers=args.workers, force=args.force,
            pipeline_version=args.pipeline_version, engine=args.engine, on_result=show,
        )
    finally:
        bar.close()
    counts = {s: sum(r.status == s for r in results) for s in (RunStatus.SUCCEEDED, RunStatus.SKIPPED, RunStatus.FAILED)}
    print(f"backfill {job.name} {days[0]}..{days[-1]}: " + ", ".join(f"{n} {s.value}" for s, n in counts.items()))
    return EXIT_OK if counts[RunStatus.FAILED] == 0 else EXIT_FAILED


def cmd_validate(args) -> int:
    from jobs.cli.validate import validate_job

    settings = resolve_settings(args)
    names = [args.job] if args.job else config_mod.job_names(settings.config_dir)
    worst = EXIT_OK
    for name in names:
        try:
            job = config_mod.load_named(settings.config_dir, name)
            day = chosen_day(job, args.date) if args.date else None
            for line in validate_job(job, settings, day):
                print(f"{name}: {line}")
            print(f"{name}: ok")
        except BatchScoreError as exc:
            print(f"{name}: FAILED: {exc}")
            worst = max(worst, exc.exit_code)
    if worst:
        raise UsageError("validation failed", hint="see the lines above") if worst == EXIT_USAGE else _ValidationFailed()
    return EXIT_OK


class _ValidationFailed(BatchScoreError):
    def __init__(self) -> None:
        super().__init__("validation failed", hint="see the lines above")


def cmd_demo(args) -> int:
    from datetime import timezone

    from jobs.cli.demo import run_demo
    from jobs.schedule.days import local_today, parse_day

    settings = resolve_settings(args)
    day = parse_day(args.date or "yesterday", local_today(utcnow(), timezone.utc))  # the demo job's zone is UTC
    for line in run_demo(settings, day):
        print(line, flush=True)
    return EXIT_OK

