"""The Parquet day swap: one exchange where the file system can (a reader always finds the
whole old day or the whole new one), two renames elsewhere, and a day a crash left absent
between those two renames put back by the next run of the day."""

from __future__ import annotations

import ctypes
import errno
import multiprocessing
import os
from collections import Counter
from datetime import date
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from jobs.config import ParquetOutput
from jobs.sinks import parquet as parquet_sink
from jobs.sinks.base import Aside
from jobs.sinks.parquet import LocalDirs, ParquetDaySink, day_dir, restore_day, staging_dir, swap_in
from tests.jobs.helpers import scored_batch

DAY = date(2026, 11, 27)  # the last day of the test project (tests.jobs.helpers.DAY)
SWAPS = 400


def _make_day(path: str, generation: int, files: int = 3) -> None:
    os.makedirs(path)
    for k in range(files):  # several files: a reader must find them all of one generation
        Path(path, f"part-{k}.txt").write_text(str(generation))


def _read_day(final: str):
    """The generations of the day's files, read through one descriptor of the directory
    (None: no day)."""
    try:
        fd = os.open(final, os.O_RDONLY | os.O_DIRECTORY)
    except FileNotFoundError:
        return None
    try:
        names = sorted(os.listdir(fd))
        seen = set()
        for name in names:
            with os.fdopen(os.open(name, os.O_RDONLY, dir_fd=fd)) as f:
                seen.add(f.read())
        if os.fstat(fd).st_nlink == 0:
            return "retry"  # the old day was removed while it was read: read the day again
        return (len(names), tuple(sorted(seen)))
    except FileNotFoundError:  # the old day removed while it was read: read again
        return "retry"
    finally:
        os.close(fd)


def _read_loop(final: str, ready, stop, out) -> None:
    """A reader in a process of its own (no GIL shared with the swaps): what it saw."""
    seen: Counter = Counter()
    ready.set()
    while not stop.is_set():
        state = _read_day(final)
        if state is None:
            seen["absent"] += 1
        elif state == "retry":
            seen["retry"] += 1
        elif state[0] == 3 and len(state[1]) == 1:
            seen["whole"] += 1
        else:
            seen[f"partial {state}"] += 1
    out.put(dict(seen))


def _swap_many(tmp_path: Path, exchange: bool) -> Counter:
    """SWAPS swaps of one day (``LocalDirs(exchange)``) while another process reads it as fast as
    it can; what it saw."""
    dirs = LocalDirs(exchange=exchange)
    final = day_dir(str(tmp_path), DAY)
    _make_day(final, 0)
    context = multiprocessing.get_context("spawn")
    ready, stop, out = context.Event(), context.Event(), context.Queue()
    reader = context.Process(target=_read_loop, args=(final, ready, stop, out), daemon=True)
    reader.start()
    try:
        assert ready.wait(120), "the reader never started"
        for generation in range(1, SWAPS + 1):
            staging = staging_dir(final)
            _make_day(staging, generation)
            swap_in(dirs, staging, final)
    finally:
        stop.set()
        seen = Counter(out.get(timeout=60))
        reader.join(timeout=30)
    assert _read_day(final) == (3, (str(SWAPS),))
    assert sorted(os.listdir(tmp_path)) == [f"score_date={DAY}"]  # nothing left aside
    print(f"{SWAPS} swaps (LocalDirs, exchange={exchange}): reader saw {dict(seen)}")
    return seen


def test_a_reader_never_finds_the_day_absent_or_partial_while_it_is_exchanged(tmp_path):
    seen = _swap_many(tmp_path, exchange=True)
    assert set(seen) <= {"whole", "retry"} and seen["whole"] > 0, seen


def test_without_the_exchange_the_day_is_still_never_partial(tmp_path):
    # Two renames: the day may be absent for an instant (what the exchange removes), never mixed.
    seen = _swap_many(tmp_path, exchange=False)
    assert not [s for s in seen if s.startswith("partial")], seen


