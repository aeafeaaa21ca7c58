"""Spark sessions for the spark engine, and Spark's exceptions turned into ours.

A run gets its own ``SparkSession`` (its own SQL settings) on the running SparkContext when
there is one (spark-submit's, a backfill's ``kept_context``, a notebook's, the tests');
otherwise it starts a context from the job's ``spark:`` settings and the environment, and
stops it when the run ends.
pyspark is imported here and in the other modules of ``jobs.engines.spark`` only.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from jobs import errors
from jobs.config import SparkSettings
from pipelines.basics import first_line
from jobs.errors import BatchScoreError, ConfigError, ScoringError, SinkError, TransientError

log = logging.getLogger(__name__)

ENV_MASTER = "BATCHSCORE_SPARK_MASTER"  # overrides spark.master of the job file
ENV_JDBC_DIR = "BATCHSCORE_JDBC_DIR"  # searched for JDBC driver jars before /usr/share/java
DEFAULT_MASTER = "local[*]"
JAR_DIRS = (Path("/usr/share/java"),)  # where Debian's lib*-jdbc-java packages put their jars
# backend -> (jar file names, driver class, Debian package)
JDBC_DRIVERS = {
    "postgresql": (("postgresql.jar",), "org.postgresql.Driver", "libpostgresql-jdbc-java"),
    "sqlite": (("sqlite-jdbc.jar", "xerial-sqlite-jdbc.jar"), "org.sqlite.JDBC", "libxerial-sqlite-jdbc-java"),
}
# pyspark 4 warns on every process that it was not tested with pandas 3; our tests are.
PANDAS_WARNING = "PySpark does not yet fully support pandas"
# Settings of every context this module starts (the job's conf may override them).
BASE_CONF = {
    "spark.ui.showConsoleProgress": "false",  # a progress bar would garble the logs on stderr
    "spark.sql.session.timeZone": "UTC",
}


def import_pyspark():
    try:
        import pyspark
    except ImportError as exc:
        raise ConfigError(
            "the spark engine needs pyspark, which is not installed",
            hint="pip install 'batchscore[spark]' (and Java 17), or use engine: pandas",
        ) from exc
    return pyspark


def jdbc_jar(backend: str) -> Path | None:
    """The JDBC driver jar for ``backend`` (postgresql, sqlite), or None if not installed."""
    names, _, _ = JDBC_DRIVERS[backend]
    extra = os.environ.get(ENV_JDBC_DIR)
    for directory in ([Path(extra)] if extra else []) + list(JAR_DIRS):
        for name in names:
            if (directory / name).is_file():
                return (directory / name).resolve()
    return None


def jdbc_jars() -> list[str]:
    """Every JDBC driver jar batchscore knows that is installed (for spark.jars / --jars)."""
    return [str(j) for j in (jdbc_jar(b) for b in JDBC_DRIVERS) if j is not None]


def require_jar(backend: str) -> None:
    if jdbc_jar(backend) is None:
        _, _, package = JDBC_DRIVERS[backend]
        raise ConfigError(
            f"no JDBC driver jar for {backend} in {', '.join(str(d) for d in JAR_DIRS)}",
            hint=f"apt-get install {package} (scripts/setup does), or set {ENV_JDBC_DIR}",
        )


def context_conf(settings: SparkSettings, env=os.environ) -> dict[str, str]:
    """The Spark settings of a context started for a job: base, job file, environment."""
    conf = dict(BASE_CONF)
    conf["spark.master"] = env.get(ENV_MASTER) or settings.master or DEFAULT_MASTER
    if settings.executor_memory:
        conf["spark.executor.memory"] = settings.executor_memory
    conf.update({k: _text(v) for k, v in settings.conf.items()})
    jars = jdbc_jars()
    if conf.get("spark.jars"):
        jars.insert(0, conf["spark.jars"])
    if jars:
        conf["spark.jars"] = ",".join(jars)
    return conf


@contextmanager
def spark_session(settings: SparkSettings, app_name: str, sql_conf: dict[str, str]) -> Iterator:
    """A SparkSession for one run, with ``sql_conf`` set on it alone.

    On a running SparkContext (spark-submit's, ``kept_context``'s, a notebook's) the session is
    a new one on that context, which is left running; otherwise a context is started from the
    job's settings and stopped when the run ends."""
    import_pyspark()
    from pyspark import SparkContext
    from pyspark.sql import SparkSession

    owned = SparkContext._active_spark_context is None
    base = _start(settings, app_name) if owned else SparkSession.builder.getOrCreate()
    session = base.newSession()
    for key, value in sql_conf.items():
        session.conf.set(key, value)
    try:
        yield session
    finally:
        if owned:
            base.stop()


@contextmanager
def kept_context(settings: SparkSettings, app_name: str) -> Iterator[None]:
    """Keep one Spark context running for several runs in this process (the days of a
    backfill): the JVM, its compiled code and the Python workers with their imports and
    unpickled pipeline are started once, not once a day. A context already running is used
    as it is and left running."""
    import_pyspark()
    from pyspark import SparkContext

    if SparkContext._active_spark_context is not None:
        yield
        return
    base = _start(settings, app_name)
    try:
        yield
    finally:
        base.stop()


def _start(settings: SparkSettings, app_name: str):
    """A new SparkContext (and its base session) from the job's settings and the environment."""
    from pyspark import SparkConf, SparkContext
    from pyspark.sql import SparkSession

    conf = context_conf(settings)
    given: dict[str, str] = {}
    if "PYSPARK_GATEWAY_PORT" in os.environ:  # under spark-submit: its settings win
        SparkContext._ensure_initialized()
        given = dict(SparkConf().getAll())
        if given.get("spark.jars") and "spark.jars" in conf:
            conf["spark.jars"] = merge_jars(given.pop("spark.jars"), conf["spark.jars"])
    elif conf["spark.master"].startswith("local"):
        # Local workers run this interpreter (with pandas and scikit-learn), not python3.
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    builder = SparkSession.builder.appName(app_name)
    for key, value in conf.items():
        if key not in given:
            builder = builder.config(key, value)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=PANDAS_WARNING)
            base = builder.getOrCreate()
    except Exception as exc:
        if not _is_spark_error(exc):
            raise
        raise ConfigError(
            f"Spark did not start: {first_line(exc)}",
            hint="the spark engine needs Java 17 (scripts/setup installs it); run with --verbose for details",
        ) from exc
    base.sparkContext.setLogLevel("WARN" if log.isEnabledFor(logging.DEBUG) else "FATAL")
    return base


