"""The command line: parses argv, runs a command (``jobs.commands``), and turns every error
into one last stderr line naming the job, the day and what to do, with the exit code of its
kind (``jobs.errors``); ``--verbose`` adds the traceback. Only the command line prints.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from pathlib import Path

from jobs.commands.pipelines import cmd_pipeline_list, cmd_pipeline_promote, cmd_pipeline_register, cmd_pipeline_show
from jobs.commands.runs import cmd_backfill, cmd_demo, cmd_run, cmd_validate
from jobs.commands.schedule import cmd_crontab, cmd_scheduler
from jobs.commands.serve import cmd_parity, cmd_publish, cmd_serve
from jobs.commands.views import cmd_list, cmd_report, cmd_status
from jobs.errors import EXIT_FAILED, EXIT_USAGE, BatchScoreError

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

    p = sub.add_parser("serve", parents=[common], help="score online over HTTP with every job's pipeline")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1; any other needs BATCHSCORE_SERVE_TOKEN)")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--workers", type=_positive_int, default=1, help="server processes (default 1)")
    p.set_defaults(handler=cmd_serve)

    p = sub.add_parser("parity", parents=[common], help="replay a day's rows online and compare with its committed scores")
    p.add_argument("job")
    p.add_argument("--date", required=True, help="YYYY-MM-DD, today or yesterday")
    p.add_argument("--sample", type=_positive_int, default=1000, help="source rows replayed (default 1000)")
    p.add_argument("--url", help="a running server (default: the online path in this process)")
    p.add_argument("--tolerance", type=float, default=1e-12, help="largest absolute difference allowed (default 1e-12)")
    p.set_defaults(handler=cmd_parity)

    p = sub.add_parser("publish", parents=[common], help="publish a committed day's scores by id (publish: in the job)")
    p.add_argument("job")
    p.add_argument("--date", required=True, help="YYYY-MM-DD, today or yesterday")
    p.set_defaults(handler=cmd_publish)

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

