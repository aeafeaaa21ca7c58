"""The Parquet day swap on Hadoop's file system (``HadoopDirs``): what the spark engine uses
for hdfs://, s3a:// and a cluster's default file system, where there is no exchange. Driven
here through Hadoop's own local file system in a real Spark: the two renames replace the day,
a day a crash left absent between them is restored from its aside copy, and leftovers go."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from jobs.engines.spark.stage import HadoopDirs
from jobs.sinks.parquet import aside_dir, clear_leftovers, day_dir, restore_day, staging_dir, swap_in
from tests.jobs.helpers import DAY

pytestmark = pytest.mark.spark


def _make_day(path: str, generation: int, files: int = 3) -> None:
    os.makedirs(path)
    for k in range(files):
        Path(path, f"part-{k}.txt").write_text(str(generation))


def _generations(final: str) -> set[str] | None:
    if not os.path.isdir(final):
        return None
    return {Path(final, name).read_text() for name in os.listdir(final)}


def _hidden(root: Path) -> list[str]:
    return sorted(name for name in os.listdir(root) if name.startswith("."))


def test_hadoop_dirs_replace_a_day_with_two_renames_and_leave_nothing_aside(spark, tmp_path):
    dirs = HadoopDirs(spark, str(tmp_path))
    final = day_dir(str(tmp_path), DAY)
    assert not dirs.exchange(final, final)  # no exchange on Hadoop's file systems
    first = staging_dir(final)
    _make_day(first, 1)
    swap_in(dirs, first, final)  # a first day: one rename
    assert _generations(final) == {"1"}
    second = staging_dir(final)
    _make_day(second, 2)
    swap_in(dirs, second, final)
    assert _generations(final) == {"2"}
    assert [name for name in _hidden(tmp_path) if not name.endswith(".crc")] == []


def test_hadoop_dirs_restore_a_day_a_crash_left_absent_between_the_two_renames(spark, tmp_path):
    dirs = HadoopDirs(spark, str(tmp_path))
    final = day_dir(str(tmp_path), DAY)
    _make_day(final, 1)
    staging = staging_dir(final)
    _make_day(staging, 2)
    dirs.rename(final, aside_dir(final))  # the first of swap_in's two renames, then the crash
    assert _generations(final) is None
    assert restore_day(dirs, final)  # the next run of the day, first of all
    assert _generations(final) == {"1"}  # the whole previous day, not the killed run's
    assert not restore_day(dirs, final)  # nothing to restore once the day is there
    clear_leftovers(dirs, final)  # the killed run's staging directory
    assert [name for name in _hidden(tmp_path) if not name.endswith(".crc")] == []
