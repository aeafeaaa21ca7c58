"""Scores by id in Redis: a committed day, published whole, made current by one switch.

Keys of a job (``P`` = ``batchscore:<job>``)::

    P:run:<run_id>:<n>        hash: id -> {"score": ..., "label": ...}   (one publish of a run)
    P:run:<run_id>:<n>:meta   the day, model and run of that namespace, as JSON
    P:day:<D>                 "D|<namespace>": the namespace of day D
    P:current                 "D|<namespace>": the newest published day

A day's rows are written into its run's namespace first; then one Lua script points
``P:day:<D>`` (and ``P:current`` unless a newer day is current) at it and lets the day's
previous namespace expire after ``OLD_GRACE_S``. A reader resolves the pointer and reads the
id in one script, so it sees a whole day, the old one or the new one, never half of one.
Every key expires ``ttl_days`` after its publish. A publish that fails leaves the pointers as
they were; the next run of the job (or ``batchscore publish``) publishes the day again.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta

import pyarrow as pa

from jobs.config import JobConfig, RedisPublish
from jobs.errors import BatchScoreError, ConfigError, PublishError
from jobs.output import LABEL, MODEL_NAME, MODEL_VERSION, RUN_ID, SCORE
from jobs.serve.outputs import OutputReader
from jobs.vocabulary import RunStatus

log = logging.getLogger(__name__)

FIELDS_PER_COMMAND = 5_000  # ids written by one HSET: few round trips, bounded command size
OLD_GRACE_S = 60  # a replaced namespace outlives the switch by this, for readers mid-lookup
DAY_S = 86_400

# KEYS: the day's pointer, the current pointer; ARGV: day, namespace, ttl (s), grace (s)
_SWITCH = """
local value = ARGV[1] .. '|' .. ARGV[2]
local old = redis.call('GET', KEYS[1])
redis.call('SET', KEYS[1], value, 'EX', ARGV[3])
local current = redis.call('GET', KEYS[2])
if (not current) or string.sub(current, 1, 10) <= ARGV[1] then
  redis.call('SET', KEYS[2], value, 'EX', ARGV[3])
end
if old and old ~= value then
  local ns = string.sub(old, 12)
  redis.call('EXPIRE', ns, ARGV[4])
  redis.call('EXPIRE', ns .. ':meta', ARGV[4])
end
return 1
"""

# KEYS: a pointer; ARGV: the id. Returns {pointer, value, meta} or nil.
_GET = """
local pointer = redis.call('GET', KEYS[1])
if not pointer then return nil end
local ns = string.sub(pointer, 12)
return {pointer, redis.call('HGET', ns, ARGV[1]), redis.call('GET', ns .. ':meta')}
"""


@dataclass(frozen=True)
class Published:
    job: str
    day: date
    run_id: str
    rows: int


def id_key(values) -> str:
    """The field of an id in a namespace: its values as text, joined by commas."""
    return ",".join(str(v) for v in values)


class RedisScores:
    """One job's scores in Redis; the constructor does no I/O."""

    def __init__(self, job: str, config: RedisPublish) -> None:
        self.job = job
        self.config = config
        self.prefix = f"batchscore:{job}"
        self._client = None
        self._get = None
        self._async = None  # the server's client, on its event loop
        self._aget = None

    @property
    def client(self):
        if self._client is None:
            try:
                import redis
            except ModuleNotFoundError as exc:
                raise ConfigError(
                    "publish.kind redis needs the redis package", hint="pip install 'batchscore[serve]'"
                ) from exc
            self._client = redis.Redis.from_url(self.config.url, socket_timeout=10, socket_connect_timeout=5)
        return self._client

    def pointer(self, day: date | None) -> str:
        return f"{self.prefix}:day:{day.isoformat()}" if day is not None else f"{self.prefix}:current"

    def published_run(self, day: date) -> str | None:
        """The run whose scores are day D's in Redis, or None."""
        value = self._call(lambda: self.client.get(self.pointer(day)), "reading")
        return None if value is None else value.decode().split(":run:", 1)[1].split(":", 1)[0]

    def get(self, ids: Iterable[str], day: date | None) -> tuple[bool, dict | None]:
        """(day published?, the id's row or None): one round trip."""
        if self._get is None:
            self._get = self.client.register_script(_GET)
        found = self._call(lambda: self._get(keys=[self.pointer(day)], args=[id_key(ids)]), "reading")
        return _found(found)

    async def aget(self, ids: Iterable[str], day: date | None) -> tuple[bool, dict | None]:
        """``get`` on the server's event loop (redis.asyncio): no thread per lookup."""
        import redis
        import redis.asyncio

        if self._async is None:
            self._async = redis.asyncio.Redis.from_url(self.config.url, socket_timeout=5, socket_connect_timeout=5)
            self._aget = self._async.register_script(_GET)
        try:
            found = await self._aget(keys=[self.pointer(day)], args=[id_key(ids)])
        except redis.RedisError as exc:
            raise PublishError(
                f"Redis reading failed for job {self.job} at {_redact(self.config.url)}: {type(exc).__name__}: {exc}",
                hint="check that Redis is up",
            ) from exc
        return _found(found)

    def publish(self, day: date, batches: Iterable[pa.RecordBatch], id_columns: list[str], task_multiclass: bool) -> Published:
        """Write the day's rows under their run's namespace, then switch the pointers."""
        ttl = self.config.ttl_days * DAY_S
        client = self.client
        namespace = meta = None
        rows = 0
        run_id = None
        for batch in batches:
            if not batch.num_rows:
                continue
            columns = batch.to_pydict()
            if namespace is None:
                run_id = columns[RUN_ID][0]
                # Each publish writes a namespace of its own, even the same run's again: the
                # namespace readers use now is never written to.
                namespace = f"{self.prefix}:run:{run_id}:{uuid.uuid4().hex[:8]}"
                meta = {
                    "score_date": day.isoformat(), "run_id": run_id,
                    "model": {"name": columns[MODEL_NAME][0], "version": columns[MODEL_VERSION][0]},
                }
            keys = [id_key(v) for v in zip(*(columns[c] for c in id_columns), strict=True)]
            labels = columns[LABEL] if task_multiclass else None
            values = [
                json.dumps({SCORE: s, LABEL: labels[i]} if labels is not None else {SCORE: s})
                for i, s in enumerate(columns[SCORE])
            ]
            for start in range(0, len(keys), FIELDS_PER_COMMAND):
                part = dict(zip(keys[start:start + FIELDS_PER_COMMAND], values[start:start + FIELDS_PER_COMMAND], strict=True))
                # With its TTL from the first write: a publish that dies half-way leaves no
                # namespace that lives for ever.
                self._call(lambda part=part, ns=namespace: client.pipeline(transaction=False).hset(ns, mapping=part).expire(ns, ttl).execute(), "writing")
            rows += len(keys)
        if namespace is None:
            raise PublishError(
                f"the output has no committed rows for {day}", hint="run the day first, then publish it",
            )

        def switch():
            client.set(f"{namespace}:meta", json.dumps(meta), ex=ttl)
            client.eval(_SWITCH, 2, self.pointer(day), self.pointer(None), day.isoformat(), namespace, ttl, OLD_GRACE_S)

        self._call(switch, "switching")
        return Published(self.job, day, run_id, rows)

    def _call(self, fn, doing: str):
        import redis

        try:
            return fn()
        except redis.RedisError as exc:
            raise PublishError(
                f"Redis {doing} failed for job {self.job} at {_redact(self.config.url)}: {type(exc).__name__}: {exc}",
                hint="check that Redis is up; batchscore publish JOB --date D publishes the day again",
            ) from exc


