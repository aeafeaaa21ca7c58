"""The run's log line naming the databases it reads, writes and records in: never a password."""

from __future__ import annotations

import pytest
from sqlalchemy.engine import make_url

from tests.jobs.helpers import DAY

pytestmark = pytest.mark.postgres
SECRET = "s3cret-Passw0rd"


def with_password(url: str) -> str:
    return make_url(url).set(password=SECRET).render_as_string(hide_password=False)


def masked(url: str) -> str:
    """``url`` (no password) as the log line shows it with one: the password as ``***``."""
    user = make_url(url).username
    return url.replace(f"//{user}@", f"//{user}:***@")


@pytest.mark.parametrize("lc", ["postgres"], indirect=True)
def test_the_reads_writes_ledger_line_masks_each_password(lc):
    # The test server trusts every local connection: a password in the URL is accepted unread.
    warehouse, state = with_password(lc.url), with_password(lc.state_url)
    lc.project.write_job(
        source={"kind": "sql", "url": warehouse, "table": "customer_features", "date_column": "snapshot_date"},
        output={"kind": "sql", "url": warehouse, "table": "churn_scores"},
    )
    result = lc.project.cli("run", "churn", "--date", DAY.isoformat(), "--state-url", state)
    assert result.code == 0, result.err
    [line] = [x for x in result.err.splitlines() if f"churn {DAY}: reads " in x]
    shown = masked(lc.url)
    assert line.endswith(f"reads {shown} table customer_features, writes {shown} table churn_scores, ledger {masked(lc.state_url)}"), line
    assert SECRET not in result.err + result.out
