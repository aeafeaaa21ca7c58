"""``batchscore crontab``: one cron line per scheduled job, generated from the job files.

Each line runs ``batchscore run JOB --date yesterday|today`` by absolute paths (cron's PATH
and working directory are not the user's) and appends its output to ``LOG_DIR/JOB.log``.
A job whose time zone is not the system's is preceded by ``CRON_TZ=`` (cronie; the next job
line sets it back). Pure: the paths and the system time zone are parameters.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Iterable
from pathlib import Path

from jobs.config import JobConfig

HEADER = """\
# batchscore jobs, generated from {config_dir} by `batchscore crontab --write`.
# Do not edit by hand: change the job files and generate again.
# Install (replaces the user's crontab):   crontab scripts/crontab
# Append to an existing crontab instead:   (crontab -l; cat scripts/crontab) | crontab -
# CRON_TZ needs cronie (RHEL, Fedora, Arch) or another cron that honours it.
"""


def crontab_lines(jobs: Iterable[JobConfig], *, batchscore: str, config_dir: Path, log_dir: Path, system_tz: str) -> list[str]:
    """The crontab body: a comment, optional ``CRON_TZ=``, and a line per scheduled job."""
    lines: list[str] = []
    current_tz = system_tz
    for job in sorted(jobs, key=lambda j: j.name):
        if job.schedule is None:
            lines.append(f"# {job.name}: no schedule (manual-only job)")
            continue
        lines.append(f"# {job.name}: {job.pipeline.name}@{job.pipeline.version}, scores {job.score_date} in {job.timezone}")
        if not same_zone(job.timezone, current_tz):
            lines.append(f"CRON_TZ={job.timezone}")
            current_tz = job.timezone
        command = " ".join(
            [
                "mkdir -p",
                shlex.quote(str(log_dir)),
                "&&",
                batchscore,
                "run",
                shlex.quote(job.name),
                "--config-dir",
                shlex.quote(str(config_dir)),
                "--date",
                job.score_date,
                ">>",
                shlex.quote(str(log_dir / f"{job.name}.log")),
                "2>&1",
            ]
        )
        # cron turns an unescaped % into a newline.
        lines.append(f"{job.schedule} {command.replace('%', chr(92) + '%')}")
    if not same_zone(current_tz, system_tz):
        lines.append(f"CRON_TZ={system_tz}")
    return lines


def training_lines(jobs: Iterable[JobConfig], *, batchscore: str, config_dir: Path, log_dir: Path, system_tz: str) -> list[str]:
    """A ``batchscore train JOB --date today`` line per job with a ``training.schedule``."""
    lines: list[str] = []
    current_tz = system_tz
    for job in sorted(jobs, key=lambda j: j.name):
        if job.training is None or job.training.schedule is None:
            continue
        lines.append(f"# {job.name}: trains {job.pipeline.name} into {job.training.alias}, in {job.timezone}")
        if not same_zone(job.timezone, current_tz):
            lines.append(f"CRON_TZ={job.timezone}")
            current_tz = job.timezone
        command = " ".join([
            "mkdir -p", shlex.quote(str(log_dir)), "&&", batchscore, "train", shlex.quote(job.name),
            "--config-dir", shlex.quote(str(config_dir)), "--date", "today",
            ">>", shlex.quote(str(log_dir / f"{job.name}.train.log")), "2>&1",
        ])
        lines.append(f"{job.training.schedule} {command.replace('%', chr(92) + '%')}")
    if not same_zone(current_tz, system_tz):
        lines.append(f"CRON_TZ={system_tz}")
    return lines


_UTC_NAMES = {"UTC", "Etc/UTC", "Etc/UCT", "UCT", "Universal", "Etc/Universal", "Zulu", "Etc/Zulu"}


def same_zone(a: str, b: str) -> bool:
    return a == b or (a in _UTC_NAMES and b in _UTC_NAMES)


def render(lines: list[str], config_dir: Path) -> str:
    return HEADER.format(config_dir=config_dir) + "\n" + "\n".join(lines) + "\n"


def batchscore_command(executable: str, which: str | None) -> str:
    """An absolute command for ``batchscore``: the console script beside ``executable`` (the
    venv's python, not resolved, so the venv stays in use), else ``which``, else ``python -m jobs``."""
    beside = Path(executable).parent / "batchscore"
    if beside.is_file() and os.access(beside, os.X_OK):
        return shlex.quote(str(beside.absolute()))
    if which:
        return shlex.quote(str(Path(which).absolute()))
    return f"{shlex.quote(str(Path(executable).absolute()))} -m jobs"


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
