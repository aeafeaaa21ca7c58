"""A throwaway PostgreSQL server for tests and benchmarks.

Runs the distribution's own ``initdb``/``pg_ctl`` on a free loopback port with durability
switched off (the data lives only as long as the run). PostgreSQL refuses to run as root, so
as root the server runs as an unprivileged user (``nobody``, else a ``batchscore-pg`` system
user created on demand).
"""

from __future__ import annotations

import os
import pwd
import re
import shlex
import shutil
import socket
import stat
import subprocess
from pathlib import Path

SERVER_USER = "postgres"  # the superuser initdb creates (-U); trust auth needs no password
FALLBACK_OS_USER = "batchscore-pg"
START_TIMEOUT_S = 60


class PostgresNotInstalled(RuntimeError):
    """initdb/pg_ctl are not on this machine."""


def find_pg_bin() -> Path:
    """The directory holding initdb and pg_ctl: the newest /usr/lib/postgresql/N/bin, else PATH."""

    def version(path: Path) -> tuple[int, ...]:
        return tuple(int(part) for part in re.findall(r"\d+", path.parent.name))

    installed = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=version, reverse=True)
    candidates = [p.parent for p in installed]
    on_path = shutil.which("initdb")
    if on_path:
        candidates.append(Path(on_path).resolve().parent)
    for directory in candidates:
        if (directory / "pg_ctl").exists():
            return directory
    raise PostgresNotInstalled(
        "PostgreSQL server binaries (initdb, pg_ctl) not found on PATH or under "
        "/usr/lib/postgresql/*/bin; run scripts/setup to install them"
    )


def free_port() -> int:
    """A loopback port nobody listens on right now (the kernel picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _os_user_for_server() -> str | None:
    """None when we may run postgres ourselves; else the unprivileged user to run it as."""
    if os.geteuid() != 0:
        return None
    for name in ("nobody", FALLBACK_OS_USER):
        try:
            pwd.getpwnam(name)
            return name
        except KeyError:
            pass
    subprocess.run(
        ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", FALLBACK_OS_USER],
        check=True,
        capture_output=True,
    )
    return FALLBACK_OS_USER


def _traversable(path: Path) -> None:
    """Let other users walk down to ``path`` (pytest makes its temp roots 0700)."""
    for directory in (path, *path.parents):
        mode = directory.stat().st_mode
        if not mode & stat.S_IXOTH:
            directory.chmod(stat.S_IMODE(mode) | stat.S_IXOTH)


class PostgresServer:
    """A private PostgreSQL cluster under ``base_dir``; ``start()``, ``url(db)``, ``stop()``."""

    def __init__(self, base_dir: Path, settings: dict[str, str] | None = None) -> None:
        self.base_dir = Path(base_dir)
        self.settings = dict(settings or {})  # more server settings (-c name=value)
        self.data_dir = self.base_dir / "data"
        self.socket_dir = self.base_dir / "sock"
        self.log_file = self.base_dir / "postgres.log"
        self.port: int | None = None
        self._bin: Path | None = None
        self._os_user: str | None = None

    def start(self) -> None:
        """initdb (once) and start the server; raises PostgresNotInstalled or RuntimeError."""
        self._bin = find_pg_bin()
        self._os_user = _os_user_for_server()
        self.base_dir.mkdir(parents=True, exist_ok=True)
        self.base_dir.chmod(0o755)
        self.data_dir.mkdir(exist_ok=True)
        self.data_dir.chmod(0o700)  # postgres insists on a private data directory
        self.socket_dir.mkdir(exist_ok=True)
        self.log_file.touch()
        if self._os_user:
            _traversable(self.base_dir)
            account = pwd.getpwnam(self._os_user)
            for path in (self.data_dir, self.socket_dir, self.log_file):
                os.chown(path, account.pw_uid, account.pw_gid)

        if not (self.data_dir / "PG_VERSION").exists():
            self._run(
                "initdb", "-D", str(self.data_dir), "-A", "trust", "-U", SERVER_USER,
                "--encoding=UTF8", "--locale=C", "--no-sync",
            )
        # The port is free when we ask, but another process may take it before postgres binds.
        for attempt in range(3):
            self.port = free_port()
            options = (
                f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.socket_dir} "
                "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
                + "".join(f" -c {name}={value}" for name, value in self.settings.items())
            )
            try:
                self._run(
                    "pg_ctl", "start", "-w", "-t", str(START_TIMEOUT_S), "-D", str(self.data_dir),
                    "-l", str(self.log_file), "-o", options,
                )
                return
            except RuntimeError:
                if attempt == 2:
                    raise

    def stop(self) -> None:
        """Stop at once: the data is thrown away, so a clean shutdown buys nothing."""
        if self.port is None or self._bin is None:
            return
        self._run("pg_ctl", "stop", "-m", "immediate", "-w", "-D", str(self.data_dir))
        self.port = None

    def url(self, db: str = "postgres") -> str:
        """SQLAlchemy URL (psycopg 3 driver) of database ``db`` on this server."""
        if self.port is None:
            raise RuntimeError("PostgresServer.url() before start()")
        return f"postgresql+psycopg://{SERVER_USER}@127.0.0.1:{self.port}/{db}"

    def _run(self, program: str, *args: str) -> None:
        assert self._bin is not None
        command = [str(self._bin / program), *args]
        if self._os_user:
            if shutil.which("runuser"):
                command = ["runuser", "-u", self._os_user, "--", *command]
            else:
                command = ["su", "-s", "/bin/sh", self._os_user, "-c", shlex.join(command)]
        # cwd: postgres complains when it cannot read its working directory (e.g. /root).
        done = subprocess.run(
            command, cwd=self.base_dir, capture_output=True, text=True, stdin=subprocess.DEVNULL
        )
        if done.returncode != 0:
            log_tail = self.log_file.read_text(errors="replace")[-2000:] if self.log_file.exists() else ""
            raise RuntimeError(
                f"{program} failed (exit {done.returncode}): {done.stderr.strip() or done.stdout.strip()}"
                + (f"\n--- {self.log_file} ---\n{log_tail}" if log_tail else "")
            )


def create_database(url: str) -> None:
    """CREATE DATABASE for the database named in ``url`` (connects to ``postgres`` on that server)."""
    _admin(url, "CREATE DATABASE {}")


def drop_database(url: str) -> None:
    """DROP the database named in ``url``, disconnecting anyone still using it."""
    _admin(url, "DROP DATABASE IF EXISTS {} WITH (FORCE)")


def terminate_backends(url: str, condition: str) -> list[bool]:
    """pg_terminate_backend for every other session of ``url``'s database matching
    ``condition`` (SQL over pg_stat_activity); what it returned for each."""
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(sa.text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                f"WHERE datname = current_database() AND pid <> pg_backend_pid() AND ({condition})"
            )).scalars().all()
    finally:
        engine.dispose()


def _admin(url: str, statement: str) -> None:
    import sqlalchemy as sa

    target = sa.engine.make_url(url)
    # CREATE/DROP DATABASE cannot run inside a transaction block.
    engine = sa.create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            quoted = conn.dialect.identifier_preparer.quote(target.database)
            conn.execute(sa.text(statement.format(quoted)))
    finally:
        engine.dispose()
