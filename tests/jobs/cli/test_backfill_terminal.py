"""``batchscore backfill`` as a user sees it: a live ``backfill: N/M days`` line on a terminal
(a pseudo-terminal here, as a shell gives), plain lines when its output is a pipe or a file.
(``BackfillProgress`` itself: ``tests/jobs/cli/test_edges.py``.)"""

from __future__ import annotations

import os
import pty
import re
import select
import subprocess
import sys
import time

from tests.jobs.helpers import DAYS, N_CUSTOMERS, REPO

START, END = DAYS[0].isoformat(), DAYS[-1].isoformat()
BAR = re.compile(r"backfill: (\d)/3 days, [\d,]+ rows/s, (\?|\d+s) left")
CLEAR = "\r\x1b[K"


def on_a_terminal(project, *args: str, timeout: float = 120) -> tuple[int, str]:
    """``batchscore ARGS`` with stdin, stdout and stderr on one pseudo-terminal: its exit code
    and everything it wrote, as the terminal received it."""
    primary, secondary = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "jobs", *args, "--config-dir", str(project.configs)],
        cwd=project.root, env={**os.environ, "PYTHONPATH": str(REPO)},  # the project fixture left ENV_KEYS out
        stdin=secondary, stdout=secondary, stderr=secondary,
    )
    os.close(secondary)
    received, deadline = b"", time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if not select.select([primary], [], [], 1)[0]:
                continue
            try:
                chunk = os.read(primary, 65536)
            except OSError:  # EIO: every holder of the terminal's other end has closed it
                break
            if not chunk:
                break
            received += chunk
        return proc.wait(timeout=max(deadline - time.monotonic(), 1)), received.decode().replace("\r\n", "\n")
    finally:
        os.close(primary)
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_backfill_on_a_terminal_draws_days_done_of_the_total_and_prints_each_day_on_a_clean_line(project):
    project.write_job()
    code, screen = on_a_terminal(project, "backfill", "churn", "--start", START, "--end", END)
    assert code == 0, screen
    bars = [m.group(1) for m in BAR.finditer(screen)]
    assert bars == ["1", "2", "3"], screen
    pieces = re.split(r"\r\x1b\[K|\n", screen)
    assert all(BAR.fullmatch(p) for p in pieces if "backfill: " in p), screen  # nothing glued to the bar
    for day in DAYS:
        before = screen[: screen.index(f"{day} succeeded: {N_CUSTOMERS} rows")]
        assert before == "" or before.endswith(("\n", CLEAR)), screen
    assert screen.rstrip("\n").endswith(f"backfill churn {START}..{END}: 3 succeeded, 0 skipped, 0 failed")


def test_backfill_into_a_pipe_prints_plain_lines_and_no_bar(project):
    project.write_job()
    backfill = project.spawn("backfill", "churn", "--start", START, "--end", END)
    out, err = backfill.communicate(timeout=120)
    assert backfill.returncode == 0, err
    lines = out.splitlines()
    assert [line.split(":")[0] for line in lines[:3]] == [f"{day} succeeded" for day in DAYS]
    assert lines[3:] == [f"backfill churn {START}..{END}: 3 succeeded, 0 skipped, 0 failed"]
    assert "backfill: " not in out + err and "\x1b" not in out + err and "\r" not in out + err