class _Recording(LocalDirs):
    """LocalDirs that notes each rename and exchange: (operation, source, target)."""

    def __init__(self, exchange: bool = True) -> None:
        super().__init__(exchange)
        self.calls: list[tuple[str, Path, Path]] = []

    def rename(self, source: str, target: str) -> None:
        self.calls.append(("rename", Path(source), Path(target)))
        super().rename(source, target)

    def exchange(self, a: str, b: str) -> bool:
        done = super().exchange(a, b)
        self.calls.append(("exchange" if done else "refused", Path(a), Path(b)))
        return done


def test_a_first_day_is_one_plain_rename(tmp_path):
    final = day_dir(str(tmp_path), DAY)
    staging = staging_dir(final)
    _make_day(staging, 1)
    dirs = _Recording()
    swap_in(dirs, staging, final)
    assert dirs.calls == [("rename", Path(staging), Path(final))]
    assert _read_day(final) == (3, ("1",))


def test_a_file_system_that_refuses_the_exchange_gets_two_renames(tmp_path, monkeypatch):
    def refusing(*_args):
        ctypes.set_errno(errno.EINVAL)  # what renameat2 says on a file system without exchange
        return -1

    monkeypatch.setattr(parquet_sink, "renameat2_call", lambda: refusing)
    final = day_dir(str(tmp_path), DAY)
    _make_day(final, 0)
    staging = staging_dir(final)
    _make_day(staging, 1)
    dirs = _Recording()
    swap_in(dirs, staging, final)
    assert [c[0] for c in dirs.calls] == ["refused", "rename", "rename"]
    assert dirs.calls[1][1] == Path(final) and dirs.calls[1][2].name.startswith(".old-")  # old day aside first
    assert dirs.calls[2][1:] == (Path(staging), Path(final))  # then the new one in
    assert _read_day(final) == (3, ("1",))
    assert sorted(os.listdir(tmp_path)) == [f"score_date={DAY}"]


class _Crash(BaseException):
    """The process dies here (nothing after it runs)."""


class _DiesBetweenTheRenames(LocalDirs):
    """A file system without exchange, and a process that dies right after moving the old day
    aside, before the new one is renamed in."""

    def __init__(self) -> None:
        super().__init__(exchange=False)

    def rename(self, source: str, target: str) -> None:
        if Path(source).name.startswith(".tmp-"):
            raise _Crash
        super().rename(source, target)

    def remove(self, path: str) -> None:
        pass  # a dead process cleans nothing up


def _sink(tmp_path: Path) -> ParquetDaySink:
    return ParquetDaySink(ParquetOutput(kind="parquet", path=str(tmp_path / "scores")))


def _day_ids(tmp_path: Path) -> list[int]:
    return pq.read_table(day_dir(str(tmp_path / "scores"), DAY))["customer_id"].to_pylist()


def test_a_day_left_absent_between_the_two_renames_is_restored_by_the_next_run_first(tmp_path, monkeypatch):
    sink = _sink(tmp_path)
    batch = scored_batch(5)
    with sink.begin(DAY):
        sink.replace_day(DAY, batch.schema, [batch])
    old = _day_ids(tmp_path)
    monkeypatch.setattr(parquet_sink, "LocalDirs", _DiesBetweenTheRenames)
    with pytest.raises(_Crash), sink.begin(DAY):
        sink.replace_day(DAY, batch.schema, [scored_batch(7, start=100)])
    final = day_dir(str(tmp_path / "scores"), DAY)
    assert not os.path.exists(final)  # the crash window: the old day aside, the new one not in
    assert [n for n in os.listdir(tmp_path / "scores") if n.startswith(".old-")]
    monkeypatch.undo()

    # The next run of the day, before anything else (its rows may never come): the old day is back.
    with _sink(tmp_path).begin(DAY):
        assert _day_ids(tmp_path) == old
    with sink.begin(DAY):  # and a run that completes replaces it; nothing is left aside
        sink.replace_day(DAY, batch.schema, [scored_batch(7, start=100)])
    assert _day_ids(tmp_path) == list(range(100, 107))
    assert os.listdir(tmp_path / "scores") == [f"score_date={DAY}"]