def _found(found) -> tuple[bool, dict | None]:
    """(day published?, row) from the lookup script's answer."""
    if found is None:
        return False, None
    _pointer, value, meta = found
    if value is None or meta is None:
        return meta is not None, None
    return True, {**json.loads(meta), **json.loads(value)}


def publish_day(job: JobConfig, day: date) -> Published:
    """Publish the committed day ``day`` of ``job`` to its Redis."""
    if job.publish is None:
        raise ConfigError(f"job {job.name} has no publish: section", hint="add publish: {kind: redis, url: ...}")
    reader = OutputReader(job.output, job.id_columns)
    multiclass = _multiclass(reader, day)
    columns = [*job.id_columns, SCORE, *([LABEL] if multiclass else []), MODEL_NAME, MODEL_VERSION, RUN_ID]
    target = RedisScores(job.name, job.publish)
    return target.publish(day, reader.iter_day(day, columns), list(job.id_columns), multiclass)


def _multiclass(reader: OutputReader, day: date) -> bool:
    """Whether the output has a label column (a multiclass model wrote it)."""
    return LABEL in reader.columns(day)


def publish_after_commit(job: JobConfig, day: date, run_id: str, ledger) -> tuple[str, ...]:
    """The runner's post-commit step: publish the day, and any recent day whose latest
    succeeded run is not the one Redis holds (a publish that failed before). Never raises:
    a failure is a warning, returned and added to the run's ledger row."""
    warnings = []
    target = RedisScores(job.name, job.publish)
    try:
        runs = recent_runs(ledger, job, day)
    except BatchScoreError as exc:
        runs = {day: run_id}
        log.warning("%s %s: cannot list the recent days to publish: %s", job.name, day, exc)
    for other in sorted(runs):
        try:
            if other != day and target.published_run(other) == runs[other]:
                continue
            done = publish_day(job, other)
            log.info("%s %s: published %d scores to Redis (run %s)", job.name, other, done.rows, done.run_id[:8])
        except BatchScoreError as exc:
            text = f"publish of {other} to Redis failed, the previous day stays current: {exc.what}"
            log.warning("%s %s: %s", job.name, day, text)
            warnings.append(text)
    for text in warnings:
        ledger.add_warning(run_id, text)
    return tuple(warnings)


def recent_runs(ledger, job: JobConfig, day: date) -> dict[date, str]:
    """The latest succeeded run of ``day`` and of each of the newest ``ttl_days`` days of the
    ledger (a backfill's run also redoes the newest days' failed publishes; days older than
    that have expired from Redis anyway)."""
    ttl = timedelta(days=job.publish.ttl_days)
    latest = ledger.latest_per_day(job.name, day - ttl, date.max)
    runs = {d: row["run_id"] for d, row in latest.items() if row["status"] == RunStatus.SUCCEEDED}
    newest = max(runs, default=day)
    return {d: run for d, run in runs.items() if d == day or d > newest - ttl}


def _redact(url: str) -> str:
    if "@" in url:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return url
