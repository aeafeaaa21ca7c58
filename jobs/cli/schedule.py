"""Commands that run jobs on their schedules: the scheduler daemon, the crontab."""

from __future__ import annotations

import logging
import signal
import sys

from jobs import config as config_mod
from jobs.cli.common import resolve_settings
from jobs.errors import EXIT_OK
from pipelines.basics import utcnow

log = logging.getLogger("batchscore")

CRON_MAX_LINE = 1000  # Debian's cron 3.0pl1 cuts a command line at this length (MAX_COMMAND)


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
    """Crontab lines for every scheduled job; ``--write``: the portable scripts/crontab and
    this checkout's data/crontab. A broken job file is reported and the others still written."""
    import os
    import shutil

    from jobs.schedule.crontab import HOME_PLACEHOLDER, batchscore_command, crontab_lines, render, system_timezone
    from pipelines.envfile import ENV_FILE_VAR, env_file_path
    from jobs.errors import BatchScoreError, ConfigError

    settings = resolve_settings(args)
    home = settings.project_root
    jobs, broken = [], []
    for name in config_mod.job_names(settings.config_dir):
        try:
            jobs.append(config_mod.load_named(settings.config_dir, name))
        except BatchScoreError as exc:
            broken.append((name, exc))
    system_tz = system_timezone()
    lines = crontab_lines(
        jobs,
        batchscore=batchscore_command(sys.executable, shutil.which("batchscore"), home),
        home=home,
        config_dir=settings.config_dir,
        log_dir=settings.log_dir,
        system_tz=system_tz,
        now=utcnow(),
        flags=_carried_flags(args, settings),
        cron_tz=args.cron_tz,
    )
    lines += [f"# {name}: not scheduled, its job file is broken: {exc}" for name, exc in broken]
    for line in lines:
        if len(line) >= CRON_MAX_LINE:
            log.warning("a crontab line has %d characters; Debian's cron reads at most %d: %s...", len(line), CRON_MAX_LINE, line[:80])
    if os.environ.get(ENV_FILE_VAR):  # cron would not know which env file the shell named
        lines.insert(0, f"{ENV_FILE_VAR}={env_file_path(home, os.environ)}")
    _warn_of_what_cron_lacks(args, settings)
    text = render(lines, str(home), system_tz, args.cron_tz)
    if args.write:
        portable_text = render(lines, HOME_PLACEHOLDER, system_tz, args.cron_tz)
        written = []
        for path, content in ((home / "scripts" / "crontab", portable_text), (home / "data" / "crontab", text)):
            path.parent.mkdir(parents=True, exist_ok=True)
            if not path.exists() or path.read_text() != content:  # an unchanged tracked file stays clean
                path.write_text(content)
            written.append(path)
        print(f"wrote {written[0]} (portable) and {written[1]}; install it with: crontab {written[1]}")
    else:
        print(text, end="")
    if broken:
        names = ", ".join(name for name, _ in broken)
        raise ConfigError(f"{len(broken)} broken job file(s), not in the crontab: {names}", hint="see the comments at the end; the other jobs' lines were written")
    return EXIT_OK


def _carried_flags(args, settings) -> list[str]:
    """The ``--state-url`` and ``--models`` given to ``crontab``, as shell words for its lines."""
    from jobs.schedule.crontab import portable
    from jobs.db import parse_url

    flags = []
    if args.state_url:
        flags += ["--state-url", _portable_url(settings.state_url, settings.project_root)]
        if parse_url(settings.state_url).password:
            log.warning("the password of --state-url is written into every crontab line: set BATCHSCORE_STATE_URL in the env file (.env) instead")
    if args.models:
        flags += ["--models", portable(settings.models_root, settings.project_root)]
    return flags


def _warn_of_what_cron_lacks(args, settings) -> None:
    """A warning per ``${VAR}`` of the job files and per BATCHSCORE_* setting of this shell
    that the env file does not give: cron starts its lines without the shell's environment."""
    import os

    from jobs.schedule.crontab import unset_under_cron
    from pipelines.envfile import env_file_path, read_env_file
    from pipelines.settings import ENV_VARS

    env_file = env_file_path(settings.project_root, os.environ)
    in_file = read_env_file(env_file)
    files = {p.name: p.read_text() for p in sorted(settings.config_dir.glob("*.y*ml")) if p.is_file()}
    for warning in unset_under_cron(files, env_file, in_file, dict(os.environ)):
        log.warning("%s", warning)
    for key, var in ENV_VARS.items():  # --config-dir is always carried; the others only when given
        if key != "config_dir" and os.environ.get(var) and var not in in_file and not getattr(args, key, None):
            log.warning("%s is set in this shell but not in %s: cron runs will not see it (put it there)", var, env_file)


def _portable_url(url: str, home) -> str:
    """A SQLite URL of a file under ``home`` as shell text relative to ``$BATCHSCORE_HOME``."""
    import shlex
    from pathlib import Path

    from jobs.schedule.crontab import portable

    prefix, sep, rest = url.partition(":///")
    if sep and prefix.split("+")[0] == "sqlite" and rest.startswith("/"):
        text = portable(Path(rest), home)
        if text.startswith('"$'):
            return f"{prefix}:///{text}"
    return shlex.quote(url)
