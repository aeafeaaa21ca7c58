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
from jobs.commands.views import cmd_list, cmd_report, cmd_status
from jobs.errors import EXIT_FAILED, EXIT_LOCKED, EXIT_NO_INPUT, EXIT_OK, EXIT_USAGE, BatchScoreError

log = logging.getLogger("batchscore")


class Terminated(BaseException):
    """SIGTERM: unwinds like Ctrl-C, so the run's transaction rolls back and the ledger
    records the failure."""


EXIT_MEANINGS = {
    EXIT_OK: "done, or skipped because the day already succeeded",
    EXIT_FAILED: "the run failed: data that does not fit the model, a changed model file, a failed write",
    EXIT_USAGE: "usage or config error: unknown job, bad date, unknown key, bad table name",
    EXIT_LOCKED: "the same job and day is being scored by a live process (--force never overrides it)",
    EXIT_NO_INPUT: "no input rows for the day: upstream is not ready",
}


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.log_file is not None:
        from jobs.logfile import redirect_output

        try:
            redirect_output(args.log_file)
        except OSError as exc:
            print(f"error: cannot write the log file {args.log_file}: {exc.strerror} (give a writable path)", file=sys.stderr)
            return EXIT_USAGE
        sys.stdout.reconfigure(line_buffering=True)  # its lines in order with stderr's, in the one file
    _setup_logging(args.verbose)
    code = _dispatch(parser, args)
    if args.log_file is not None:  # a cron fire's last line: how it ended
        sys.stdout.flush()
        command = " ".join(sys.argv[1:] if argv is None else argv)
        log.info("exit %d (%s): batchscore %s", code, EXIT_MEANINGS.get(code, "interrupted"), command)
    return code


def _dispatch(parser: argparse.ArgumentParser, args) -> int:
    if not getattr(args, "handler", None):
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    previous = signal.getsignal(signal.SIGTERM)
    if _in_main_thread():
        signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        code = args.handler(args)
        sys.stdout.flush()  # a reader that went away shows here, not at exit
        return code
    except BatchScoreError as exc:
        _report(args, exc, str(exc))
        return exc.exit_code
    except BrokenPipeError:  # the reader went away (``| head``): nothing left to say, to no one
        _silence_stdout()
        return EXIT_OK
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


