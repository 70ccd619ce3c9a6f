"""A real, throwaway PostgreSQL server for the test suite: no mocks, no docker.

``PostgresServer(root).start()`` runs ``initdb`` and ``postgres`` from the newest
``/usr/lib/postgresql/*/bin`` (Debian's layout; ``HUBDESK_PG_BIN`` names another
directory), as the ``postgres`` system user when we are root (both refuse to run
as root), else as ourselves. The server listens only on 127.0.0.1 on a free
port, plus a Unix socket in its own directory that only it (and root) can enter;
it runs with fsync off, so it is fast and its data is disposable (yet it survives
``kill()``, which kills the server, not the machine).

The superuser (``postgres``, trusted on the socket only) is for administration
here; the URLs handed out are for a login role ``hubdesk`` with a random
password (scram-sha-256 over TCP) that owns every database it creates.

Nothing global is registered but an ``atexit`` hook that stops the server and
removes its temporary directory.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import pwd
import secrets
import shutil
import signal
import stat
import subprocess
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

from hubdesk.devhub import free_port

HOST = "127.0.0.1"
SYSTEM_USER = "postgres"  # the account that runs the server when we are root
SUPERUSER = "postgres"
ROLE = "hubdesk"
DEFAULT_DATABASE = "hubdesk"
# postgres -c NAME=VALUE: loopback only, socket for us only, fast and disposable. Not
# synchronous_commit=off: with it, kill() loses the last ~0.5 s of committed transactions
# (WAL still in shared memory), which fault tests that kill and restart would trip over;
# with fsync off, committing synchronously costs next to nothing.
SETTINGS = {
    "listen_addresses": HOST,
    "unix_socket_permissions": "0700",
    "fsync": "off",
    "full_page_writes": "off",
    "max_connections": "200",
    "timezone": "UTC",
}
# the longest Unix socket path Linux takes is 107 bytes
_SOCKET_PATH_MAX = 100


def _version_key(bin_dir: Path) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in bin_dir.parent.name.split("."))
    except ValueError:
        return (-1,)


def bin_dir() -> Path | None:
    """The directory with ``initdb`` and ``postgres``: ``$HUBDESK_PG_BIN``, else the newest
    ``/usr/lib/postgresql/*/bin``, else where the ``initdb`` on PATH really is."""
    if os.environ.get("HUBDESK_PG_BIN"):
        candidates = [Path(os.environ["HUBDESK_PG_BIN"])]
    else:
        candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=_version_key)[::-1]
        if initdb := shutil.which("initdb"):
            candidates.append(Path(initdb).resolve().parent)
    for candidate in candidates:
        if all(os.access(candidate / name, os.X_OK) for name in ("initdb", "postgres")):
            return candidate
    return None


def available() -> str | None:
    """None if a PostgreSQL server can be started here, else why not."""
    if bin_dir() is None:
        where = os.environ.get("HUBDESK_PG_BIN") or "/usr/lib/postgresql/*/bin"
        return f"no PostgreSQL server binaries (initdb, postgres) in {where}"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam(SYSTEM_USER)
        except KeyError:
            return f"running as root, and there is no {SYSTEM_USER!r} user to run PostgreSQL as"
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return "the psycopg driver is not installed"
    return None


