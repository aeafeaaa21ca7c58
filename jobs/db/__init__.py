"""SQLAlchemy engines for every database batchscore touches, made one way.

``postgresql://`` means the installed psycopg (3) driver; SQLite gets a busy timeout and, for
writers, ``BEGIN IMMEDIATE`` so that concurrent processes queue instead of deadlocking.
Connection failures become ``TransientError`` here, once, with the password hidden.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.pool import NullPool

from jobs.errors import BatchScoreError, ConfigError, SourceError, StateError, TransientError
from pipelines.basics import first_line

SQLITE_BUSY_TIMEOUT_S = 60  # how long a SQLite writer waits for another one to commit
# SQLite's keywords (its documentation's list). SQLAlchemy's SQLite dialect quotes only some
# of them, and SQLite cannot read a column named `nothing` or `returning` unquoted: such a
# passthrough column made the day's INSERT a syntax error. Quoting never hurts, so all are.
SQLITE_KEYWORDS = frozenset("""
    abort action add after all alter always analyze and as asc attach autoincrement before begin between by
    cascade case cast check collate column commit conflict constraint create cross current current_date
    current_time current_timestamp database default deferrable deferred delete desc detach distinct do drop
    each else end escape except exclude exclusive exists explain fail filter first following for foreign from
    full generated glob group groups having if ignore immediate in index indexed initially inner insert instead
    intersect into is isnull join key last left like limit match materialized natural no not nothing notnull
    null nulls of offset on or order others outer over partition plan pragma preceding primary query raise
    range recursive references regexp reindex release rename replace restrict returning right rollback row
    rows savepoint select set table temp temporary then ties to transaction trigger unbounded union unique
    update using vacuum values view virtual when where window with without
""".split())


def parse_url(url: str) -> URL:
    try:
        parsed = make_url(url)
    except sa.exc.ArgumentError as exc:
        raise ConfigError(f"{url!r} is not a database URL", hint="use e.g. sqlite:///data/warehouse.db") from exc
    backend, _, driver = parsed.drivername.partition("+")
    if backend == "postgres":  # libpq's and psql's alias, which SQLAlchemy does not know
        backend = "postgresql"
    if backend == "postgresql":
        parsed = parsed.set(drivername=f"postgresql+{driver or 'psycopg'}")
    return parsed


def redact(url: str | URL) -> str:
    """The URL as it may appear in logs and errors: never with its password."""
    try:
        return (url if isinstance(url, URL) else make_url(url)).render_as_string(hide_password=True)
    except sa.exc.ArgumentError:
        return "<invalid url>"


def is_sqlite(url: str | URL) -> bool:
    return (url if isinstance(url, URL) else parse_url(url)).get_backend_name() == "sqlite"


def is_postgres(url: str | URL) -> bool:
    return (url if isinstance(url, URL) else parse_url(url)).get_backend_name() == "postgresql"


def sqlite_path(url: str | URL) -> Path | None:
    parsed = url if isinstance(url, URL) else parse_url(url)
    db = parsed.database
    return None if not db or db == ":memory:" else Path(db)


def _sqlite_file(url: str | URL) -> Path | None:
    """The resolved file of a SQLite URL (None: another database, or SQLite in memory)."""
    path = sqlite_path(url) if is_sqlite(url) else None
    return None if path is None else path.resolve()


def holds_state(url: str | URL) -> bool:
    """Whether ``url`` is a SQLite file this process keeps state in: the ledger's connections
    open, write and close it all through a run (its lock's heartbeat)."""
    path = _sqlite_file(url)
    return path is not None and path in _STATE_FILES


def make_engine(url: str, *, writer: bool = False, must_exist: bool = False) -> Engine:
    """An engine with no pool kept between runs (cron processes are short-lived).

    ``must_exist``: refuse a SQLite file that is not there, instead of creating an empty one.
    """
    parsed = parse_url(url)
    if is_sqlite(parsed):
        path = sqlite_path(parsed)
        if must_exist and path is not None and not path.exists():
            raise SourceError(
                f"database file {path} does not exist",
                hint="check the url, or create the warehouse first",
            )
        if path is not None and writer:
            path.parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(
            parsed, poolclass=NullPool, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S}
        )
        _quote_sqlite_keywords(engine.dialect)
        _sqlite_transactions(engine, immediate=writer)
        return engine
    try:
        return sa.create_engine(parsed, poolclass=NullPool)
    except ModuleNotFoundError as exc:
        raise ConfigError(
            f"no driver for {parsed.drivername}: {exc.name} is not installed",
            hint="pip install 'batchscore[postgres]'" if is_postgres(parsed) else "install the database driver",
        ) from exc


def sqlite_dialect() -> sa.Dialect:
    """SQLAlchemy's SQLite dialect, quoting every SQLite keyword (SQL compiled for ADBC)."""
    from sqlalchemy.dialects import sqlite

    return _quote_sqlite_keywords(sqlite.dialect())