def _silence_stdout() -> None:
    import os

    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())  # Python's flush at exit would raise again
    os.close(devnull)


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
    from jobs.logfile import LOG_FORMAT, UTCFormatter
    from jobs.progress import ClearBar

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(UTCFormatter(LOG_FORMAT))
    handler.addFilter(ClearBar())  # a live progress bar is wiped before a log line is written
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, handlers=[handler], force=True)
    for noisy in ("py4j", "sqlalchemy.engine"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


# --- parser ------------------------------------------------------------------------------

def build_parser() -> argparse.ArgumentParser:
    # The global flags are accepted before and after the command. The commands' copies default
    # to SUPPRESS: argparse would otherwise reset a flag given before the command to None.
    top = _global_flags(argparse.ArgumentParser(add_help=False), defaults=True)
    common = _global_flags(argparse.ArgumentParser(add_help=False), defaults=False)

    parser = argparse.ArgumentParser(
        prog="batchscore", description="Batch scoring jobs.", parents=[top],
        formatter_class=argparse.RawDescriptionHelpFormatter, epilog=_exit_code_table(),
    )
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")

    p = sub.add_parser("run", parents=[common], help="score one day of a job")
    p.add_argument("job", help=_JOB_HELP)
    p.add_argument("--date", help="the day to score: YYYY-MM-DD, today or yesterday, in the job's timezone (default: the job's score_date)")
    p.add_argument("--engine", choices=["pandas", "spark"], help="instead of the job's engine")
    p.add_argument("--pipeline-version", help="a version number or alias instead of the job's")
    p.add_argument("--force", action="store_true", help="score the day again even if it succeeded")
    p.add_argument("--workers", type=_positive_int, help="processes scoring chunks (default: the job's workers)")
    p.set_defaults(handler=cmd_run)

    p = sub.add_parser("backfill", parents=[common], help="score every day of a range")
    p.add_argument("job", help=_JOB_HELP)
    p.add_argument("--start", required=True, help="first day: YYYY-MM-DD, today or yesterday")
    p.add_argument("--end", required=True, help="last day, included: YYYY-MM-DD, today or yesterday")
    p.add_argument("--workers", type=_positive_int, default=1, help="days scored at once, in separate processes")
    p.add_argument("--engine", choices=["pandas", "spark"], help="instead of the job's engine (spark: one context for all days)")
    p.add_argument("--pipeline-version", help="a version number or alias instead of the job's")
    p.add_argument("--force", action="store_true", help="score days again even if they succeeded")
    p.add_argument("--dry-run", action="store_true", help="list the days and what would be done")
    p.set_defaults(handler=cmd_backfill)

    p = sub.add_parser("status", parents=[common], help="the run ledger of a job, newest first")
    p.add_argument("job", help=_JOB_HELP)
    p.add_argument("--last", type=_positive_int, default=20, metavar="N", help="the N newest runs (default 20)")
    p.add_argument("--format", choices=["table", "json"], default="table", help="table (times in UTC) or json (default table)")
    p.set_defaults(handler=cmd_status)

    p = sub.add_parser("report", parents=[common], help="rows, rejects, score drift and model per day, as HTML or JSON")
    p.add_argument("job", help=_JOB_HELP)
    p.add_argument("--start", help="first day (default: 30 days before --end)")
    p.add_argument("--end", help="last day (default: the newest day in the ledger)")
    p.add_argument("--out", type=Path, help="write to this file (default: stdout)")
    p.add_argument("--format", choices=["html", "json"], default="html", help="html (default) or json")
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
    p.add_argument("--write", action="store_true",
                   help="write them to data/crontab (this checkout's, to install) and scripts/crontab (portable, committed)")
    p.add_argument("--cron-tz", action="store_true",
                   help="precede a job in another time zone by CRON_TZ= (cronie) instead of converting its "
                        "schedule to the system's zone (Debian's cron ignores CRON_TZ)")
    p.set_defaults(handler=cmd_crontab)

    p = sub.add_parser("validate", parents=[common], help="check config, source, pipeline and columns")
    p.add_argument("job", nargs="?", help="one job (default: every job of the config dir)")
    p.add_argument("--date", help="also check that the source has rows for this day (YYYY-MM-DD, today or yesterday) "
                                  "and that its first chunk has the pipeline's column types, as run checks it")
    p.set_defaults(handler=cmd_validate)

    p = sub.add_parser("demo", parents=[common], help="build the sample warehouse, train, score a day, show it")
    p.add_argument("--date", help="the day to score, YYYY-MM-DD (default: yesterday; the sample data ends there)")
    p.set_defaults(handler=cmd_demo)

    p = sub.add_parser("pipeline", parents=[common], help="the model registry")
    psub = p.add_subparsers(title="registry commands", metavar="ACTION")
    q = psub.add_parser("list", parents=[common], help="models, versions and aliases")
    q.set_defaults(handler=cmd_pipeline_list)
    q = psub.add_parser("show", parents=[common], help="every version and alias of a model, or one version's record")
    q.add_argument("name", help="the model's name")
    q.add_argument("version", nargs="?", help="a version number or alias (default: every version, and the aliases)")
    q.set_defaults(handler=cmd_pipeline_show)
    q = psub.add_parser("register", parents=[common], help="register a fitted pipeline file")
    q.add_argument("name", help="the model's name")
    q.add_argument("file", type=Path, help="a fitted scikit-learn pipeline saved with joblib")
    q.add_argument("--alias", help="point this alias (e.g. staging) at the new version")
    q.add_argument("--training-data", type=Path, help="Parquet of the training features")
    q.set_defaults(handler=cmd_pipeline_register)
    q = psub.add_parser("promote", parents=[common], help="point an alias at a version")
    q.add_argument("name", help="the model's name")
    q.add_argument("version", help="the version number")
    q.add_argument("alias", help="the alias to move, e.g. production")
    q.set_defaults(handler=cmd_pipeline_promote)
    return parser


_JOB_HELP = "the job's name (its file in the config dir is NAME.yaml)"


def _exit_code_table() -> str:
    rows = "\n".join(f"  {code}  {meaning}" for code, meaning in EXIT_MEANINGS.items())
    return f"exit codes:\n{rows}\n\nlogs go to stderr, times in UTC; on failure the last stderr line is 'error: JOB DAY: ...'"


def _global_flags(parser: argparse.ArgumentParser, *, defaults: bool) -> argparse.ArgumentParser:
    none, false = (None, False) if defaults else (argparse.SUPPRESS, argparse.SUPPRESS)
    parser.add_argument("--config-dir", default=none, help="job files (default: $BATCHSCORE_CONFIG_DIR or configs)")
    parser.add_argument(
        "--state-url", default=none,
        help="run ledger and locks (default: $BATCHSCORE_STATE_URL or sqlite:///data/batchscore.db)",
    )
    parser.add_argument("--models", default=none, help="model registry root (default: $BATCHSCORE_MODELS or data/models)")
    parser.add_argument("-v", "--verbose", action="store_true", default=false, help="debug logs and tracebacks")
    parser.add_argument(
        "--log-file", type=Path, default=none, metavar="FILE",
        help="append stdout and stderr to FILE (rotated past 10 MB, 5 old files kept) and end with a line "
             "naming the exit code; what the crontab lines use",
    )
    return parser


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be 1 or more")
    return value

