"""The command line: the only place that parses argv, prints for humans, and exits.

Every error reaches the user as one last stderr line naming the job, the day and what to do,
with the exit code of its kind (``jobs.errors``); ``--verbose`` adds the traceback.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
from datetime import date, datetime, timezone
from pathlib import Path

from jobs import config as config_mod
from jobs.errors import EXIT_FAILED, EXIT_OK, EXIT_USAGE, BatchScoreError, UsageError

log = logging.getLogger("batchscore")


class Terminated(BaseException):
    """SIGTERM: unwinds like Ctrl-C, so the run's transaction rolls back and the ledger
    records the failure."""


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    _setup_logging(args.verbose)
    if not getattr(args, "handler", None):
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    previous = signal.getsignal(signal.SIGTERM)
    if _in_main_thread():
        signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        return args.handler(args)
    except BatchScoreError as exc:
        _report(args, exc, str(exc))
        return exc.exit_code
    except KeyboardInterrupt as exc:
        _report(args, exc, "interrupted; nothing of the run was committed")
        return 130
    except Terminated as exc:
        _report(args, exc, "terminated; nothing of the run was committed")
        return 143
    except Exception as exc:  # a bug of ours: still one line, and a non-zero exit
        _report(args, exc, f"internal error: {type(exc).__name__}: {exc} (run with --verbose for the traceback)")
        return EXIT_FAILED
    finally:
        if _in_main_thread():
            signal.signal(signal.SIGTERM, previous)


def _in_main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


def _on_sigterm(signum, frame):
    raise Terminated()


def _report(args, exc: BaseException, line: str) -> None:
    if args.verbose:
        log.error("traceback follows", exc_info=exc)
    sys.stderr.flush()
    print(f"error: {line}", file=sys.stderr, flush=True)


def _setup_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
        force=True,
    )
    for noisy in ("py4j", "sqlalchemy.engine"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


# --- parser ------------------------------------------------------------------------------

def build_parser() -> argparse.ArgumentParser:
    # The global flags are accepted before and after the command. The commands' copies default
    # to SUPPRESS: argparse would otherwise reset a flag given before the command to None.
    top = _global_flags(argparse.ArgumentParser(add_help=False), defaults=True)
    common = _global_flags(argparse.ArgumentParser(add_help=False), defaults=False)

    parser = argparse.ArgumentParser(prog="batchscore", description="Batch scoring jobs.", parents=[top])
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")

    p = sub.add_parser("run", parents=[common], help="score one day of a job")
    p.add_argument("job")
    p.add_argument("--date", help="YYYY-MM-DD, today or yesterday (default: the job's score_date)")
    p.add_argument("--engine", choices=["pandas", "spark"])
    p.add_argument("--pipeline-version", help="a version number or alias instead of the job's")
    p.add_argument("--force", action="store_true", help="score the day again even if it succeeded")
    p.add_argument("--workers", type=_positive_int, help="processes scoring chunks (default: the job's workers)")
    p.set_defaults(handler=cmd_run)

    p = sub.add_parser("backfill", parents=[common], help="score every day of a range")
    p.add_argument("job")
    p.add_argument("--start", required=True)
    p.add_argument("--end", required=True)
    p.add_argument("--workers", type=_positive_int, default=1, help="days scored at once, in separate processes")
    p.add_argument("--engine", choices=["pandas", "spark"], help="instead of the job's engine (spark: one context for all days)")
    p.add_argument("--pipeline-version")
    p.add_argument("--force", action="store_true")
    p.add_argument("--dry-run", action="store_true", help="list the days and what would be done")
    p.set_defaults(handler=cmd_backfill)

    p = sub.add_parser("status", parents=[common], help="the run ledger of a job, newest first")
    p.add_argument("job")
    p.add_argument("--last", type=_positive_int, default=20)
    p.add_argument("--format", choices=["table", "json"], default="table")
    p.set_defaults(handler=cmd_status)

    p = sub.add_parser("report", parents=[common], help="rows, rejects, score drift and model per day, as HTML or JSON")
    p.add_argument("job")
    p.add_argument("--start", help="first day (default: 30 days before --end)")
    p.add_argument("--end", help="last day (default: the newest day in the ledger)")
    p.add_argument("--out", type=Path, help="write to this file (default: stdout)")
    p.add_argument("--format", choices=["html", "json"], default="html")
    p.set_defaults(handler=cmd_report)

    p = sub.add_parser("list", parents=[common], help="jobs, schedules, last runs, next fires")
    p.set_defaults(handler=cmd_list)

    p = sub.add_parser("scheduler", parents=[common], help="the daemon running every job on its schedule")
    p.add_argument("--grace", type=float, default=None, metavar="SECONDS",
                   help="on SIGTERM/SIGINT, how long running jobs may finish before they are terminated (default 60)")
    p.add_argument("--seconds", default="0", metavar="CRON_FIELD",
                   help="cron second field added to every schedule (default 0: on the minute, as cron; "
                        "'*/5' fires every 5 s within each scheduled minute, for demos and tests)")
    p.set_defaults(handler=cmd_scheduler)

    p = sub.add_parser("crontab", parents=[common], help="crontab lines for every scheduled job")
    p.add_argument("--write", action="store_true", help="write them to scripts/crontab in the project")
    p.set_defaults(handler=cmd_crontab)

    p = sub.add_parser("validate", parents=[common], help="check config, source, pipeline and columns")
    p.add_argument("job", nargs="?")
    p.add_argument("--date", help="also check that the source has rows for this day")
    p.set_defaults(handler=cmd_validate)

    p = sub.add_parser("demo", parents=[common], help="build the sample warehouse, train, score a day, show it")
    p.add_argument("--date", default="2026-11-27")
    p.set_defaults(handler=cmd_demo)

    p = sub.add_parser("pipeline", parents=[common], help="the model registry")
    psub = p.add_subparsers(title="registry commands", metavar="ACTION")
    q = psub.add_parser("list", parents=[common], help="models, versions and aliases")
    q.set_defaults(handler=cmd_pipeline_list)
    q = psub.add_parser("show", parents=[common], help="one version's record")
    q.add_argument("name")
    q.add_argument("version", nargs="?", default="production")
    q.set_defaults(handler=cmd_pipeline_show)
    q = psub.add_parser("register", parents=[common], help="register a fitted pipeline file")
    q.add_argument("name")
    q.add_argument("file", type=Path)
    q.add_argument("--alias")
    q.add_argument("--training-data", type=Path, help="Parquet of the training features")
    q.set_defaults(handler=cmd_pipeline_register)
    q = psub.add_parser("promote", parents=[common], help="point an alias at a version")
    q.add_argument("name")
    q.add_argument("version")
    q.add_argument("alias")
    q.set_defaults(handler=cmd_pipeline_promote)
    return parser


def _global_flags(parser: argparse.ArgumentParser, *, defaults: bool) -> argparse.ArgumentParser:
    none, false = (None, False) if defaults else (argparse.SUPPRESS, argparse.SUPPRESS)
    parser.add_argument("--config-dir", default=none, help="job files (default: $BATCHSCORE_CONFIG_DIR or configs)")
    parser.add_argument(
        "--state-url", default=none,
        help="run ledger and locks (default: $BATCHSCORE_STATE_URL or sqlite:///data/batchscore.db)",
    )
    parser.add_argument("--models", default=none, help="model registry root (default: $BATCHSCORE_MODELS or data/models)")
    parser.add_argument("-v", "--verbose", action="store_true", default=false, help="debug logs and tracebacks")
    return parser


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be 1 or more")
    return value


# --- shared helpers ------------------------------------------------------------------------

def _settings(args):
    from jobs.settings import Settings

    return Settings.resolve({"config_dir": args.config_dir, "state_url": args.state_url, "models": args.models})


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _day(job, text: str | None) -> date:
    from jobs.dates import local_today, parse_day

    return parse_day(text or job.score_date, local_today(_now(), job.tz))


# --- commands ------------------------------------------------------------------------------

def cmd_run(args) -> int:
    from jobs.progress import end_line, reporter
    from jobs.retry import run_with_retries

    settings = _settings(args)
    job = config_mod.load_named(settings.config_dir, args.job)
    if args.workers is not None:
        job = job.model_copy(update={"workers": args.workers})
    try:
        day = _day(job, args.date)
    except BatchScoreError as exc:
        raise exc.in_context(job.name, None)
    try:
        outcome = run_with_retries(
            job, day, settings, force=args.force, pipeline_version=args.pipeline_version,
            engine=args.engine, progress=reporter(job.name, day),
        )
    finally:
        end_line()
    if outcome.status == "skipped":
        print(f"{job.name} {day}: skipped, already succeeded (use --force to score it again)")
    else:
        print(
            f"{job.name} {day}: succeeded, {outcome.rows_written} rows, "
            f"{outcome.model_name} v{outcome.model_version}, {outcome.seconds:.2f}s, run {outcome.run_id}"
        )
    return EXIT_OK


def cmd_backfill(args) -> int:
    from jobs.backfill import plan, run_days
    from jobs.dates import day_range, local_today, parse_day
    from jobs.ledger import Ledger

    settings = _settings(args)
    job = config_mod.load_named(settings.config_dir, args.job)
    today = local_today(_now(), job.tz)
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

    def show(result) -> None:
        if result.status == "succeeded":
            print(f"{result.day} succeeded: {result.rows} rows, v{result.model_version}, {result.seconds:.2f}s", flush=True)
        elif result.status == "skipped":
            print(f"{result.day} skipped: already succeeded", flush=True)
        else:
            print(f"{result.day} failed (exit {result.exit_code}): {result.error}", flush=True)

    results = run_days(
        job, days, settings, workers=args.workers, force=args.force,
        pipeline_version=args.pipeline_version, engine=args.engine, on_result=show,
    )
    counts = {s: sum(r.status == s for r in results) for s in ("succeeded", "skipped", "failed")}
    print(
        f"backfill {job.name} {days[0]}..{days[-1]}: {counts['succeeded']} succeeded, "
        f"{counts['skipped']} skipped, {counts['failed']} failed"
    )
    return EXIT_OK if counts["failed"] == 0 else EXIT_FAILED


def cmd_status(args) -> int:
    from jobs.ledger import COLUMNS, Ledger

    settings = _settings(args)
    config_mod.load_named(settings.config_dir, args.job)
    rows = Ledger(settings.state_url).history(args.job, last=args.last)
    if args.format == "json":
        print(json.dumps([{k: _json_value(row[k]) for k in COLUMNS} for row in rows], indent=2))
        return EXIT_OK
    headers = ["score_date", "status", "attempt", "started_at", "secs", "rows_read", "rows_written", "rejected", "quality", "psi_ref", "psi_prev", "model", "engine", "run_id", "error"]
    table = []
    for row in rows:
        secs = (row["finished_at"] - row["started_at"]).total_seconds() if row["finished_at"] else None
        table.append([
            str(row["score_date"]), row["status"], str(row["attempt"]),
            f"{row['started_at']:%Y-%m-%d %H:%M:%S}", "" if secs is None else f"{secs:.1f}",
            _blank(row["rows_read"]), _blank(row["rows_written"]), _blank(row["rows_rejected"]),
            *_quality_columns(row["stats"]),
            f"{row['model_name']} v{row['model_version']}" if row["model_name"] else "",
            row["engine"] or "", row["run_id"][:8], (row["error"] or "")[:80],
        ])
    _print_table(headers, table)
    if not rows:
        print(f"no runs of {args.job} yet", file=sys.stderr)
    return EXIT_OK


def cmd_report(args) -> int:
    from datetime import timedelta

    from jobs.dates import local_today, parse_day
    from jobs.ledger import Ledger
    from jobs.report import render_html, render_json, report_data

    settings = _settings(args)
    job = config_mod.load_named(settings.config_dir, args.job)
    ledger = Ledger(settings.state_url)
    today = local_today(_now(), job.tz)
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
    data = report_data(job, ledger.latest_per_day(job.name, start, end), start, end)
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

    settings = _settings(args)
    ledger = Ledger(settings.state_url)
    now = _now()
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
            _next_fire(job, now),
            f"{job.pipeline.name}@{job.pipeline.version} {job.engine}",
        ])
    _print_table(["job", "schedule", "last run", "next fire", "pipeline"], table)
    return EXIT_OK


def _next_fire(job, now: datetime) -> str:
    if not job.schedule:
        return ""
    from jobs.schedule import next_fire

    fire = next_fire(job.schedule, job.tz, now)
    return f"{fire:%Y-%m-%d %H:%M %Z}" if fire else ""


def cmd_scheduler(args) -> int:
    import threading

    from jobs.scheduler import DEFAULT_GRACE_S, Daemon, log_to_file

    settings = _settings(args)
    config_mod.job_names(settings.config_dir)  # a wrong config dir fails before anything is created
    log_to_file(settings.log_dir)
    stop, hup = threading.Event(), threading.Event()

    def on_stop(signum, frame):
        log.info("received %s: stopping", signal.Signals(signum).name)
        stop.set()

    daemon = Daemon(settings, second=args.seconds, grace_s=DEFAULT_GRACE_S if args.grace is None else args.grace)
    previous = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)}
    signal.signal(signal.SIGTERM, on_stop)
    signal.signal(signal.SIGINT, on_stop)
    signal.signal(signal.SIGHUP, lambda signum, frame: hup.set())
    try:
        daemon.start()
        daemon.serve(stop, hup)
    finally:
        daemon.shutdown()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return EXIT_OK


def cmd_crontab(args) -> int:
    import shutil

    from jobs.crontab import batchscore_command, crontab_lines, render, system_timezone

    settings = _settings(args)
    jobs = [config_mod.load_named(settings.config_dir, name) for name in config_mod.job_names(settings.config_dir)]
    lines = crontab_lines(
        jobs,
        batchscore=batchscore_command(sys.executable, shutil.which("batchscore")),
        config_dir=settings.config_dir,
        log_dir=settings.log_dir,
        system_tz=system_timezone(),
    )
    text = render(lines, settings.config_dir)
    if args.write:
        path = settings.project_root / "scripts" / "crontab"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        print(f"wrote {path}; install it with: crontab {path}")
    else:
        print(text, end="")
    return EXIT_OK


def cmd_validate(args) -> int:
    from jobs.validate import validate_job

    settings = _settings(args)
    names = [args.job] if args.job else config_mod.job_names(settings.config_dir)
    worst = EXIT_OK
    for name in names:
        try:
            job = config_mod.load_named(settings.config_dir, name)
            day = _day(job, args.date) if args.date else None
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
    from jobs.demo import run_demo

    settings = _settings(args)
    for line in run_demo(settings, date.fromisoformat(args.date)):
        print(line, flush=True)
    return EXIT_OK


def cmd_pipeline_list(args) -> int:
    from pipelines.registry import Registry

    registry = Registry(_settings(args).models_root)
    table = []
    for name in registry.names():
        aliases = registry.aliases(name)
        for mv in registry.versions(name):
            tags = ",".join(a for a, v in sorted(aliases.items()) if v == mv.version)
            table.append([name, str(mv.version), tags, mv.task, mv.created_at[:19], _metrics_text(mv.metrics)])
    _print_table(["model", "version", "aliases", "task", "created_at", "metrics"], table)
    return EXIT_OK


def cmd_pipeline_show(args) -> int:
    from pipelines.registry import Registry

    registry = Registry(_settings(args).models_root)
    mv = registry.resolve(args.name, args.version)
    record = {
        "name": mv.name,
        "version": mv.version,
        "aliases": sorted(a for a, v in registry.aliases(mv.name).items() if v == mv.version),
        "task": mv.task,
        "classes": list(mv.classes) if mv.classes else None,
        "sha256": mv.sha256,
        "features": [{"name": f.name, "dtype": f.dtype} for f in mv.features],
        "library_versions": mv.library_versions,
        "metrics": mv.metrics,
        "reference": mv.reference,
        "created_at": mv.created_at,
        "path": str(mv.model_path),
    }
    print(json.dumps(record, indent=2, default=str))
    return EXIT_OK


def cmd_pipeline_register(args) -> int:
    from pipelines.registry import Registry

    registry = Registry(_settings(args).models_root)
    frame = None
    if args.training_data is not None:
        frame = _read_training(args.training_data)
    version = registry.register_file(args.name, args.file, alias=args.alias, training_frame=frame)
    log.info("registered %s v%d%s", args.name, version, f" as {args.alias}" if args.alias else "")
    print(version)
    return EXIT_OK


def _read_training(path: Path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        return pq.read_table(path).to_pandas()
    except (OSError, pa.ArrowInvalid) as exc:
        raise UsageError(f"cannot read training data {path}: {exc}", hint="give a Parquet file") from exc


def cmd_pipeline_promote(args) -> int:
    from pipelines.registry import Registry

    registry = Registry(_settings(args).models_root)
    registry.promote(args.name, args.version, args.alias)
    print(f"{args.name}: {args.alias} -> v{int(args.version)}")
    return EXIT_OK


# --- printing ------------------------------------------------------------------------------

def _print_table(headers: list[str], rows: list[list[str]]) -> None:
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(headers)]
    print("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip())
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())


def _quality_columns(stats: dict | None) -> list[str]:
    """The run's quality verdict and its score PSI against the training reference and the
    previous succeeded day (blank where not measured)."""
    stats = stats or {}
    verdict = (stats.get("quality") or {}).get("verdict", "")
    drift = stats.get("drift") or {}
    psi = [drift.get("psi_reference"), drift.get("psi_previous")]
    return [verdict, *("" if v is None else f"{v:.3f}" for v in psi)]


def _blank(value) -> str:
    return "" if value is None else str(value)


def _json_value(value):
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    return value


def _metrics_text(metrics: dict) -> str:
    return " ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in sorted(metrics.items()))


if __name__ == "__main__":
    sys.exit(main())