def test_a_shadow_day_left_absent_between_the_two_renames_is_restored_by_the_next_run_first(tmp_path, monkeypatch):
    sink = _sink(tmp_path)
    batch = scored_batch(5)
    shadow_root = tmp_path / "scores_shadow"  # shadow_name of the sink's output

    def shadow(start: int) -> Aside:
        return Aside(str(shadow_root), batch.schema, [scored_batch(3, start=start)])

    with sink.begin(DAY):
        sink.replace_day(DAY, batch.schema, [batch], [shadow(50)])
    shadow_day = day_dir(str(shadow_root), DAY)
    old = pq.read_table(shadow_day)["customer_id"].to_pylist()
    monkeypatch.setattr(parquet_sink, "LocalDirs", _DiesBetweenTheRenames)
    with pytest.raises(_Crash), sink.begin(DAY):  # the shadow day is swapped first: it dies there
        sink.replace_day(DAY, batch.schema, [scored_batch(7, start=100)], [shadow(60)])
    assert not os.path.exists(shadow_day)
    monkeypatch.undo()

    with _sink(tmp_path).begin(DAY):  # the next run of the day, before anything else
        assert pq.read_table(shadow_day)["customer_id"].to_pylist() == old
    with sink.begin(DAY):  # and a run that completes replaces it; nothing is left aside
        sink.replace_day(DAY, batch.schema, [batch], [shadow(60)])
    assert pq.read_table(shadow_day)["customer_id"].to_pylist() == [60, 61, 62]
    assert os.listdir(shadow_root) == [f"score_date={DAY}"]


def test_restore_puts_back_the_newest_aside_copy(tmp_path):
    final = day_dir(str(tmp_path), DAY)
    for generation, name in enumerate([f".old-score_date={DAY}-{n:020d}-aaaaaaaa" for n in (1, 2)]):
        _make_day(str(tmp_path / name), generation)
    assert restore_day(LocalDirs(), final)
    assert _read_day(final) == (3, ("1",))
    assert not restore_day(LocalDirs(), final)  # a day that is there is left alone


def test_the_rejects_day_is_swapped_in_just_before_the_scores(tmp_path, monkeypatch):
    dirs = _Recording()
    monkeypatch.setattr(parquet_sink, "LocalDirs", lambda: dirs)
    sink = _sink(tmp_path)
    batch = scored_batch(5)
    for _ in range(2):  # a first day (renames), then a replaced one (exchanges)
        aside = Aside(str(tmp_path / "scores_rejects"), batch.schema, [scored_batch(1, start=9)])
        sink.replace_day(DAY, batch.schema, [batch], [aside])
    swaps = [(op, source.parent.name) for op, source, target in dirs.calls if target.name == f"score_date={DAY}"]
    assert swaps == [
        ("rename", "scores_rejects"), ("rename", "scores"), ("exchange", "scores_rejects"), ("exchange", "scores"),
    ]


def test_a_skipped_run_of_a_succeeded_day_puts_back_the_day_a_crash_left_absent(project):
    project.write_job(output={"kind": "parquet", "path": "data/scores"})
    assert project.cli("run", "churn", "--date", DAY.isoformat()).code == 0
    scores = project.root / "data" / "scores"
    final = scores / f"score_date={DAY}"
    before = pq.read_table(final).to_pylist()
    final.rename(scores / f".old-score_date={DAY}-{1:020d}-deadbeef")  # a swap that died halfway

    skipped = project.cli("run", "churn", "--date", DAY.isoformat())  # the ledger: succeeded
    assert skipped.code == 0 and "skipped" in skipped.err
    assert "restored the previous day" in skipped.err
    assert pq.read_table(final).to_pylist() == before
    assert sorted(p.name for p in scores.iterdir()) == [f"score_date={DAY}"]
    assert project.sql("SELECT COUNT(*) FROM batchscore_locks", project.state_db) == [(0,)]
