"""Overlap for the pandas engine: a stage that runs ahead in a thread, and chunk scoring in
worker processes. Both are bounded (a few chunks in flight), so memory follows chunk_size.

Threads suffice for read / score / write overlap: the drivers (ADBC, pyarrow, psycopg COPY)
and most of numpy and scikit-learn release the GIL. Processes are for pipelines whose
predict holds the GIL (pure-Python transformers, single-threaded estimators).
"""

from __future__ import annotations

import multiprocessing
import pickle
import queue
import threading
from collections.abc import Iterator

import pyarrow as pa
from threadpoolctl import threadpool_limits

from jobs.errors import BatchScoreError, ScoringError

POLL_S = 0.2  # how often a blocked hand-over looks whether the other side gave up or died


class _Failed:
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


_END = object()


class Prefetch:
    """Iterate ``items`` in a thread, at most ``depth`` items ahead of the consumer.

    An exception in the thread is raised in the consumer. ``close()`` (also on leaving a
    ``with``) stops the thread after the item it is producing and closes ``items`` there.
    """

    def __init__(self, items: Iterator, depth: int, name: str) -> None:
        self._items = items
        self._queue: queue.Queue = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._pump, name=f"batchscore-{name}", daemon=True)
        self._thread.start()

    def _put(self, item) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=POLL_S)
                return True
            except queue.Full:
                continue
        return False

    def _pump(self) -> None:
        try:
            for item in self._items:
                if not self._put(item):
                    return
            self._put(_END)
        except BaseException as exc:  # handed to the consumer, who raises it
            self._put(_Failed(exc))
        finally:
            close = getattr(self._items, "close", None)
            if close is not None:
                close()

    def __iter__(self) -> Iterator:
        while True:
            item = self._queue.get()
            if item is _END:
                return
            if isinstance(item, _Failed):
                raise item.exc
            yield item

    def close(self) -> None:
        self._stop.set()
        self._thread.join()

    def __enter__(self) -> Prefetch:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class WorkerPool:
    """``workers`` processes, each holding the pipeline (unpickled once), scoring chunks with
    ``score_chunk``; ``map`` gives the results in the order of the chunks.

    ``payload``: pipeline, spec, positive, schema, lineage, reject schema, an empty
    ``RunMonitor`` (or None): each chunk's checks are counted into a copy of it, sent back,
    and the run's ``ShadowScorer``: the shadow models score the chunk in the same worker.
    Each worker runs at most ``threads`` OpenMP/BLAS threads (``jobs.engines.cores``).
    """

    def __init__(self, workers: int, payload: tuple, threads: int) -> None:
        context = multiprocessing.get_context("spawn")  # no fork: threads are running
        self.workers = workers
        self._inbox = context.Queue(maxsize=workers)
        self._outbox = context.Queue()
        data = pickle.dumps(payload, protocol=pickle.HIGHEST_PROTOCOL)
        self._processes = [
            context.Process(target=serve, args=(data, self._inbox, self._outbox, threads), daemon=True, name=f"batchscore-worker-{i}")
            for i in range(workers)
        ]
        for process in self._processes:
            process.start()

    def map(self, batches: Iterator[pa.RecordBatch]) -> Iterator[tuple[int, object, object]]:
        """(input rows, ``ChunkResult``, the chunk's ``RunMonitor`` or None) per chunk, in the
        order of ``batches``."""
        done: dict[int, tuple] = {}
        sent = given = 0
        for batch in batches:
            self._send((sent, batch.num_rows, batch))
            sent += 1
            while sent - given >= 2 * self.workers:  # bounded: at most 2 chunks per worker in flight
                yield self._result(given, done)
                given += 1
        while given < sent:
            yield self._result(given, done)
            given += 1

    def _send(self, item) -> None:
        while True:
            try:
                self._inbox.put(item, timeout=POLL_S)
                return
            except queue.Full:
                self._check_alive()

    def _result(self, seq: int, done: dict) -> tuple:
        while seq not in done:
            try:
                got, rows, result, seen, error = self._outbox.get(timeout=POLL_S)
            except queue.Empty:
                self._check_alive()
                continue
            if error is not None:
                kind, what, hint = error
                raise kind(what, hint=hint)
            done[got] = (rows, result, seen)
        return done.pop(seq)

    def _check_alive(self) -> None:
        dead = [p for p in self._processes if not p.is_alive()]
        if dead:
            raise ScoringError(
                f"a scoring worker died (exit code {dead[0].exitcode})",
                hint="out of memory? lower chunk_size or workers",
            )

    def close(self) -> None:
        for _ in self._processes:
            try:
                self._inbox.put_nowait(None)
            except queue.Full:
                break
        for process in self._processes:
            process.join(timeout=5)
            if process.is_alive():
                process.terminate()
                process.join()
        self._inbox.close()
        self._outbox.close()

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def serve(data: bytes, inbox, outbox, threads: int) -> None:
    """A worker's loop: unpickle the pipeline once, then score chunks until told to stop.
    Its thread pools are capped at ``threads`` once the pipeline's libraries are loaded.

    The chunk is conformed once, here: its checks are counted on the way to scoring it, into
    an empty copy of the run's monitor that goes back with the result, to be merged there.
    """
    from jobs.scoring import score_chunk

    pipeline, spec, positive, schema, lineage, reject_schema, monitor, shadows = pickle.loads(data)
    threadpool_limits(limits=threads)  # for the worker's life
    while True:
        item = inbox.get()
        if item is None:
            return
        seq, rows, batch = item
        seen = monitor.empty_copy() if monitor is not None else None
        try:
            result = score_chunk(pipeline, batch, spec, positive, schema, lineage, monitor=seen, reject_schema=reject_schema)
            result = shadows.score(batch, result, schema)  # their errors are in the result
        except BatchScoreError as exc:
            outbox.put((seq, rows, None, None, (type(exc), exc.what, exc.hint)))
        except Exception as exc:  # reported to the parent, which raises it as the run's error
            outbox.put((seq, rows, None, None, (ScoringError, f"{type(exc).__name__}: {exc}", None)))
        else:
            outbox.put((seq, rows, result, seen, None))