def merge_jars(first: str, then: str) -> str:
    """Both comma-separated jar lists, each jar once (Spark warns about a jar added twice)."""
    jars: dict[str, str] = {}
    for jar in [*first.split(","), *then.split(",")]:
        if jar.strip():
            jars.setdefault(Path(jar.strip().removeprefix("file:")).name, jar.strip())
    return ",".join(jars.values())


def _text(value) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


# --- errors ------------------------------------------------------------------------------

MARKER = "batchscore-error "  # our errors cross from executors to the driver as this + JSON
_MARKED = re.compile(re.escape(MARKER) + r"(\{.*?\})\s*$", re.MULTILINE)
_PY_ERROR = re.compile(r"^([A-Za-z_][\w.]*(?:Error|Exception|Exit|Interrupt)): (.*)$", re.MULTILINE)
_CAUSED_BY = re.compile(r"^Caused by: ([\w.$]+(?:Exception|Error)): ?(.*)$", re.MULTILINE)
_TRANSIENT = ("connection", "connect", "timeout", "timed out", "sqlite_busy", "database is locked", "i/o", "ioexception")


def marked(exc: BatchScoreError) -> str:
    """Our error as one line that survives Spark's Python -> JVM -> Python trip."""
    return MARKER + json.dumps({"kind": type(exc).__name__, "what": exc.what, "hint": exc.hint})


def translate(exc: BaseException, doing: str, kind: type[BatchScoreError] = SinkError) -> BatchScoreError:
    """A Spark/Py4J exception as one of our errors: ours if an executor raised one, else
    the Python error of the failed task, else the root cause on the JVM side."""
    text = str(exc)
    for match in _MARKED.finditer(text):
        try:
            data = json.loads(match.group(1))
        except ValueError:
            continue
        kind = getattr(errors, str(data.get("kind")), None)
        if isinstance(kind, type) and issubclass(kind, BatchScoreError):
            return kind(data.get("what") or "", hint=data.get("hint"))
    if "Traceback (most recent call last)" in text:
        tail = text.split("Traceback (most recent call last)")[-1]
        found = _PY_ERROR.findall(tail)
        if found:
            name, message = found[-1]
            return ScoringError(
                f"a Spark task failed while {doing}: {name.rsplit('.', 1)[-1]}: {message.strip()}",
                hint="run with --verbose for Spark's log; the day's previous output is untouched",
            )
    causes = _CAUSED_BY.findall(text)
    if causes:
        name, message = causes[-1]
        line = f"{name.rsplit('.', 1)[-1]}: {message.strip()}"
    else:
        line = first_line(exc)
    if "ClassNotFoundException" in line or "No suitable driver" in line:
        return ConfigError(
            f"{doing}: the JDBC driver is missing from Spark: {line}",
            hint="pass the driver jar to spark-submit with --jars, e.g. /usr/share/java/postgresql.jar",
        )
    what = f"{doing} failed in Spark: {line}"
    if any(marker in line.lower() for marker in _TRANSIENT):
        return TransientError(what, hint="the run can be retried; the day's previous output is untouched")
    return kind(what, hint="run with --verbose for Spark's log; the day's previous output is untouched")


def _is_spark_error(exc: BaseException) -> bool:
    module = type(exc).__module__ or ""
    return module.startswith(("py4j", "pyspark"))


@contextmanager
def spark_errors(doing: str, kind: type[BatchScoreError] = SinkError):
    """Spark's and Py4J's exceptions become ours (``kind`` unless they say more), once,
    here; ours pass through."""
    try:
        yield
    except BatchScoreError:
        raise
    except Exception as exc:
        if not _is_spark_error(exc):
            raise
        raise translate(exc, doing, kind) from exc
