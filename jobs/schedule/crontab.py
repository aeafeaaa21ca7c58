"""``batchscore crontab``: one cron line per scheduled job, generated from the job files.

Each line runs ``batchscore --log-file LOG_DIR/JOB.log run JOB --config-dir DIR --date
yesterday|today`` (plus the ``--state-url``/``--models`` given to ``crontab``) by paths under
``$BATCHSCORE_HOME``, assigned at the top of the file (cron's PATH and working directory are
not the user's; cron hands each line to ``/bin/sh``, which expands it). The job's schedule is
converted to the system's time zone (``jobs.schedule.cron_tz``: guarded lines where daylight saving
changes the conversion), since Debian's cron ignores ``CRON_TZ=``; with ``cron_tz=True`` a
job whose zone is not the system's is preceded by ``CRON_TZ=`` instead (cronie). Pure: the
paths, the system time zone and ``now`` are parameters.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Iterable, Sequence
from datetime import datetime
from pathlib import Path

from jobs.config import JobConfig
from jobs.schedule.cron_tz import convert

HOME_VAR = "BATCHSCORE_HOME"
HOME_PLACEHOLDER = "/path/to/batchscore"  # the committed scripts/crontab: `crontab --write` fills in data/crontab

HEADER = """\
# batchscore jobs, generated from the job files by `batchscore crontab --write`.
# Do not edit by hand: change the job files and generate again.
# scripts/crontab (committed) names no machine's paths; data/crontab is this checkout's copy:
# Install (replaces the user's crontab):   crontab data/crontab
# Append to an existing crontab instead:   (crontab -l; cat data/crontab) | crontab -
# {zones}
# Each fire appends to its log (rotated) and ends with a line naming its exit code.
# Settings and secrets (WAREHOUSE_URL, BATCHSCORE_STATE_URL...) go in $BATCHSCORE_HOME/.env.
"""


def crontab_lines(
    jobs: Iterable[JobConfig],
    *,
    batchscore: str,
    home: Path,
    config_dir: Path,
    log_dir: Path,
    system_tz: str,
    now: datetime,
    flags: Sequence[str] = (),
    cron_tz: bool = False,
) -> list[str]:
    """The crontab body: a comment and the lines of each scheduled job (``run``) and of each
    ``training.schedule`` (``train``). ``batchscore`` is the command (shell text); ``flags``
    are global flags carried into every line (shell words)."""
    lines: list[str] = []
    current_tz = system_tz

    def schedule_lines(schedule: str, zone: str, command: str) -> None:
        nonlocal current_tz
        if cron_tz:
            if not same_zone(zone, current_tz):
                lines.append(f"CRON_TZ={zone}")
                current_tz = zone
            lines.append(cron_line(schedule, command))
        else:
            lines.extend(system_zone_lines(schedule, zone, command, system_tz=system_tz, now=now))

    def command(verb: str, job: JobConfig, log_name: str, date_word: str) -> str:
        return " ".join([
            batchscore, "--log-file", portable(log_dir / log_name, home), verb, shlex.quote(job.name),
            "--config-dir", portable(config_dir, home), *flags, "--date", date_word,
        ])

    for job in sorted(jobs, key=lambda j: j.name):
        if job.schedule is None:
            lines.append(f"# {job.name}: no schedule (manual-only job)")
        else:
            lines.append(f"# {job.name}: {job.pipeline.name}@{job.pipeline.version}, scores {job.score_date}, {job.schedule} in {job.timezone}")
            schedule_lines(job.schedule, job.timezone, command("run", job, f"{job.name}.log", job.score_date))
        if job.training is not None and job.training.schedule is not None:
            lines.append(f"# {job.name}: trains {job.pipeline.name} into {job.training.alias}, {job.training.schedule} in {job.timezone}")
            schedule_lines(job.training.schedule, job.timezone, command("train", job, f"{job.name}.train.log", "today"))
    if not same_zone(current_tz, system_tz):
        lines.append(f"CRON_TZ={system_tz}")
    return lines


def system_zone_lines(schedule: str, job_tz: str, command: str, *, system_tz: str, now: datetime) -> list[str]:
    """The lines running ``command`` (shell text) on ``schedule`` of ``job_tz`` under a cron
    in ``system_tz``: as is in the same zone, else converted (``jobs.schedule.cron_tz``)."""
    if same_zone(job_tz, system_tz):
        return [cron_line(schedule, command)]
    return [cron_line(line.fields, line.command(command)) for line in convert(schedule, job_tz, system_tz, now)]


def cron_line(fields: str, command: str) -> str:
    # cron turns an unescaped % into a newline.
    return f"{fields} {command.replace('%', chr(92) + '%')}"


def portable(path: Path, home: Path) -> str:
    """``path`` as shell text: under ``home``, relative to ``$BATCHSCORE_HOME``."""
    try:
        rel = path.relative_to(home)
    except ValueError:
        return shlex.quote(str(path))
    return f'"${HOME_VAR}"' + ("" if str(rel) == "." else "/" + shlex.quote(str(rel)))


_UTC_NAMES = {"UTC", "Etc/UTC", "Etc/UCT", "UCT", "Universal", "Etc/Universal", "Zulu", "Etc/Zulu"}


def same_zone(a: str, b: str) -> bool:
    return a == b or (a in _UTC_NAMES and b in _UTC_NAMES)


def render(lines: list[str], home: str, system_tz: str, cron_tz: bool = False) -> str:
    """The whole file; ``home`` is the checkout's root (or ``HOME_PLACEHOLDER``)."""
    zones = (
        "CRON_TZ needs cronie (RHEL, Fedora, Arch) or another cron that honours it."
        if cron_tz else
        f"Times are in the system's time zone, {system_tz} (cron's); each job's own zone is in its comment."
    )
    return HEADER.format(zones=zones) + f"\nSHELL=/bin/sh\n{HOME_VAR}={home}\n" + "\n".join(lines) + "\n"


