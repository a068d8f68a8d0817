"""A throwaway PostgreSQL server for the tests, on a loopback port, from the `pgserver` wheel.

The binaries come from the `pgserver` wheel (a test dependency: `pip install -e '.[test]'` is
all a fresh machine needs; no apt, no system PostgreSQL). Only its bundled `bin/` is used: its
own server manager (`pgserver.get_server`) adds a system user, changes folder modes up the
venv's path and cannot stop and restart a server on demand, which the tests of a PostgreSQL
outage need. Here `initdb` and `pg_ctl` run directly; as root (CI, containers) they run as
`nobody`, since PostgreSQL refuses to run as root.

One server per pytest process (an xdist worker, or the whole run without xdist), started on
first use, stopped and deleted at the end of the session; each test gets its own database,
copied from a migrated template (`CREATE DATABASE ... TEMPLATE`, a few tens of milliseconds).
`DIGESTBOT_TEST_PG_BIN` names another folder of PostgreSQL binaries (13 or newer) to use
instead, e.g. /usr/lib/postgresql/15/bin.
"""

from __future__ import annotations

import atexit
import importlib.util
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

BIN_ENV = "DIGESTBOT_TEST_PG_BIN"
SUPERUSER = "postgres"


def bin_dir() -> Path:
    """The folder of PostgreSQL binaries: $DIGESTBOT_TEST_PG_BIN, else the pgserver wheel's."""
    if os.environ.get(BIN_ENV):
        return Path(os.environ[BIN_ENV])
    # find_spec does not import pgserver (its import warns about XDG_RUNTIME_DIR).
    spec = importlib.util.find_spec("pgserver")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(
            f"no PostgreSQL binaries: install the test extra (pip install -e '.[test]', which "
            f"brings the pgserver wheel) or set {BIN_ENV}"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PgServer:
    """`initdb` in a temp folder, then `start()` / `stop()` (again and again), `remove()`.
    With a `password`, TCP logins need it (scram-sha-256); without, anyone may log in."""

    def __init__(self, password: str | None = None) -> None:
        self.password = password
        self.bin = bin_dir()
        self.root = Path(tempfile.mkdtemp(prefix="digestbot-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self.port = _free_port()
        self._started = False  # once started, the port stays (clients know it)
        atexit.register(self.remove)  # also when the session ends without its fixture teardown
        # PostgreSQL refuses to run as root: then it runs as nobody, owning the folder.
        self._user: pwd.struct_passwd | None = pwd.getpwnam("nobody") if os.geteuid() == 0 else None
        if self._user is not None:
            os.chown(self.root, self._user.pw_uid, self._user.pw_gid)
            if not self._can_run():
                self.bin = self._linked_copy()
        auth = ["--auth=trust"]
        if password is not None:
            pwfile = self.root / "pwfile"
            pwfile.write_text(password + "\n", encoding="utf-8")
            if self._user is not None:
                os.chown(pwfile, self._user.pw_uid, self._user.pw_gid)
            auth = ["--auth-local=trust", "--auth-host=scram-sha-256", f"--pwfile={pwfile}"]
        self._run(
            "initdb", "-D", str(self.data), "-U", SUPERUSER, *auth, "-E", "UTF8",
            "--locale=C", "--no-sync", "--no-instructions",
        )  # fmt: skip

    def _can_run(self) -> bool:
        """Whether `nobody` can reach the binaries (a venv under a private folder, /root...)."""
        try:
            self._run("pg_ctl", "--version")
        except (OSError, RuntimeError):
            return False
        return True

    def _linked_copy(self) -> Path:
        """The installation (bin, lib, share) under our own folder: hard links where the file
        system allows (instant), else copies."""

        def link(src: str, dst: str) -> None:
            try:
                os.link(src, dst)
            except OSError:
                shutil.copy2(src, dst)

        install = self.bin.parent  # <site-packages>/pgserver/pginstall
        copy = self.root / "pgserver" / "pginstall"
        shutil.copytree(install, copy, copy_function=link, symlinks=True)
        # The wheel's binaries find their vendored libraries at $ORIGIN/../../../pgserver.libs.
        libs = install.parent.parent / "pgserver.libs"
        if libs.is_dir():
            shutil.copytree(libs, self.root / "pgserver.libs", copy_function=link, symlinks=True)
        for folder, _, _ in os.walk(self.root):
            os.chmod(folder, 0o755)
        return copy / "bin"

    def _run(self, program: str, *args: str) -> None:
        kwargs: dict[str, object] = {}
        if self._user is not None:
            kwargs = {"user": self._user.pw_uid, "group": self._user.pw_gid, "extra_groups": []}
        done = subprocess.run(
            [str(self.bin / program), *args],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            cwd=self.root,
            **kwargs,  # type: ignore[call-overload]
        )
        if done.returncode:
            log = self.log.read_text(errors="replace") if self.log.exists() else ""
            raise RuntimeError(f"{program} failed ({done.returncode}): {done.stderr}\n{log}")

    def start(self) -> None:
        """Start on `port`; the first time, on another free port if that one was taken
        meanwhile (other processes pick free ports too)."""
        for attempt in range(3):
            try:
                self._start()
                break
            except RuntimeError:
                log = self.log.read_text(errors="replace") if self.log.exists() else ""
                if self._started or attempt == 2 or "could not bind" not in log:
                    raise
                self.port = _free_port()
        self._started = True

    def _start(self) -> None:
        # Loopback TCP only (no Unix socket). No fsync: the data is thrown away, and what a
        # commit wrote reaches the kernel, so it survives the server's process being stopped
        # at once (`stop`), as the outage tests need; only a power cut would lose it. So
        # synchronous_commit stays on: off, a commit returns before its WAL is written at all.
        options = (
            f"-c listen_addresses=127.0.0.1 -c port={self.port} -c unix_socket_directories=''"
            " -c fsync=off -c full_page_writes=off"
        )
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "start")

    def stop(self) -> None:
        """Stop at once (`-m immediate`: what a crash or a pulled plug does to the clients)."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")

    def remove(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def url(self, database: str = "postgres") -> str:
        """The database's URL, without the password (as `state:` takes it)."""
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        """A new empty database; its URL."""
        import psycopg

        with psycopg.connect(self.url(), password=self.password, autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name} TEMPLATE template0")
        return self.url(name)
