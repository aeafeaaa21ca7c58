"""Duplicate ids: the same id twice in one day's source, found while the day streams.

A day's output has one row per (id, score_date); two source rows with one id would become
two score rows. ``IdTracker`` keeps one 64-bit key per row seen, each chunk's keys sorted as
they come and stored as the first key and the gaps between neighbours: 4 bytes a row when
every gap fits 32 bits (integer ids a database hands out), else the keys themselves, 8
bytes a row (hashed or sparse ids). At the end (``result``) the chunks are judged one slice
of the key range at a time (about ``SLICE_ROWS`` keys): each slice's keys are gathered from
every chunk, sorted, and equal neighbours are the duplicates. So the check holds 4 or 8
bytes a row while the day streams and the verdict adds at most one slice's keys, never the
rows themselves.

Keys: a single integer id column is its own key (exact; a null id is counted apart: two
null ids are a duplicate). Any other ids (text, several columns) are hashed to 64 bits
(``pandas.util.hash_pandas_object``); a hash seen twice is only a candidate, confirmed by
reading the day's id columns again (``reread``) and comparing the values themselves, so a
collision never fails a day or sets a row aside. That second read happens only when there
are candidates.

Where the verdict happens: the run's monitor (``jobs.quality.monitor``) owns a tracker fed
by ``score_chunk`` and judges it in ``guard``, after the last batch and before the sink
commits, so a duplicate found in the last chunk still stops the commit.

``quality.on_duplicate_ids: reject`` must keep *every* row of a duplicated id out of the
scores, including the rows of an earlier chunk the sink has already been given. Rather than
retract written rows (a Parquet file cannot be edited; a SQL sink would need a delete per
id), the pandas engine reads the day's id columns alone first (``find_duplicates``), then
scores the day with that small set in hand and sends the duplicated ids' rows to the
rejects (``Duplicates.mask``). The tracker still runs on the rows that were scored, so a
source that changed between the two reads fails the run instead of writing two rows.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

if TYPE_CHECKING:  # pandas is imported where a frame is made: `batchscore run` starts its read first
    import pandas as pd

MAX_EXAMPLES = 5  # duplicated ids named in the error line
SLICE_ROWS = 1_000_000  # keys the verdict sorts at once (8 MB): its memory, whatever the day
SAMPLE_PER_RUN = 256  # keys each chunk lends to choosing the slices' bounds
REASON = "duplicate id"  # the rejects' reason

Reread = Callable[[], Iterable[pa.RecordBatch]]  # the day's id columns, read again


def exact_keys(schema: pa.Schema, columns: Sequence[str]) -> bool:
    """Whether the ids are one integer column: its values are the keys, no hash."""
    return len(columns) == 1 and pa.types.is_integer(schema.field(columns[0]).type)


def id_keys(batch: pa.RecordBatch, columns: Sequence[str], exact: bool) -> tuple[np.ndarray, np.ndarray | None]:
    """The rows' int64 keys and, for exact keys, the mask of null ids (None: no null).

    Exact keys of null ids are 0 and must be ignored (the mask says which)."""
    import pandas as pd

    if exact:
        column = batch.column(columns[0])
        nulls = None
        if column.null_count:
            nulls = column.is_null().to_numpy(zero_copy_only=False)
            column = pc.fill_null(column, 0)
        values = column.to_numpy(zero_copy_only=False)
        return values.astype(np.int64, copy=False) if values.dtype != np.int64 else values, nulls
    frame = batch.select(list(columns)).to_pandas()
    return pd.util.hash_pandas_object(frame, index=False).to_numpy().view(np.int64), None


@dataclass
class Duplicates:
    """The day's duplicated ids: how many, on how many rows, a few of them, and the keys
    (with, for hashed keys, the confirmed id values) to find their rows again."""

    columns: tuple[str, ...]
    exact: bool
    keys: np.ndarray  # sorted keys of the duplicated ids
    null_id: bool = False  # exact keys: the null id appears more than once
    values: frozenset = field(default_factory=frozenset)  # hashed keys: the duplicated id tuples
    count: int = 0  # distinct duplicated ids
    rows: int = 0  # rows that carry them
    examples: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return self.count > 0

    def describe(self) -> str:
        """``2 ids appear more than once (5 rows), e.g. customer_id=7, customer_id=9``."""
        ids = "id appears" if self.count == 1 else "ids appear"
        return f"{self.count} {ids} more than once ({self.rows} rows), e.g. {', '.join(self.examples)}"

    def mask(self, batch: pa.RecordBatch) -> np.ndarray:
        """The rows of ``batch`` that carry a duplicated id."""
        keys, nulls = id_keys(batch, self.columns, self.exact)
        hit = _isin_sorted(keys, self.keys)
        if nulls is not None:
            hit &= ~nulls
            if self.null_id:
                hit |= nulls
        if not self.exact and hit.any():
            rows = np.flatnonzero(hit)
            frame = batch.select(list(self.columns)).take(pa.array(rows)).to_pandas()
            confirmed = [t in self.values for t in _tuples(frame)]
            hit[rows[~np.asarray(confirmed, dtype=bool)]] = False
        return hit


class _Run:
    """One chunk's sorted keys: the first one and the gaps to the next, as 32-bit integers
    when every gap fits (4 bytes a key), else the keys themselves (8 bytes a key)."""

    __slots__ = ("first", "last", "gaps", "keys")

    def __init__(self, keys: np.ndarray) -> None:
        self.first, self.last = int(keys[0]), int(keys[-1])
        # Unsigned: the distance between two sorted int64 keys always fits 64 bits unsigned.
        gaps = np.diff(keys.view(np.uint64))
        if not len(gaps) or int(gaps.max()) <= np.iinfo(np.uint32).max:
            self.gaps, self.keys = gaps.astype(np.uint32), None
        else:
            self.gaps, self.keys = None, keys

    def __len__(self) -> int:
        return len(self.keys) if self.keys is not None else len(self.gaps) + 1

    @property
    def nbytes(self) -> int:
        return self.keys.nbytes if self.keys is not None else self.gaps.nbytes + 8

    def decoded(self) -> np.ndarray:
        """The sorted int64 keys (the first key plus the running sum of the gaps, in
        wrapping 64-bit unsigned arithmetic, which gives each key back exactly)."""
        if self.keys is not None:
            return self.keys
        out = np.empty(len(self.gaps) + 1, dtype=np.uint64)
        out[0] = self.first & 0xFFFF_FFFF_FFFF_FFFF
        np.cumsum(self.gaps, dtype=np.uint64, out=out[1:])
        out[1:] += out[0]
        return out.view(np.int64)


class IdTracker:
    """One run's ids, chunk by chunk: 4 or 8 bytes per row (module docstring)."""

    def __init__(self, columns: Sequence[str]) -> None:
        self.columns = tuple(columns)
        self.exact: bool | None = None  # decided by the first chunk's schema
        self.rows = 0
        self.null_rows = 0
        self._runs: list[_Run] = []

    def keys_of(self, batch: pa.RecordBatch) -> tuple[np.ndarray, int, bool]:
        """A chunk's sorted keys, its null ids and exactness: computed outside any lock."""
        exact = exact_keys(batch.schema, self.columns)
        keys, nulls = id_keys(batch, self.columns, exact)
        null_rows = 0
        if nulls is not None:
            null_rows = int(nulls.sum())
            keys = keys[~nulls]
        return np.sort(keys), null_rows, exact

    def add(self, keys: np.ndarray, null_rows: int, exact: bool) -> None:
        self.exact = exact if self.exact is None else self.exact
        self.rows += len(keys) + null_rows
        self.null_rows += null_rows
        if len(keys):
            self._runs.append(_Run(keys))

    def observe(self, batch: pa.RecordBatch) -> None:
        if self.columns and batch.num_rows:
            self.add(*self.keys_of(batch))

    def merge(self, other: IdTracker) -> None:
        """Add the keys another tracker of the same run saw (a worker's, a Spark task's)."""
        self.exact = other.exact if self.exact is None else self.exact
        self.rows += other.rows
        self.null_rows += other.null_rows
        self._runs.extend(other._runs)

    @property
    def nbytes(self) -> int:
        """What the keys kept so far take."""
        return sum(run.nbytes for run in self._runs)

    def result(self, reread: Reread | None = None) -> Duplicates:
        """The duplicated ids (hashed keys: confirmed through ``reread``). Consumes the keys."""
        exact = bool(self.exact) if self.exact is not None else True
        runs, self._runs = self._runs, []
        repeated = _repeated(runs)  # one entry per extra occurrence
        keys = np.unique(repeated)
        null_id = exact and self.null_rows > 1
        if not len(keys) and not null_id:
            return Duplicates(self.columns, exact, keys)
        if exact:
            rows = len(repeated) + len(keys) + (self.null_rows if null_id else 0)
            examples = [_name(self.columns, (v,)) for v in keys[:MAX_EXAMPLES].tolist()]
            if null_id and len(examples) < MAX_EXAMPLES:
                examples.append(_name(self.columns, (None,)))
            return Duplicates(self.columns, True, keys, null_id, count=len(keys) + null_id, rows=rows, examples=examples)
        return _confirm(self.columns, keys, reread)

    def __len__(self) -> int:
        return self.rows


