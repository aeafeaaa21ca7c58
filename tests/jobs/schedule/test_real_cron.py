"""Debian's own cron daemon runs the lines ``batchscore crontab`` writes: an every-minute job in
a daylight-saving zone (guarded lines) fires, scores through the env file, logs its exit code.

Needs root and Debian's ``cron`` (``scripts/setup`` installs it). The test starts ``cron -f``
itself (or uses the one already running), puts the lines in a file of /etc/cron.d (with the
user field cron.d wants), and removes the file and stops its daemon afterwards.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from jobs.schedule.days import local_today
from tests.jobs.schedule.helpers import REPO, child_env, make_project, succeeded_days, write_job

CRON = shutil.which("cron") or "/usr/sbin/cron"
CRON_D = Path("/etc/cron.d")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(os.geteuid() != 0, reason="starts Debian's cron and writes /etc/cron.d: needs root"),
    pytest.mark.skipif(not os.access(CRON, os.X_OK), reason="Debian's cron is not installed (scripts/setup installs it)"),
]


def _cron_d_lines(crontab: str, user: str = "root") -> str:
    """A user crontab as an /etc/cron.d file: the same lines, with the user after the 5 fields."""
    out = []
    for line in crontab.splitlines():
        if not line or line.startswith("#") or re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", line):
            out.append(line)
        else:
            fields = line.split(maxsplit=5)
            out.append(" ".join([*fields[:5], user, fields[5]]))
    return "\n".join(out) + "\n"


@pytest.fixture
def cron_daemon():
    """Debian's cron in the foreground, started here; None when one already runs (it reads
    /etc/cron.d as well). Stopped by its pid afterwards."""
    proc = subprocess.Popen([CRON, "-f", "-L", "15"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    time.sleep(1.0)
    if proc.poll() is not None:  # "can't lock /var/run/crond.pid": another cron runs
        output = proc.stdout.read().decode(errors="replace")
        if "lock" not in output:
            pytest.fail(f"cron did not start: {output}")
        proc = None
    try:
        yield proc
    finally:
        if proc is not None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)


def test_debians_cron_fires_the_generated_every_minute_job_end_to_end(tmp_path, cron_daemon):
    zone = ZoneInfo("Europe/Berlin")
    day = local_today(datetime.now(timezone.utc), zone) - timedelta(days=1)
    settings = make_project(tmp_path, end=day, days=2, n_customers=100)
    url = "${WAREHOUSE_URL}"  # no default: cron sees it only through the env file
    # Every minute but in one hour far from now: a schedule daylight saving changes, so its
    # lines are the guarded ones (plain every-minute needs no guard).
    skipped = (datetime.now(zone).hour + 12) % 24
    hours = ",".join(str(h) for h in range(24) if h != skipped)
    write_job(
        tmp_path, schedule=f"* {hours} * * *", timezone="Europe/Berlin",
        source={"kind": "sql", "url": url, "table": "customer_features", "date_column": "snapshot_date"},
        output={"kind": "sql", "url": url, "table": "churn_scores"},
    )
    (tmp_path / ".env").write_text(f"WAREHOUSE_URL=sqlite:///{tmp_path}/data/warehouse.db\n")
    written = subprocess.run(
        [sys.executable, "-m", "jobs", "crontab", "--write", "--config-dir", str(settings.config_dir)],
        cwd=REPO, env=child_env(), capture_output=True, text=True, timeout=60,
    )
    assert written.returncode == 0, written.stderr
    crontab = (tmp_path / "data" / "crontab").read_text()
    assert "TZ=Europe/Berlin date" in crontab  # the converted, guarded lines are what cron runs
    # Cron hands the lines a bare environment: only this checkout on the import path is added
    # (an installed batchscore needs none).
    cron_d = CRON_D / f"batchscore_test_{uuid.uuid4().hex[:8]}"  # cron.d names: no dots
    cron_d.write_text(f"PYTHONPATH={REPO}\n" + _cron_d_lines(crontab))
    cron_d.chmod(0o644)
    log_file = settings.log_dir / "churn.log"
    try:
        deadline = time.monotonic() + 200  # cron reads cron.d each minute, fires on the next
        while time.monotonic() < deadline:
            text = log_file.read_text() if log_file.exists() else ""
            if re.search(r"INFO batchscore: exit \d", text):
                break
            time.sleep(2)
        else:
            pytest.fail(f"cron did not fire within 200 s; log: {text!r}")
    finally:
        cron_d.unlink()
    lines = text.splitlines()
    exits = [x for x in lines if re.search(r"Z INFO batchscore: exit \d", x)]
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z INFO batchscore: exit 0 \(done", exits[0]), text
    assert any(f"reads sqlite:///{tmp_path}/data/warehouse.db table customer_features" in x for x in lines)
    assert succeeded_days(settings, "churn") == [day]