def _proc_stat(pid: int) -> tuple[str, int] | None:
    """A process's (state, parent pid), None once it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    state, ppid = text.rpartition(")")[2].split()[:2]
    return state, int(ppid)


def _children(ppid: int) -> set[int]:
    children = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (st := _proc_stat(int(entry.name))) and st[1] == ppid:
            children.add(int(entry.name))
    return children


def _alive(pid: int) -> bool:
    st = _proc_stat(pid)
    return st is not None and st[0] not in ("Z", "X")


def _signal(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)


class PostgresServer:
    """A throwaway PostgreSQL cluster on a free loopback port, in a temp dir, run as `postgres`.

    ``root`` receives the logs (``initdb.log``, ``postgres.log``); the cluster itself
    (``data/`` and the socket directory) goes in ``root/cluster`` when the server's
    user can reach it there, else in a ``hubdesk-pg-*`` temporary directory of its
    own, removed by :meth:`close` (pytest's tmp dirs are private to root).
    ``settings`` adds to or overrides :data:`SETTINGS` (``postgres -c NAME=VALUE``).
    """

    def __init__(self, root: Path, settings: dict[str, str] | None = None):
        self.root = Path(root)
        self.settings = {**SETTINGS, **(settings or {})}
        self.host = HOST
        self.port: int | None = None
        self.user = ROLE
        self.password = secrets.token_urlsafe(24)
        self.cluster_dir: Path | None = None
        self._own_tmp: Path | None = None
        self._proc: subprocess.Popen | None = None
        self._provisioned = False
        self._atexit = False

    # -- where things are

    @property
    def data_dir(self) -> Path:
        return self._cluster() / "data"

    @property
    def socket_dir(self) -> Path:
        return self._cluster() / "run"

    @property
    def log_file(self) -> Path:
        return self.root / "postgres.log"

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int | None:
        """The postmaster's pid while it runs."""
        return self._proc.pid if self.running else None

    @property
    def url(self) -> str:
        """The SQLAlchemy URL of the default database, ``hubdesk``."""
        return self.url_for(DEFAULT_DATABASE)

    def url_for(self, name: str) -> str:
        """The SQLAlchemy URL of database ``name`` (whether it exists or not)."""
        if self.port is None:
            raise RuntimeError("the server was never started")
        credentials = f"{quote(self.user, safe='')}:{quote(self.password, safe='')}"
        return f"postgresql+psycopg://{credentials}@{self.host}:{self.port}/{quote(name, safe='')}"

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<PostgresServer {self.host}:{self.port} {state} in {self.cluster_dir}>"

    def _cluster(self) -> Path:
        if self.cluster_dir is None:
            raise RuntimeError("the server was never started")
        return self.cluster_dir

    # -- lifecycle

    def start(self, timeout: float = 60) -> None:
        """Create the cluster (the first time), start the server, wait until it takes
        connections; the first time also create the ``hubdesk`` role and database."""
        if self.running:
            return
        if reason := available():
            raise RuntimeError(f"cannot start PostgreSQL: {reason}")
        deadline = time.monotonic() + timeout
        if self.cluster_dir is None:
            self._make_dirs()
        if not (self.data_dir / "PG_VERSION").exists():
            self._initdb(timeout)
        if not self._atexit:
            atexit.register(self.close)
            self._atexit = True
        if self.port is None:
            # the first start picks the port; another process may take it before
            # postgres binds it, so try a few
            for attempt in range(3):
                self.port = free_port()
                try:
                    self._launch(deadline)
                    break
                except RuntimeError as error:
                    if attempt == 2 or "Address already in use" not in str(error):
                        self.port = None
                        raise
        else:
            self._launch(deadline)
        if not self._provisioned:
            self._provision()

    def restart(self, timeout: float = 60) -> None:
        """Start again on the same port and data dir (after :meth:`stop` or :meth:`kill`;
        a running server is stopped first). After a kill, postgres runs crash recovery."""
        if self.port is None:
            raise RuntimeError("the server was never started")
        self.stop()
        self.start(timeout)

    def stop(self, timeout: float = 30) -> None:
        """Fast shutdown (SIGINT: open sessions are ended); every server process is gone
        when it returns. Does nothing if the server is not running."""
        proc = self._proc
        if proc is None:
            return
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.send_signal(signal.SIGQUIT)  # immediate shutdown
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    self.kill()
                    return
        self._proc = None

    def kill(self) -> None:
        """The database goes away: SIGKILL the postmaster and its processes (so every
        open connection breaks at once), and wait until they are all gone."""
        proc = self._proc
        if proc is None:
            return
        if proc.poll() is None:
            _signal(proc.pid, signal.SIGSTOP)  # so that it starts no more processes
            victims = _children(proc.pid)
            # its processes first: left without their postmaster, backends would send
            # "terminating connection due to unexpected postmaster exit" before going
            for pid in victims:
                _signal(pid, signal.SIGKILL)
            proc.kill()
            proc.wait()
            deadline = time.monotonic() + 10
            while any(_alive(pid) for pid in victims) and time.monotonic() < deadline:
                time.sleep(0.01)
        self._proc = None

    def close(self) -> None:
        """Stop the server and remove its temporary directory, if it made one."""
        self.stop()
        if self._own_tmp is not None:
            shutil.rmtree(self._own_tmp, ignore_errors=True)
            self._own_tmp = None
            self.cluster_dir = None
            self._provisioned = False
        if self._atexit:
            atexit.unregister(self.close)
            self._atexit = False

    def __enter__(self) -> PostgresServer:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- databases

    def create_database(self, name: str) -> str:
        """CREATE DATABASE ``name``, owned by the ``hubdesk`` role; its SQLAlchemy URL."""
        from psycopg import sql

        with self.admin_connection() as conn:
            conn.execute(
                sql.SQL("CREATE DATABASE {} OWNER {}").format(
                    sql.Identifier(name), sql.Identifier(self.user)
                )
            )
        return self.url_for(name)

    def drop_database(self, name: str) -> None:
        """DROP DATABASE ``name`` if it exists, ending its sessions."""
        from psycopg import sql

        with self.admin_connection() as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )

    def admin_connection(self, dbname: str = "postgres", connect_timeout: int = 10):
        """A psycopg connection (autocommit) as the superuser, over the Unix socket."""
        import psycopg

        return psycopg.connect(
            host=str(self.socket_dir),
            port=self.port,
            user=SUPERUSER,
            dbname=dbname,
            autocommit=True,
            connect_timeout=connect_timeout,
        )

    # -- the work

    def _as_server_user(self) -> dict:
        """subprocess arguments that run a command as the server's user, in the cluster."""
        kwargs = {
            "cwd": self.cluster_dir,
            "env": {
                "PATH": "/usr/local/bin:/usr/bin:/bin",
                "LANG": "C.UTF-8",
                "LC_ALL": "C.UTF-8",
                "TZ": "UTC",
            },
            "stdin": subprocess.DEVNULL,
            "stderr": subprocess.STDOUT,
        }
        if os.geteuid() == 0:
            account = pwd.getpwnam(SYSTEM_USER)
            # group and extra_groups too: user= alone would keep root's groups
            kwargs.update(user=account.pw_uid, group=account.pw_gid, extra_groups=[])
        return kwargs

    def _reachable(self, path: Path) -> bool:
        """Whether the server's user can reach ``path`` (ourselves: always)."""
        if os.geteuid() != 0:
            return True
        uid = pwd.getpwnam(SYSTEM_USER).pw_uid
        for directory in (path, *path.parents):
            st = directory.stat()
            if not (st.st_mode & stat.S_IXOTH or st.st_uid == uid):
                return False
        return True

    def _make_dirs(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        root = self.root.resolve()
        socket_path = root / "cluster" / "run" / ".s.PGSQL.65535"
        if self._reachable(root) and len(str(socket_path)) <= _SOCKET_PATH_MAX:
            cluster = root / "cluster"
            cluster.mkdir(exist_ok=True)
        else:
            cluster = self._own_tmp = Path(tempfile.mkdtemp(prefix="hubdesk-pg-"))
            if not self._reachable(cluster.parent):
                cluster.rmdir()
                cluster = self._own_tmp = Path(tempfile.mkdtemp(prefix="hubdesk-pg-", dir="/tmp"))
        (cluster / "run").mkdir(exist_ok=True)
        for directory in (cluster, cluster / "run"):
            directory.chmod(0o700)
            if os.geteuid() == 0:
                account = pwd.getpwnam(SYSTEM_USER)
                os.chown(directory, account.pw_uid, account.pw_gid)
        self.cluster_dir = cluster

    def _initdb(self, timeout: float) -> None:
        log_file = self.root / "initdb.log"
        command = [
            str(bin_dir() / "initdb"),
            "--pgdata",
            str(self.data_dir),
            "--username",
            SUPERUSER,
            "--auth-local=trust",
            "--auth-host=scram-sha-256",
            "--encoding=UTF8",
            "--locale=C.UTF-8",
            "--no-sync",
        ]
        with log_file.open("ab") as log:
            offset = log.tell()
            try:
                result = subprocess.run(
                    command, stdout=log, timeout=timeout, check=False, **self._as_server_user()
                )
            except subprocess.TimeoutExpired:
                raise RuntimeError(
                    f"initdb took over {timeout}s; {log_file}:\n{_tail(log_file, offset)}"
                ) from None
        if result.returncode != 0:
            raise RuntimeError(
                f"initdb failed ({result.returncode}); {log_file}:\n{_tail(log_file, offset)}"
            )

    def _launch(self, deadline: float) -> None:
        command = [str(bin_dir() / "postgres"), "-D", str(self.data_dir)]
        command += ["-p", str(self.port), "-k", str(self.socket_dir)]
        for name, value in self.settings.items():
            command += ["-c", f"{name}={value}"]
        with self.log_file.open("ab") as log:
            offset = log.tell()
            # its own session: a Ctrl-C in the terminal reaches pytest, which stops it
            self._proc = subprocess.Popen(
                command, stdout=log, start_new_session=True, **self._as_server_user()
            )
        self._wait_ready(deadline, offset)

    def _wait_ready(self, deadline: float, log_offset: int) -> None:
        import psycopg

        proc = self._proc
        while True:
            if proc.poll() is not None:
                self._proc = None
                raise RuntimeError(
                    f"postgres exited ({proc.returncode}) on port {self.port}; "
                    f"{self.log_file}:\n{_tail(self.log_file, log_offset)}"
                )
            try:
                with self.admin_connection(connect_timeout=2):
                    return
            except psycopg.OperationalError as error:
                last = error
            if time.monotonic() > deadline:
                self.kill()
                raise RuntimeError(
                    f"postgres did not take connections in time ({last}); "
                    f"{self.log_file}:\n{_tail(self.log_file, log_offset)}"
                )
            time.sleep(0.02)

    def _provision(self) -> None:
        from psycopg import sql

        with self.admin_connection() as conn:
            conn.execute(
                sql.SQL("CREATE ROLE {} LOGIN CREATEDB PASSWORD {}").format(
                    sql.Identifier(self.user), sql.Literal(self.password)
                )
            )
        self.create_database(DEFAULT_DATABASE)
        self._provisioned = True


def _tail(path: Path, offset: int = 0, size: int = 4000) -> str:
    """The end of what was written to ``path`` from ``offset`` on."""
    try:
        with path.open("rb") as f:
            f.seek(max(offset, f.seek(0, os.SEEK_END) - size))
            return f.read().decode(errors="replace")
    except OSError as error:
        return f"(could not read it: {error})"
