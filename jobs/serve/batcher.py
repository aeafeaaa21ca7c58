"""Requests that arrive together are scored together: one call of the batch path for all.

A scoring thread per server process takes every request waiting (up to ``MAX_ROWS`` rows),
checks each one's records on its own (so a 422 names its own record), scores them in ONE
``score_chunk`` call and hands each request its slice. A pipeline's fixed cost per call
(column checks, encoders, a dozen pandas frames) is paid once for all of them: under load,
single-record requests cost a fraction of a call each. The scores are those of each request
alone, to the bit: the batch path predicts in whole row blocks (``pipelines.row_blocks``), so a
row's score does not depend on the rows beside it.

On the event loop, ``score`` hands over the requests of one loop iteration together: the
requests read from the sockets in one pass reach the scoring thread as one unit, so the thread
never starts scoring the first of them alone while the others are still being parsed (that
split requests that arrived together into two or three calls). Under concurrent load of small
requests the thread lingers a moment for more (``LINGER_S``); a request to an idle server is
scored at once.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass

import orjson
import pyarrow as pa

from jobs.errors import BatchScoreError
from jobs.serve.online import Served, score_batches
from jobs.serve.records import records_to_batch

log = logging.getLogger(__name__)

MAX_ROWS = 8192  # rows scored in one call at most; a request is never split
# Under concurrent load of small requests (the last call, less than BUSY_S ago, scored several
# requests and at most LINGER_MAX_ROWS rows), the thread waits up to LINGER_S for more requests
# before it scores: the clients answered by the last call send their next requests within
# about a millisecond, and without the wait they form a second group scored by a call of its
# own (two calls per round instead of one). The wait ends as soon as as many requests are in
# as the last call had (its clients are all back). Large calls are not worth a wait: the fixed cost
# of a call is a small part of them. A request to an idle server, or from a lone client
# sending one request after another, never waits.
BUSY_S = 0.02
LINGER_S = 0.002
LINGER_MAX_ROWS = 256


@dataclass
class _Item:
    served: Served
    records: list
    future: Future
    batch: pa.RecordBatch | None = None


class Batcher:
    """The scoring thread of a server process; ``submit`` is safe from any thread, ``score``
    is for the event loop's coroutines."""

    def __init__(self, max_rows: int = MAX_ROWS, linger_s: float = LINGER_S, busy_s: float = BUSY_S) -> None:
        self.max_rows = max_rows
        self.linger_s, self.busy_s = linger_s, busy_s
        self._queue: queue.SimpleQueue[list[_Item] | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._pending: list[_Item] = []  # this loop iteration's requests (event loop only)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="batchscore-scorer", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._queue.put(None)
        if self._thread is not None:
            self._thread.join(timeout=10)

    def submit(self, served: Served, records: list) -> Future:
        """A future of the response body (JSON bytes: model and scores), or of the
        ``BatchScoreError`` that the request's records raise."""
        future: Future = Future()
        self._queue.put([_Item(served, records, future)])
        return future

    async def score(self, served: Served, records: list) -> bytes:
        """The response body of a request (as ``submit``), handed to the scoring thread with
        the other requests of this loop iteration."""
        future: Future = Future()
        if not self._pending:
            asyncio.get_running_loop().call_soon(self._flush)  # runs after this iteration's tasks
        self._pending.append(_Item(served, records, future))
        return await asyncio.wrap_future(future)

    def _flush(self) -> None:
        items, self._pending = self._pending, []
        self._queue.put(items)

    def _run(self) -> None:
        ended, last, last_rows = float("-inf"), 0, 0  # when the last call ended (monotonic), its requests, rows
        while True:
            first = self._queue.get()
            if first is None:
                return
            now = time.monotonic()
            busy = last > 1 and last_rows <= LINGER_MAX_ROWS and now - ended < self.busy_s
            items = self._gather(list(first), now + self.linger_s if busy else now, enough=last if busy else 0)
            try:
                self._score(items)
            except Exception as exc:  # a bug of ours: every waiting request gets it, the thread lives on
                log.exception("serve: scoring %d request(s) failed", len(items))
                for item in items:
                    if not item.future.done():
                        item.future.set_exception(exc)
            ended, last, last_rows = time.monotonic(), len(items), sum(len(item.records) for item in items)

    def _gather(self, items: list[_Item], until: float, enough: int = 0) -> list[_Item]:
        """``items`` and the requests queued behind them (waiting until ``until`` at most, and
        no longer once ``enough`` requests are in: the last call's clients are all back), up
        to ``max_rows`` rows."""
        rows = sum(len(item.records) for item in items)
        while rows < self.max_rows:
            if enough and len(items) >= enough:
                until = 0.0  # take what is already queued, wait no more
            left = until - time.monotonic()
            try:
                more = self._queue.get(timeout=left) if left > 0 else self._queue.get_nowait()
            except queue.Empty:
                break
            if more is None:
                self._queue.put(None)  # stop after this round
                break
            items.extend(more)
            rows += sum(len(item.records) for item in more)
        return items

    def _score(self, items: list[_Item]) -> None:
        ready = []
        for item in items:
            try:
                if item.records:
                    item.batch = records_to_batch(item.records, item.served.version.spec, item.served.id_columns)
                ready.append(item)
            except BatchScoreError as exc:
                item.future.set_exception(exc)
        groups: dict[int, list[_Item]] = {}
        for item in ready:  # a promote between two requests: each keeps its own version
            groups.setdefault(id(item.served), []).append(item)
        for group in groups.values():
            self._score_group(group)

    def _score_group(self, group: list[_Item]) -> None:
        served = group[0].served
        filled = [item for item in group if item.batch is not None]
        for item in group:
            if item.batch is None:
                item.future.set_result(_body(served, []))
        if not filled:
            return
        try:
            outputs = score_batches(served, [item.batch for item in filled])
        except BatchScoreError as exc:
            if len(filled) == 1:
                filled[0].future.set_exception(exc)
                return
            for item in filled:  # which request's rows failed: each on its own
                self._score_group([item])
            return
        for item, rows in zip(filled, outputs, strict=True):
            item.future.set_result(_body(served, rows))


def _body(served: Served, scores: list[dict]) -> bytes:
    return orjson.dumps({"model": served.model, "scores": scores})
