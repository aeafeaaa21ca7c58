"""ADBC's PostgreSQL driver built with optimization (scripts/build-adbc-postgresql): which
library a read loads, and that the build scripts/setup made is the optimized one.

The same reads against both libraries (values to the bit, a connection terminated mid-read)
are in test_fast_paths.py, parametrized with ``tests.jobs.helpers.use_driver``.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from jobs.db import adbc
from jobs.errors import ConfigError
from tests.jobs.helpers import DAY, ENV_KEYS, REPO, assert_one_line_error, rows_written, use_driver

# push %rbp; mov %rsp,%rbp: the prologue every function of an x86-64 build without
# optimization begins with (the 1.13.0 wheel's library has 7413 of them).
PROLOGUE = b"\x55\x48\x89\xe5"


def test_reads_load_the_optimized_build_when_setup_made_one(tmp_path, monkeypatch):
    built = tmp_path / "libadbc_driver_postgresql.so"
    monkeypatch.setattr(adbc, "BUILT_DRIVER", built)
    monkeypatch.delenv(adbc.DRIVER_ENV, raising=False)
    assert adbc.driver_library() is None  # not built: the wheel's own library
    built.write_bytes(b"")
    assert adbc.driver_library() == str(built)
    monkeypatch.setenv(adbc.DRIVER_ENV, adbc.WHEEL)
    assert adbc.driver_library() is None
    other = tmp_path / "other.so"
    other.write_bytes(b"")
    monkeypatch.setenv(adbc.DRIVER_ENV, str(other))
    assert adbc.driver_library() == str(other)


def test_a_driver_setting_naming_no_file_is_a_config_error_saying_what_to_do(tmp_path, monkeypatch):
    monkeypatch.setenv(adbc.DRIVER_ENV, str(tmp_path / "missing.so"))
    with pytest.raises(ConfigError, match=f"{adbc.DRIVER_ENV}=.*missing.so: no such file") as caught:
        adbc.driver_library()
    assert "wheel" in caught.value.hint


def test_the_build_setup_made_is_optimized(monkeypatch):
    use_driver(monkeypatch, "built")
    with open(adbc.BUILT_DRIVER, "rb") as file:
        prologues = file.read().count(PROLOGUE)
    assert prologues < 100, f"{adbc.BUILT_DRIVER} has {prologues} frame-pointer prologues: built without optimization"


# Two reads in a process of their own (the library is said once per process): its log lines.
TWO_READS = '''
import logging, sys
from jobs.db import adbc
logging.basicConfig(level=logging.INFO, stream=sys.stdout, format="%(name)s|%(message)s")
for _ in range(2):
    with adbc.reading(sys.argv[1], "source") as reader, reader.query("SELECT 1 AS one") as result:
        assert [b.num_rows for b in result.batches] == [1]
'''


@pytest.mark.postgres
@pytest.mark.parametrize("driver", ["wheel", "built"])
def test_a_run_log_says_once_which_driver_library_reads_load(pg_database, monkeypatch, driver):
    use_driver(monkeypatch, driver)
    env = {k: v for k, v in os.environ.items() if k not in ENV_KEYS}
    env["PYTHONPATH"] = str(REPO)
    done = subprocess.run([sys.executable, "-c", TWO_READS, pg_database], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    lines = [line.split("|", 1) for line in done.stdout.splitlines() if "|" in line]
    said = [message for name, message in lines if name == adbc.log.name and "PostgreSQL reads through" in message]
    expected = "built without optimization" if driver == "wheel" else str(adbc.BUILT_DRIVER)
    assert len(said) == 1 and expected in said[0], said


@pytest.mark.postgres
def test_a_run_with_a_driver_setting_naming_no_file_ends_in_one_line_and_exit_2(project, pg_database, monkeypatch):
    project.write_job(source={"kind": "sql", "url": pg_database, "table": "customers", "date_column": "snapshot_date"})
    monkeypatch.setenv(adbc.DRIVER_ENV, "/nonexistent/libadbc_driver_postgresql.so")
    result = project.cli("run", "churn", "--date", DAY.isoformat())
    assert result.code == ConfigError.exit_code == 2
    assert_one_line_error(result, "churn", DAY.isoformat(), f"{adbc.DRIVER_ENV}=/nonexistent/", "no such file", "wheel")
    assert rows_written(project) == 0
