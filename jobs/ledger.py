"""The run ledger (``batchscore_runs``) and the per-(job, day) lock, in the state database.

A run ``claim``s its (job, day): it inserts a lock row (the primary key makes that atomic
across processes, hosts and schedulers), then a ``running`` ledger row. A lock whose owner is
dead -- a process of this host that no longer exists, or another host's lock whose heartbeat
is older than ``LEASE_S`` -- is cleared at once and its run marked failed. A live owner's lock
is never overridden, not even by ``--force``.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import threading
import uuid
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timezone

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from jobs import db
from jobs.errors import JobLocked, StateError
from jobs.liveness import holder_alive, process_identity
from jobs.run_stats import PreviousDay, RunStats
from jobs.vocabulary import Engine, RunStatus
from pipelines.basics import utcnow

log = logging.getLogger(__name__)

HEARTBEAT_S = 15.0  # how often a running claim proves it is alive
LEASE_S = 90.0  # another host's lock without a heartbeat for this long is dead


metadata = sa.MetaData()

runs = sa.Table(
    "batchscore_runs",
    metadata,
    sa.Column("run_id", sa.String(36), primary_key=True),
    sa.Column("job", sa.String(200), nullable=False),
    sa.Column("score_date", sa.Date, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("attempt", sa.Integer, nullable=False),
    sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("finished_at", sa.DateTime(timezone=True)),
    sa.Column("rows_read", sa.BigInteger),
    sa.Column("rows_written", sa.BigInteger),
    sa.Column("rows_rejected", sa.BigInteger),
    sa.Column("model_name", sa.String(200)),
    sa.Column("model_version", sa.Integer),
    sa.Column("engine", sa.String(16)),
    sa.Column("error", sa.Text),
    # jsonb on PostgreSQL (indexable, operators; a table made with json still works as is).
    sa.Column("stats", sa.JSON().with_variant(postgresql.JSONB(), "postgresql")),
    # Where the run wrote the day (``jobs.sinks.output_target``: kind, URL without its
    # password, table or path). NULL on rows written before it was recorded: those count as
    # the job's current target.
    sa.Column("output_target", sa.Text),
    sa.Index("ix_batchscore_runs_job_day", "job", "score_date"),
)

locks = sa.Table(
    "batchscore_locks",
    metadata,
    sa.Column("job", sa.String(200), primary_key=True),
    sa.Column("score_date", sa.Date, primary_key=True),
    sa.Column("run_id", sa.String(36), nullable=False),
    sa.Column("host", sa.String(255), nullable=False),
    sa.Column("pid", sa.Integer, nullable=False),
    sa.Column("pid_started", sa.String(32)),
    sa.Column("acquired_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=False),
)

COLUMNS = [c.name for c in runs.columns]


@dataclass
class Claim:
    """A held (job, day): the ledger row of this attempt and the lock's heartbeat."""

    run_id: str
    job: str
    day: date
    attempt: int
    elsewhere: str | None = None  # the day succeeded before, but into this other target
    _stop: threading.Event = field(default_factory=threading.Event, repr=False)
    _thread: threading.Thread | None = field(default=None, repr=False)


