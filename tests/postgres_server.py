"""PostgreSQL for the state tests: the server a developer runs, or a private one.

``running_postgres()`` gives the URL of a PostgreSQL server with trust authentication:

- ``LANTAI_TEST_PG=auto`` (the default): the server on 127.0.0.1:5432 (database ``test``)
  if it answers without a password, else a private one;
- ``LANTAI_TEST_PG=private``: always a private one (how CI runs, and how to try that path
  on a machine that has a server).

A private server is made from Debian's binaries (``apt-get install postgresql``:
``/usr/lib/postgresql/<version>/bin``) in a temporary folder that holds its data, its
socket and its log, on a free port of 127.0.0.1, and is removed at the end. initdb and
postgres refuse to run as root, so as root they run as the ``postgres`` system user that
Debian's package creates (``runuser``). Each test then takes a schema of its own
(``pg_schema`` in test_alerts.py), so one server serves the whole session.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import sqlalchemy as sa

ENV = "LANTAI_TEST_PG"
DEVELOPER_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
DEBIAN_BINARIES = Path("/usr/lib/postgresql")
SYSTEM_USER = "postgres"
# A test server: durability would only slow it down.
_FAST = "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"


class PostgresUnavailableError(RuntimeError):
    """No server answers and there is no PostgreSQL to start here: the tests on PostgreSQL
    skip (on a developer's machine without it; CI installs it)."""


class PrivateServerError(RuntimeError):
    """A private server was wanted and could not be made, started or stopped: a failure."""


@dataclass(frozen=True, slots=True)
class PgSchema:
    """A test's own schema on the session's server."""

    server: str  # the server's URL
    name: str


def postgres_url(schema: PgSchema, *, timezone: str | None = None) -> str:
    """The server's URL with unqualified tables resolved in ``schema``."""
    options = f"-csearch_path={schema.name}"
    if timezone is not None:
        options += f" -ctimezone={timezone}"
    return f"{schema.server}?options={quote(options)}"


def answers(url: str) -> bool:
    """True when a server takes a password-less connection at ``url``."""
    engine = sa.create_engine(url, connect_args={"connect_timeout": 3})
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except sa.exc.OperationalError:
        return False
    finally:
        engine.dispose()
    return True


@contextmanager
def running_postgres() -> Iterator[str]:
    """A server's URL for the session (see the module docstring)."""
    mode = os.environ.get(ENV, "auto")
    if mode not in {"auto", "private"}:
        raise ValueError(f"{ENV}={mode!r}: expected auto or private")
    if mode == "auto" and answers(DEVELOPER_URL):
        yield DEVELOPER_URL
        return
    binaries = debian_binaries()
    if binaries is None:
        if mode == "private":
            raise PrivateServerError(
                f"{ENV}=private, but {DEBIAN_BINARIES}/*/bin/initdb is missing"
            )
        raise PostgresUnavailableError(
            f"no PostgreSQL answers at {DEVELOPER_URL} and no initdb under {DEBIAN_BINARIES} "
            "(apt-get install postgresql)"
        )
    server = PrivateServer(binaries)
    url = server.start()
    try:
        yield url
    finally:
        server.stop()


def debian_binaries() -> Path | None:
    """The newest installed version's bin folder, or None."""
    found = sorted(
        DEBIAN_BINARIES.glob("*/bin/initdb"),
        key=lambda path: int(path.parent.parent.name) if path.parent.parent.name.isdigit() else 0,
    )
    return found[-1].parent if found else None


class PrivateServer:
    """A throwaway PostgreSQL cluster in a temporary folder, on a free port."""

    def __init__(self, binaries: Path) -> None:
        self._bin = binaries
        self._root: Path | None = None
        self._as_root = os.geteuid() == 0

    @property
    def _data(self) -> Path:
        assert self._root is not None
        return self._root / "data"

    def start(self) -> str:
        """initdb, then start; returns the URL (trust authentication, database postgres)."""
        # Not pytest's tmp_path: its folders are private to root, and postgres must get in.
        self._root = Path(tempfile.mkdtemp(prefix="lantai-pg-"))
        if self._as_root:
            try:
                account = pwd.getpwnam(SYSTEM_USER)
            except KeyError as exc:
                raise PrivateServerError(
                    f"running as root, and there is no {SYSTEM_USER!r} user to run initdb as "
                    "(Debian's postgresql package creates it)"
                ) from exc
            os.chown(self._root, account.pw_uid, account.pw_gid)
        port = _free_port()
        self._run(
            "initdb",
            "-D",
            str(self._data),
            "-U",
            "postgres",
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
        )
        self._run(
            "pg_ctl",
            "-D",
            str(self._data),
            "-l",
            str(self._root / "server.log"),
            "-w",
            "-t",
            "60",
            "-o",
            f"-p {port} -k {self._root} -c listen_addresses=127.0.0.1 {_FAST}",
            "start",
        )
        return f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"

    def stop(self) -> None:
        if self._root is None:
            return
        try:
            if (self._data / "postmaster.pid").exists():
                self._run("pg_ctl", "-D", str(self._data), "-m", "fast", "-w", "stop")
        finally:
            shutil.rmtree(self._root)
            self._root = None

    def _run(self, program: str, *args: str) -> None:
        command = [str(self._bin / program), *args]
        if self._as_root:
            command = ["runuser", "-u", SYSTEM_USER, "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
        if done.returncode != 0:
            log = self._root / "server.log" if self._root is not None else None
            tail = log.read_text(errors="replace")[-2000:] if log and log.exists() else ""
            raise PrivateServerError(
                f"{program} failed ({done.returncode}): {done.stderr.strip()}\n{tail}"
            )


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port
