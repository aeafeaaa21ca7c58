"""The command line's grammar: global flags (before or after the command), one function per
command group, the exit-code table of ``--help``."""

from __future__ import annotations

import argparse
from pathlib import Path

from jobs.cli.lifecycle import cmd_evaluate, cmd_pipeline_history, cmd_pipeline_promote, cmd_train
from jobs.cli.pipelines import cmd_pipeline_list, cmd_pipeline_register, cmd_pipeline_show
from jobs.cli.runs import cmd_backfill, cmd_demo, cmd_run, cmd_validate
from jobs.cli.schedule import cmd_crontab, cmd_scheduler
from jobs.cli.serve import cmd_parity, cmd_publish, cmd_serve
from jobs.cli.views import cmd_list, cmd_report, cmd_status
from jobs.errors import EXIT_FAILED, EXIT_LOCKED, EXIT_NO_INPUT, EXIT_OK, EXIT_USAGE
from jobs.vocabulary import ENGINES, RUNTIMES, SKLEARN, workers_setting

EXIT_MEANINGS = {
    EXIT_OK: "done, or skipped because the day already succeeded",
    EXIT_FAILED: "the run failed: data that does not fit the model, a changed model file, a failed write",
    EXIT_USAGE: "usage or config error: unknown job, bad date, unknown key, bad table name, unknown pipeline version",
    EXIT_LOCKED: "the same job and day is being scored by a live process (--force never overrides it)",
    EXIT_NO_INPUT: "no input rows for the day: upstream is not ready",
}


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
    for group in (_run_commands, _view_commands, _schedule_commands, _lifecycle_commands, _serve_commands, _pipeline_commands):
        group(sub, common)
    return parser


def _run_commands(sub, common: argparse.ArgumentParser) -> None:
    """Scoring days: run, backfill, validate, demo."""
    p = sub.add_parser("run", parents=[common], help="score one day of a job")
    p.add_argument("job", help=_JOB_HELP)
    p.add_argument("--date", help="the day to score: YYYY-MM-DD, today or yesterday, in the job's timezone (default: the job's score_date)")
    p.add_argument("--engine", choices=ENGINES, help="instead of the job's engine")
    p.add_argument("--pipeline-version", help="a version number or alias instead of the job's")
    p.add_argument("--force", action="store_true", help="score the day again even if it succeeded")
    p.add_argument("--workers", type=_workers, help="processes scoring chunks, or auto (default: the job's workers)")
    p.set_defaults(handler=cmd_run)

    p = sub.add_parser("backfill", parents=[common], help="score every day of a range")
    p.add_argument("job", help=_JOB_HELP)
    p.add_argument("--start", required=True, help="first day: YYYY-MM-DD, today or yesterday")
    p.add_argument("--end", required=True, help="last day, included: YYYY-MM-DD, today or yesterday")
    p.add_argument("--workers", type=_positive_int, default=1, help="days scored at once, in separate processes")
    p.add_argument("--engine", choices=ENGINES, help="instead of the job's engine (spark: one context for all days)")
    p.add_argument("--pipeline-version", help="a version number or alias instead of the job's")
    p.add_argument("--force", action="store_true", help="score days again even if they succeeded")
    p.add_argument("--dry-run", action="store_true", help="list the days and what would be done")
    p.set_defaults(handler=cmd_backfill)

    p = sub.add_parser("validate", parents=[common], help="check config, source, pipeline and columns")
    p.add_argument("job", nargs="?", help="one job (default: every job of the config dir)")
    p.add_argument("--date", help="also check that the source has rows for this day (YYYY-MM-DD, today or yesterday) "
                                  "and that its first chunk has the pipeline's column types, as run checks it")
    p.set_defaults(handler=cmd_validate)

    p = sub.add_parser("demo", parents=[common], help="build the sample warehouse, train, score a day, show it")
    p.add_argument("--date", help="the day to score, YYYY-MM-DD (default: yesterday; the sample data ends there)")
    p.set_defaults(handler=cmd_demo)


def _view_commands(sub, common: argparse.ArgumentParser) -> None:
    """Reading the ledger: status, report, list."""
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


def _schedule_commands(sub, common: argparse.ArgumentParser) -> None:
    """Running on schedules: the daemon, the crontab."""
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


def _lifecycle_commands(sub, common: argparse.ArgumentParser) -> None:
    """A model's life: train, evaluate."""
    p = sub.add_parser("train", parents=[common], help="fit, measure and register a new version (training:)")
    p.add_argument("job", help=_JOB_HELP)
    p.add_argument("--date", help="the train date: the window ends the day before (default: today)")
    p.set_defaults(handler=cmd_train)

    p = sub.add_parser("evaluate", parents=[common], help="realized metrics: matured labels joined to stored scores")
    p.add_argument("job", help=_JOB_HELP)
    p.add_argument("--start", help="first day (default: 29 days before --end)")
    p.add_argument("--end", help="last day (default: the last day whose labels matured)")
    p.set_defaults(handler=cmd_evaluate)


def _serve_commands(sub, common: argparse.ArgumentParser) -> None:
    """Online scoring: serve, parity, publish."""
    p = sub.add_parser("serve", parents=[common], help="score online over HTTP with every job's pipeline")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1; any other needs BATCHSCORE_SERVE_TOKEN)")
    p.add_argument("--port", type=int, default=8000, help="port to listen on (default 8000)")
    p.add_argument("--workers", type=_positive_int, default=1, help="server processes (default 1)")
    p.set_defaults(handler=cmd_serve)

    p = sub.add_parser("parity", parents=[common], help="replay a day's rows online and compare with its committed scores")
    p.add_argument("job", help=_JOB_HELP)
    p.add_argument("--date", required=True, help="the scored day: YYYY-MM-DD, today or yesterday")
    p.add_argument("--sample", type=_positive_int, default=1000, help="source rows replayed (default 1000)")
    p.add_argument("--url", help="a running server (default: the online path in this process)")
    p.add_argument("--tolerance", type=float, default=1e-12, help="largest absolute difference allowed (default 1e-12; 0: bit-identical)")
    p.set_defaults(handler=cmd_parity)

    p = sub.add_parser("publish", parents=[common], help="publish a committed day's scores by id (publish: in the job)")
    p.add_argument("job", help=_JOB_HELP)
    p.add_argument("--date", required=True, help="the committed day: YYYY-MM-DD, today or yesterday")
    p.set_defaults(handler=cmd_publish)


def _pipeline_commands(sub, common: argparse.ArgumentParser) -> None:
    """The model registry: pipeline list, show, register, promote, history."""
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
    q.add_argument(
        "--runtime", choices=RUNTIMES, default=SKLEARN,
        help="treelite: compile the final tree model, refused unless it matches scikit-learn on --training-data",
    )
    q.set_defaults(handler=cmd_pipeline_register)
    q = psub.add_parser("promote", parents=[common], help="point an alias at a version")
    q.add_argument("name", help="the model's name")
    q.add_argument("version", help="the version number")
    q.add_argument("alias", help="the alias to move, e.g. production")
    q.add_argument("--gate", metavar="JOB", help="refuse unless the version passes the gate: of this job")
    q.add_argument("--force", action="store_true", help="promote even if the gate fails (needs --reason)")
    q.add_argument("--reason", help="why; recorded in the alias history")
    q.set_defaults(handler=cmd_pipeline_promote)
    q = psub.add_parser("history", parents=[common], help="every alias move of a model")
    q.add_argument("name", help="the model's name")
    q.set_defaults(handler=cmd_pipeline_history)


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


def _workers(text: str) -> int | str:
    try:
        return workers_setting(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be 1 or more")
    return value

