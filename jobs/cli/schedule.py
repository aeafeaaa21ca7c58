"""Commands that run jobs on their schedules: the scheduler daemon, the crontab."""

from __future__ import annotations

import logging
import signal
import sys

from jobs import config as config_mod
from jobs.cli.common import resolve_settings
from jobs.errors import EXIT_OK

log = logging.getLogger("batchscore")


def cmd_scheduler(args) -> int:
    import threading

    from jobs.schedule.daemon import DEFAULT_GRACE_S, Daemon, log_to_file

    settings = resolve_settings(args)
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

    from jobs.schedule.crontab import batchscore_command, crontab_lines, render, system_timezone, training_lines

    settings = resolve_settings(args)
    jobs = [config_mod.load_named(settings.config_dir, name) for name in config_mod.job_names(settings.config_dir)]
    where = {
        "batchscore": batchscore_command(sys.executable, shutil.which("batchscore")),
        "config_dir": settings.config_dir, "log_dir": settings.log_dir, "system_tz": system_timezone(),
    }
    lines = crontab_lines(jobs, **where) + training_lines(jobs, **where)
    text = render(lines, settings.config_dir)
    if args.write:
        path = settings.project_root / "scripts" / "crontab"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        print(f"wrote {path}; install it with: crontab {path}")
    else:
        print(text, end="")
    return EXIT_OK