def batchscore_command(executable: str, which: str | None, home: Path | None = None) -> str:
    """A command for ``batchscore`` (absolute, or under ``$BATCHSCORE_HOME`` when within
    ``home``): the console script beside ``executable`` (the venv's python, not resolved, so
    the venv stays in use), else ``which``, else ``python -m jobs``."""
    def text(path: Path) -> str:
        return portable(path.absolute(), home) if home is not None else shlex.quote(str(path.absolute()))

    beside = Path(executable).parent / "batchscore"
    if beside.is_file() and os.access(beside, os.X_OK):
        return text(beside)
    if which:
        return text(Path(which))
    return f"{text(Path(executable))} -m jobs"


def system_timezone(etc: Path = Path("/etc")) -> str:
    """The IANA name of the time zone cron runs in: /etc/timezone, /etc/localtime, else UTC."""
    try:
        name = (etc / "timezone").read_text().strip()
        if name:
            return name
    except OSError:
        pass
    try:
        target = os.readlink(etc / "localtime")
    except OSError:
        return "UTC"
    marker = "zoneinfo/"
    return target[target.index(marker) + len(marker):] if marker in target else "UTC"


# Variables cron gives every line itself (Debian's cron: these, and the crontab's assignments).
CRON_VARS = frozenset({"PATH", "HOME", "SHELL", "LOGNAME", "USER", HOME_VAR})


def unset_under_cron(files: dict[str, str], env_file: Path, env_file_vars: Iterable[str], shell: dict[str, str]) -> list[str]:
    """A warning per ``${VAR}`` of ``files`` (name -> text) that cron will not have: not in the
    env file nor given by cron, so a line expands it differently from the user's shell."""
    from pipelines.envfile import ENV_REF

    known = CRON_VARS | set(env_file_vars)
    warnings = []
    for name, text in files.items():
        for var in dict.fromkeys(m.group(1) for m in ENV_REF.finditer(text)):
            if var in known:
                continue
            default = next((m.group(2) for m in ENV_REF.finditer(text) if m.group(1) == var and m.group(2) is not None), None)
            here = " (this shell has it)" if shell.get(var) else ""
            then = f"the default {default} is used" if default is not None else "the job fails (config error)"
            warnings.append(f"{name}: ${{{var}}} is not in {env_file}{here}: under cron {then}")
    return warnings
