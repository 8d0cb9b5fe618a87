"""A PostgreSQL server of the tests' own: Debian's ``postgresql`` package's ``initdb`` into a
temporary directory, run by an unprivileged user (the server refuses root: as root, the
``postgres`` user the package makes, else ``nobody``), listening on a free port of 127.0.0.1
and on a unix socket in that directory; stopped and removed at the end.

``serve()`` is a session fixture's body (``yield from serve()``). Where there is no server to
run (no ``initdb``, no psycopg) the tests skip with the reason, except under ``CI=true``:
there they fail (`make test` installs the package in CI: the Makefile's ``postgresql``)."""

import contextlib
import glob
import os
import pwd
import re
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

SUPERUSER = "postgres"  # the cluster's superuser (initdb -U), trusted on 127.0.0.1 and the socket
# Settings for a throwaway server: nothing is made durable, so commits cost no disk flush.
SETTINGS = {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off", "max_connections": "100"}


@dataclass(frozen=True)
class Server:
    host: str
    port: int
    socket_dir: Path
    log: Path

    def url(self, database: str, driver: str = "postgresql+psycopg") -> str:
        return f"{driver}://{SUPERUSER}@{self.host}:{self.port}/{database}"

    def database(self, name: str) -> str:
        """A new, empty database ``name`` (dropped first if it is there): its URL."""
        import psycopg

        if not re.fullmatch(r"[a-z_][a-z0-9_]*", name):
            raise ValueError(f"not a plain database name: {name!r}")
        with psycopg.connect(self.url("postgres", "postgresql"), autocommit=True) as connection:
            connection.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            connection.execute(f"CREATE DATABASE {name}")
        return self.url(name)


def program(name: str) -> str | None:
    """``initdb``, ``pg_ctl``: on PATH, else in Debian's /usr/lib/postgresql/<version>/bin (newest)."""
    found = shutil.which(name)
    if found:
        return found
    candidates = glob.glob(f"/usr/lib/postgresql/*/bin/{name}")
    version = lambda path: [int(p) for p in re.findall(r"\d+", Path(path).parent.parent.name)]  # noqa: E731
    return max(candidates, key=version) if candidates else None


def missing() -> str | None:
    """Why no server can run here, or None."""
    absent = [name for name in ("initdb", "pg_ctl") if program(name) is None]
    if absent:
        return f"no PostgreSQL server here ({', '.join(absent)} not found; Debian: apt-get install postgresql)"
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return "needs psycopg, the PostgreSQL driver (pip install -e '.[scale]')"
    return None


def _server_user() -> pwd.struct_passwd | None:
    """Who runs the server: None (this process's user) unless this is root, which the server refuses."""
    if os.geteuid() != 0:
        return None
    for name in (SUPERUSER, "nobody"):
        with contextlib.suppress(KeyError):
            return pwd.getpwnam(name)
    raise RuntimeError("running as root, and neither a postgres nor a nobody user to run the server")


def _run(args: list[str], user: pwd.struct_passwd | None, **kwargs) -> subprocess.CompletedProcess:
    as_user = {} if user is None else {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []}
    env = {**os.environ, "LC_ALL": "C", "LANG": "C"} | ({"HOME": user.pw_dir} if user else {})
    return subprocess.run(args, capture_output=True, text=True, env=env, **as_user, **kwargs)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def running_server() -> Iterator[Server]:
    """A server for the block (see the module doc); RuntimeError with its log if it does not start."""
    user = _server_user()
    # In /tmp, not pytest's tmp_path: the server's user must reach it (pytest's is root's, mode 0700).
    root = Path(tempfile.mkdtemp(prefix="trainlab-postgres-"))
    data = root / "data"
    try:
        if user is not None:
            os.chown(root, user.pw_uid, user.pw_gid)
        made = _run(
            [program("initdb"), "-D", str(data), "-U", SUPERUSER, "--auth=trust", "-E", "UTF8", "--no-sync"], user
        )
        if made.returncode != 0:
            raise RuntimeError(f"initdb failed: {made.stderr.strip()}")
        for _ in range(3):  # a port another process takes between the probe and the start: another one
            port, log = _free_port(), root / "server.log"
            options = ["-c listen_addresses=127.0.0.1", f"-p {port}", f"-c unix_socket_directories={root}"]
            options += [f"-c {key}={value}" for key, value in SETTINGS.items()]
            pg_ctl = [program("pg_ctl"), "-D", str(data), "-l", str(log), "-w", "-t", "60"]
            started = _run([*pg_ctl, "-o", " ".join(options), "start"], user)
            if started.returncode == 0:
                break
        else:
            raise RuntimeError(f"the PostgreSQL server did not start: {log.read_text()[-2000:]}")
        try:
            yield Server("127.0.0.1", port, root, log)
        finally:
            _run([program("pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"], user, timeout=120)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def serve() -> Iterator[Server]:
    """The body of a session fixture: ``yield from serve()``."""
    reason = missing()
    if reason is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason}; CI must run the PostgreSQL tests (`make test` installs Debian's postgresql)")
        pytest.skip(reason)
    with running_server() as server:
        yield server