def set_aside(batch: pa.RecordBatch, duplicates: Duplicates) -> tuple[pa.RecordBatch, pa.RecordBatch | None]:
    """``batch`` without the rows of a duplicated id, and those rows (None: none). The one
    split of ``on_duplicate_ids: reject``, for both engines (Spark: in its tasks)."""
    hit = duplicates.mask(batch)
    if not hit.any():
        return batch, None
    return batch.filter(pa.array(~hit)), batch.filter(pa.array(hit))


def find_duplicates(batches: Iterable[pa.RecordBatch], columns: Sequence[str], reread: Reread | None = None) -> Duplicates:
    """A pass over the day's id columns alone: its duplicated ids (for ``reject``)."""
    tracker = IdTracker(columns)
    for batch in batches:
        tracker.observe(batch)
    return tracker.result(reread)


def _confirm(columns: tuple[str, ...], candidates: np.ndarray, reread: Reread | None) -> Duplicates:
    """Hashed keys: read the ids again and keep the candidates whose values repeat."""
    if reread is None:  # no second read at hand: the 64-bit hash decides alone
        return Duplicates(columns, False, candidates, count=len(candidates), rows=len(candidates) * 2,
                          examples=[f"hash {k & 0xFFFFFFFFFFFFFFFF:016x}" for k in candidates[:MAX_EXAMPLES].tolist()])
    seen: dict[tuple, int] = {}
    key_of: dict[tuple, int] = {}
    for batch in reread():
        if not batch.num_rows:
            continue
        keys, _ = id_keys(batch, columns, False)
        rows = np.flatnonzero(_isin_sorted(keys, candidates))
        if len(rows):
            frame = batch.select(list(columns)).take(pa.array(rows)).to_pandas()
            for t, key in zip(_tuples(frame), keys[rows].tolist(), strict=True):
                seen[t] = seen.get(t, 0) + 1
                key_of[t] = key
    repeated = {t: n for t, n in seen.items() if n > 1}
    if not repeated:
        return Duplicates(columns, False, np.empty(0, np.int64))
    keys = np.unique(np.array([key_of[t] for t in repeated], dtype=np.int64))
    examples = [_name(columns, t) for t in list(repeated)[:MAX_EXAMPLES]]
    return Duplicates(columns, False, keys, values=frozenset(repeated), count=len(repeated),
                      rows=sum(repeated.values()), examples=examples)