def _quote_sqlite_keywords(dialect: sa.Dialect) -> sa.Dialect:
    preparer = dialect.identifier_preparer
    preparer.reserved_words = preparer.reserved_words | SQLITE_KEYWORDS  # this dialect's alone
    return dialect


def _sqlite_transactions(engine: Engine, *, immediate: bool) -> None:
    # pysqlite's own transaction handling starts transactions late and never for DDL; take it
    # over so a transaction (DDL included) starts at begin(), and writers lock up front.
    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None

    default = "BEGIN IMMEDIATE" if immediate else "BEGIN"

    @event.listens_for(engine, "begin")
    def _begin(conn):
        # A connection may ask for another kind with execution_options(sqlite_begin=...).
        conn.exec_driver_sql(conn.get_execution_options().get("sqlite_begin", default))


@contextmanager
def connect(engine: Engine, what: str, *, begin: bool = False):
    """A connection (in a transaction if ``begin``); a failure to connect is transient."""
    try:
        cm = engine.begin() if begin else engine.connect()
        conn = cm.__enter__()
    except sa.exc.OperationalError as exc:
        raise cannot_connect(engine.url, what, exc.orig) from exc
    try:
        yield conn
    except BaseException as exc:
        cm.__exit__(type(exc), exc, exc.__traceback__)
        raise
    else:
        cm.__exit__(None, None, None)


def cannot_connect(url: str | URL, what: str, cause: BaseException) -> TransientError:
    """The error for a database that refused or failed a connection, whichever driver tried."""
    return TransientError(
        f"cannot connect to the {what} database {redact(url)}: {first_line(cause)}",
        hint="check that the database is up and the url is right; the run can be retried",
    )


def libpq_uri(url: str | URL) -> str:
    """The libpq URI of a SQLAlchemy URL (``postgresql+psycopg://`` -> ``postgresql://``),
    for the drivers that take one (ADBC's, psycopg's own connections)."""
    parsed = parse_url(url) if isinstance(url, str) else url
    return parsed.set(drivername="postgresql").render_as_string(hide_password=False)


def is_disconnect(exc: BaseException) -> bool:
    return isinstance(exc, sa.exc.DBAPIError) and bool(exc.connection_invalidated)


_TRANSIENT_MARKERS = ("connection", "server closed", "terminating", "timeout", "database is locked", "disk i/o")


def is_transient(exc: BaseException) -> bool:
    """A lost connection, a locked or unreachable database: worth a retry."""
    if is_disconnect(exc):
        return True
    if isinstance(exc, sa.exc.OperationalError):
        return transient_message(exc.orig)
    return False


def transient_message(exc: BaseException) -> bool:
    """A driver's error whose message says the database was locked or unreachable, or dropped
    the connection (for drivers without SQLAlchemy's error classes)."""
    text = str(exc).lower()
    return any(marker in text for marker in _TRANSIENT_MARKERS)


def translated(action: str, permanent: type[BatchScoreError], hint: str):
    """SQLAlchemy's errors raised inside become ours, once: transient ones retryable."""
    return translating(action, permanent, hint, errors=sa.exc.SQLAlchemyError, transient=is_transient,
                       describe=describe_db_error)


@contextmanager
def translating(action: str, permanent: type[BatchScoreError], hint: str, *, errors: type[BaseException] | tuple,
                transient: Callable[[BaseException], bool], describe: Callable[[BaseException], str] = first_line):
    """A driver's ``errors`` raised inside become ours, once: a ``TransientError`` (the run can
    be retried) where ``transient`` says so, else ``permanent`` with ``hint``. The one
    translation of every database path (SQLAlchemy's, ADBC's, psycopg's COPY)."""
    try:
        yield
    except errors as exc:
        if transient(exc):
            raise TransientError(f"{action} failed: {describe(exc)}", hint="the run can be retried") from exc
        raise permanent(f"{action} failed: {describe(exc)}", hint=hint) from exc


def describe_db_error(exc: BaseException) -> str:
    """The driver's first line, without SQLAlchemy's statement and parameter dump."""
    orig = getattr(exc, "orig", None)
    return first_line(orig if orig is not None else exc)


def table_parts(name: str) -> tuple[str | None, str]:
    """``schema.table`` -> (schema, table); ``table`` -> (None, table)."""
    schema, _, table = name.rpartition(".")
    return (schema or None), table


_STATE_FILES: set[Path] = set()  # the SQLite files this process keeps its state in


def state_engine(url: str, metadata: sa.MetaData, what: str) -> Engine:
    """An engine on the state database with ``metadata``'s tables created when missing. Two
    processes creating them at once (two daemons started together on a new PostgreSQL
    database) would collide in its catalog: there they are created one process at a time.
    ``what`` names the tables in errors."""
    engine = make_engine(url, writer=True)
    path = _sqlite_file(engine.url)
    if path is not None:
        _STATE_FILES.add(path)
    with translated(f"updating {what}", StateError, "check the state database (BATCHSCORE_STATE_URL)"), \
            connect(engine, "state", begin=True) as conn:
        if is_postgres(engine.url):
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext('batchscore:state tables'))"))
        metadata.create_all(conn)
    return engine
