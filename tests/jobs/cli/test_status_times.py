"""``status`` shows the ledger's times in UTC with the zone, whatever the machine's zone."""

from __future__ import annotations

import json

from tests.jobs.helpers import DAY


def test_status_shows_the_ledgers_utc_start_with_z_on_a_machine_in_another_zone(project, monkeypatch):
    project.write_job()
    assert project.cli("run", "churn", "--date", DAY.isoformat()).code == 0
    [stored] = project.ledger()["started_at"]  # SQLite keeps the UTC time as text, without a zone
    utc = stored[:19].replace(" ", "T")
    monkeypatch.setenv("TZ", "Asia/Tokyo")  # UTC+9 all year: a local time would be 9 hours off
    table = project.spawn("status", "churn")
    out, err = table.communicate(timeout=60)
    assert table.returncode == 0, err
    header, row = out.splitlines()[:2]
    assert row.split()[header.split().index("started_at")] == f"{utc}Z"
    shown = project.spawn("status", "churn", "--format", "json")
    out, err = shown.communicate(timeout=60)
    assert shown.returncode == 0, err
    [record] = json.loads(out)
    assert record["started_at"].startswith(utc) and record["started_at"].endswith("+00:00")