def _repeated(runs: list[_Run | None]) -> np.ndarray:
    """Every key the runs hold more than once, once per extra occurrence, sorted: judged one
    slice of the key range at a time, each slice's keys copied into one array and sorted, so
    that one slice's keys are held beside the runs (a run is freed once its last slice has
    its keys). A key and its copies always fall in the same slice. Consumes ``runs``."""
    bounds = np.array(_slice_bounds(runs), dtype=np.int64)
    # Run i's keys of slice j are decoded()[cuts[i][j]:cuts[i][j + 1]].
    cuts = [[0, *(np.searchsorted(run.decoded(), bounds).tolist() if len(bounds) else []), len(run)] for run in runs]
    found = []
    for j in range(len(bounds) + 1):
        spans = [(i, c[j], c[j + 1]) for i, c in enumerate(cuts) if c[j + 1] > c[j]]
        merged = np.empty(sum(stop - start for _, start, stop in spans), dtype=np.int64)
        at = 0
        for i, start, stop in spans:
            merged[at:at + stop - start] = runs[i].decoded()[start:stop]
            at += stop - start
            if stop == cuts[i][-1]:
                runs[i] = None  # every one of its keys is judged or in this slice
        merged.sort()
        found.append(merged[1:][merged[1:] == merged[:-1]])
        del merged
    return np.concatenate(found)


def _slice_bounds(runs: list[_Run | None]) -> list[int]:
    """Keys that split the runs' keys into slices of about ``SLICE_ROWS`` (none for fewer):
    quantiles of a sample of every run."""
    total = sum(len(run) for run in runs)
    slices = -(-total // SLICE_ROWS)
    if slices <= 1:
        return []
    sample = np.sort(np.concatenate([run.decoded()[:: max(1, len(run) // SAMPLE_PER_RUN)].copy() for run in runs]))
    picks = sample[(np.arange(1, slices) * len(sample)) // slices]
    return sorted(set(picks.tolist()))


def _isin_sorted(values: np.ndarray, sorted_keys: np.ndarray) -> np.ndarray:
    if not len(sorted_keys):
        return np.zeros(len(values), dtype=bool)
    at = np.searchsorted(sorted_keys, values)
    at[at == len(sorted_keys)] = 0
    return sorted_keys[at] == values


def _tuples(frame: pd.DataFrame) -> list[tuple]:
    return [tuple(None if _missing(v) else v for v in row) for row in frame.itertuples(index=False, name=None)]


def _missing(value) -> bool:
    import pandas as pd

    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _name(columns: Sequence[str], values: tuple) -> str:
    return " ".join(f"{c}={v}" for c, v in zip(columns, values, strict=True))
