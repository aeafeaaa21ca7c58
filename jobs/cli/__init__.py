"""The command line: parses argv, runs a command (a module of ``jobs.cli`` per group), and turns every error
into one last stderr line naming the job, the day and what to do, with the exit code of its
kind (``jobs.errors``); ``--verbose`` adds the traceback. Only the command line prints.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys

from jobs.cli.parser import EXIT_MEANINGS, build_parser
from jobs.errors import EXIT_FAILED, EXIT_OK, EXIT_USAGE, BatchScoreError

log = logging.getLogger("batchscore")


class Terminated(BaseException):
    """SIGTERM: unwinds like Ctrl-C, so the run's transaction rolls back and the ledger
    records the failure."""


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
    from jobs.cli.progress import ClearBar

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(UTCFormatter(LOG_FORMAT))
    handler.addFilter(ClearBar())  # a live progress bar is wiped before a log line is written
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, handlers=[handler], force=True)
    for noisy in ("py4j", "sqlalchemy.engine"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