class Ledger:
    def __init__(self, url: str, clock: Callable[[], datetime] = utcnow) -> None:
        self.url = url
        self.clock = clock
        self._engine: sa.Engine | None = None

    @property
    def engine(self) -> sa.Engine:
        if self._engine is None:
            engine = db.state_engine(self.url, metadata, "the run ledger")
            _add_missing_columns(engine)
            self._engine = engine
        return self._engine

    @contextmanager
    def _begin(self):
        """A transaction on the state database; its errors become ``StateError`` (or transient)."""
        with _translated(), db.connect(self.engine, "state", begin=True) as conn:
            yield conn

    # --- claiming ------------------------------------------------------------------------

    def claim(
        self, job: str, day: date, *, force: bool = False, engine: str = Engine.PANDAS, target: str | None = None
    ) -> Claim | None:
        """Lock (job, day) and open its ledger row; None if the day already succeeded into
        ``target`` (rows that recorded no target count as this one). A day that succeeded only
        into other targets is claimed, with the newest of them in ``Claim.elsewhere``.

        Raises ``JobLocked`` while another live process holds the day.
        """
        run_id = str(uuid.uuid4())
        self._lock(job, day, run_id)
        try:
            with self._begin() as conn:
                targets = self._succeeded_targets(conn, job, day)
                if not force and any(same_target(t, target) for t in targets):
                    conn.execute(locks.delete().where(locks.c.run_id == run_id))
                    return None
                elsewhere = next((t for t in targets if not same_target(t, target)), None)
                attempt = 1 + conn.execute(
                    sa.select(sa.func.count()).select_from(runs).where(runs.c.job == job, runs.c.score_date == day)
                ).scalar_one()
                conn.execute(
                    runs.insert().values(
                        run_id=run_id, job=job, score_date=day, status=RunStatus.RUNNING.value,
                        attempt=attempt, started_at=self.clock(), engine=engine, output_target=target,
                    )
                )
        except BaseException:
            self._unlock(run_id)
            raise
        claim = Claim(run_id=run_id, job=job, day=day, attempt=attempt, elsewhere=None if force else elsewhere)
        claim._thread = threading.Thread(target=self._heartbeat, args=(claim,), daemon=True, name=f"heartbeat-{job}")
        claim._thread.start()
        return claim

    def _lock(self, job: str, day: date, run_id: str) -> None:
        me = process_identity()
        for _ in range(5):
            now = self.clock()
            try:
                with self._begin() as conn:
                    conn.execute(
                        locks.insert().values(
                            job=job, score_date=day, run_id=run_id, acquired_at=now, heartbeat_at=now, **me
                        )
                    )
                return
            except StateError as exc:
                if not isinstance(exc.__cause__, sa.exc.IntegrityError):
                    raise
                # held: look at the holder below
            with self._begin() as conn:
                holder = conn.execute(
                    sa.select(locks).where(locks.c.job == job, locks.c.score_date == day)
                ).mappings().first()
                if holder is None:
                    continue  # released meanwhile: try again
                if holder_alive(holder, now, LEASE_S):
                    raise JobLocked(
                        f"already being scored by run {holder['run_id']} (pid {holder['pid']} on "
                        f"{holder['host']}, since {_aware(holder['acquired_at']):%Y-%m-%d %H:%M:%S} UTC)",
                        hint="wait for it to finish; --force does not override a live run",
                        job=job,
                        day=day,
                    )
                log.warning(
                    "%s %s: clearing the lock of dead run %s (pid %s on %s)",
                    job, day, holder["run_id"], holder["pid"], holder["host"],
                )
                conn.execute(locks.delete().where(locks.c.run_id == holder["run_id"]))
                conn.execute(
                    runs.update()
                    .where(runs.c.run_id == holder["run_id"], runs.c.status == RunStatus.RUNNING.value)
                    .values(
                        status=RunStatus.FAILED.value,
                        finished_at=now,
                        error=f"the process running it (pid {holder['pid']} on {holder['host']}) died",
                    )
                )
        raise JobLocked("could not take the lock after 5 tries", hint="try again", job=job, day=day)

    @contextmanager
    def holding(self, job: str, day: date):
        """The (job, day) lock without a ledger row: for work on a day that is no run of it
        (putting back a day a crashed swap left absent). Raises ``JobLocked`` as ``claim``."""
        run_id = str(uuid.uuid4())
        self._lock(job, day, run_id)
        try:
            yield
        finally:
            self._unlock(run_id)

    def _unlock(self, run_id: str) -> None:
        with self._begin() as conn:
            conn.execute(locks.delete().where(locks.c.run_id == run_id))

    def _heartbeat(self, claim: Claim) -> None:
        while not claim._stop.wait(HEARTBEAT_S):
            try:
                with self._begin() as conn:
                    conn.execute(locks.update().where(locks.c.run_id == claim.run_id).values(heartbeat_at=self.clock()))
            except Exception:  # a missed beat is not fatal; the lease allows several
                log.warning("%s %s: heartbeat failed", claim.job, claim.day, exc_info=True)

    # --- closing -------------------------------------------------------------------------

    def set_model(self, claim: Claim, name: str, version: int) -> None:
        with self._begin() as conn:
            conn.execute(runs.update().where(runs.c.run_id == claim.run_id).values(model_name=name, model_version=version))

    def finish(self, claim: Claim, *, rows_read: int, rows_written: int, rows_rejected: int, stats: RunStats) -> None:
        self._close(
            claim, status=RunStatus.SUCCEEDED, rows_read=rows_read, rows_written=rows_written,
            rows_rejected=rows_rejected, stats=stats.to_json(),
        )

    def fail(self, claim: Claim, error: str, stats: RunStats | None = None) -> None:
        self._close(claim, status=RunStatus.FAILED, error=error, stats=stats.to_json() if stats else None)

    def _close(self, claim: Claim, *, status: RunStatus, **values) -> None:
        claim._stop.set()
        if claim._thread is not None:
            claim._thread.join()
        with self._begin() as conn:
            conn.execute(
                runs.update().where(runs.c.run_id == claim.run_id).values(status=status.value, finished_at=self.clock(), **values)
            )
            conn.execute(locks.delete().where(locks.c.run_id == claim.run_id))

    def add_warning(self, run_id: str, warning: str) -> None:
        """Append a warning to a finished run's stats (a post-commit step that failed)."""
        with self._begin() as conn:
            stats = conn.execute(sa.select(runs.c.stats).where(runs.c.run_id == run_id)).scalar_one_or_none()
            stats = RunStats.from_json(json.loads(stats) if isinstance(stats, str) else stats)
            stats = dataclasses.replace(stats, warnings=(*(stats.warnings or ()), warning))
            conn.execute(runs.update().where(runs.c.run_id == run_id).values(stats=stats.to_json()))

    # --- reading -------------------------------------------------------------------------

    @staticmethod
    def _succeeded_targets(conn: sa.Connection, job: str, day: date) -> list[str | None]:
        """The targets the day succeeded into, newest first (None: not recorded)."""
        return list(conn.execute(
            sa.select(runs.c.output_target).where(
                runs.c.job == job, runs.c.score_date == day, runs.c.status == RunStatus.SUCCEEDED.value
            ).order_by(runs.c.started_at.desc())
        ).scalars())

    def succeeded_days(self, job: str, start: date, end: date, target: str | None) -> set[date]:
        """The days in [start, end] that succeeded into ``target`` (what a run would skip)."""
        stmt = sa.select(runs.c.score_date, runs.c.output_target).where(
            runs.c.job == job, runs.c.score_date >= start, runs.c.score_date <= end,
            runs.c.status == RunStatus.SUCCEEDED.value,
        )
        with self._begin() as conn:
            return {day for day, into in conn.execute(stmt) if same_target(into, target)}

    def history(self, job: str, *, last: int | None = None, start: date | None = None, end: date | None = None) -> list[dict]:
        """Ledger rows of a job, newest first, as plain dicts."""
        stmt = sa.select(runs).where(runs.c.job == job)
        if start is not None:
            stmt = stmt.where(runs.c.score_date >= start)
        if end is not None:
            stmt = stmt.where(runs.c.score_date <= end)
        stmt = stmt.order_by(runs.c.started_at.desc(), runs.c.attempt.desc())
        if last is not None:
            stmt = stmt.limit(last)
        with self._begin() as conn:
            return [_row(r) for r in conn.execute(stmt).mappings()]

    def latest_per_day(self, job: str, start: date, end: date, target: str | None = None) -> dict[date, dict]:
        """The decisive row of each day: a succeeded one if any, else the newest. With
        ``target``, only a success into that target (or one that recorded none) is decisive:
        a day that succeeded elsewhere only is represented by its newest row."""
        def decisive(row) -> bool:
            return row["status"] == RunStatus.SUCCEEDED.value and (target is None or same_target(row["output_target"], target))

        out: dict[date, dict] = {}
        for row in reversed(self.history(job, start=start, end=end)):
            day = row["score_date"]
            if day not in out or not decisive(out[day]) or decisive(row):
                out[day] = row
        return out

    def previous_success(self, job: str, day: date) -> dict | None:
        """The newest succeeded run of the last day before ``day`` that succeeded."""
        stmt = (
            sa.select(runs)
            .where(runs.c.job == job, runs.c.score_date < day, runs.c.status == RunStatus.SUCCEEDED.value)
            .order_by(runs.c.score_date.desc(), runs.c.started_at.desc())
            .limit(1)
        )
        with self._begin() as conn:
            row = conn.execute(stmt).mappings().first()
        return None if row is None else _row(row)

    def previous_day(self, job: str, day: date) -> PreviousDay | None:
        """The score distribution of the last succeeded day before ``day``, for drift."""
        row = self.previous_success(job, day)
        scores = RunStats.from_json(row["stats"]).scores if row is not None else None
        return PreviousDay(row["score_date"], scores) if scores is not None else None

    def last_run(self, job: str) -> dict | None:
        rows = self.history(job, last=1)
        return rows[0] if rows else None


def same_target(recorded: str | None, target: str | None) -> bool:
    """Whether a run that recorded ``recorded`` wrote where ``target`` writes. A row from
    before targets were recorded (None) counts as the current target: nothing changes for
    existing ledgers."""
    return recorded is None or target is None or recorded == target


def _add_missing_columns(engine: sa.Engine) -> None:
    """Columns added to ``batchscore_runs`` since it was first created, added to an older
    table (ALTER TABLE ... ADD COLUMN, nullable: old rows keep NULL)."""
    with _translated(), db.connect(engine, "state") as conn:
        have = {c["name"] for c in sa.inspect(conn).get_columns(runs.name)}
    for column in [c for c in runs.columns if c.name not in have]:
        kind = column.type.compile(dialect=engine.dialect)
        # Two processes may race to add it: the loser's error is harmless, looked at below.
        try:
            with db.connect(engine, "state", begin=True) as conn:
                conn.exec_driver_sql(f"ALTER TABLE {runs.name} ADD COLUMN {column.name} {kind}")
        except sa.exc.DBAPIError:
            with _translated(), db.connect(engine, "state") as conn:
                if column.name not in {c["name"] for c in sa.inspect(conn).get_columns(runs.name)}:
                    raise
        log.info("added column %s to %s", column.name, runs.name)


def _translated():
    return db.translated(
        "updating the run ledger", StateError, "check the state database (BATCHSCORE_STATE_URL)"
    )


def _row(mapping) -> dict:
    row = dict(mapping)
    for key in ("started_at", "finished_at"):
        row[key] = _aware(row[key])
    if isinstance(row.get("stats"), str):  # some drivers hand JSON back as text
        row["stats"] = json.loads(row["stats"])
    return row


def _aware(value: datetime | None) -> datetime | None:
    # SQLite keeps no time zone: every timestamp we write is UTC.
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value
