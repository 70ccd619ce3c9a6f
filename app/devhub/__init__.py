"""A real JupyterHub on loopback, for the embedded demo and the test suite.

Both run the same hub configuration (``jupyterhub_config.py`` beside this file);
only the settings differ: the demo registers hubdesk as a *managed* service
(the hub launches gunicorn, as in production), the tests as an *external*
service they run themselves.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

CONFIG_FILE = Path(__file__).with_name("jupyterhub_config.py")
PROFILES_FILE = Path(__file__).with_name("profiles.yaml")
SERVICE_NAME = "hubdesk"
SERVICE_PREFIX = f"/services/{SERVICE_NAME}/"
# hubdesk under gunicorn, as the production image starts it (the demo, the benchmarks)
GUNICORN_COMMAND = [
    sys.executable,
    "-m",
    "gunicorn",
    "-c",
    "python:hubdesk.gunicorn_conf",
    "hubdesk.wsgi:application",
]


def external_service_env(hub: LocalHub, token: str, secret_key: str, **extra) -> dict:
    """What an external JupyterHub service of ``hub`` sets for itself, plus hubdesk settings.

    (A managed service gets the JUPYTERHUB_* variables from the hub.)
    """
    return {
        "JUPYTERHUB_API_URL": hub.api_url,
        "JUPYTERHUB_API_TOKEN": token,
        "JUPYTERHUB_SERVICE_NAME": SERVICE_NAME,
        "JUPYTERHUB_SERVICE_PREFIX": SERVICE_PREFIX,
        "JUPYTERHUB_CLIENT_ID": f"service-{SERVICE_NAME}",
        "JUPYTERHUB_OAUTH_CALLBACK_URL": f"{SERVICE_PREFIX}oauth_callback",
        "HUBDESK_SECRET_KEY": secret_key,
        **extra,
    }


# What the service token may do (the README's `hubdesk-service` role, and deploy/'s): every
# hubdesk feature but those of OPTIONAL_SERVICE_SCOPES (see hubdesk.permissions.ACTIONS). Not
# admin:users, "tantamount to superuser" (every user's auth state, creating and deleting
# users). read:users carries each user's roles, by which an add and a lesson's start tell
# staff accounts from others (tests/hub/test_least_privilege.py).
SERVICE_SCOPES = [
    "list:users",
    "read:users",
    "admin:groups",
    "read:roles:groups",
    "admin:servers",
]
# Scopes the role leaves out, each with what it buys (the README lists them): an operator
# adds one to the role to have that feature. The demo hub, the test hub and the benchmarks
# grant them (their setup creates users with the service token).
OPTIONAL_SERVICE_SCOPES = {
    "admin:users": "creating missing accounts in a bulk add (a group's Add members)",
    # a part of admin:users: enough for deleting without the rest of it
    "delete:users": "deleting people's accounts (one, or the end of term's)",
}
EVERY_SERVICE_SCOPE = SERVICE_SCOPES + list(OPTIONAL_SERVICE_SCOPES)
# What a person may delegate to hubdesk when they sign in (intersected with their own).
# tokens!user: the person's own tokens only, so that hubdesk can make the one API token
# their lessons start with (hubdesk.lessons.tokens) and revoke their sign-in at sign-out.
OAUTH_CLIENT_ALLOWED_SCOPES = [
    "list:users",
    "read:users",
    "admin:users",
    "admin:groups",
    "read:roles:groups",
    "admin:servers",
    "admin-ui",
    "tokens!user",
]


def hub_roles(
    *,
    helpdesk=(),
    teacher=(),
    reader=(),
    group="class-a",
    service=SERVICE_NAME,
    service_scopes=SERVICE_SCOPES,
) -> list[dict]:
    """The roles of the README: hubdesk's service token, and staff restricted to one group.

    Hub admins need no role: the hub's ``admin`` role already holds every scope. A
    *reader* may only see the group (and, as everyone, start their own servers): the
    tests' person who must not steer anyone's group actions. ``service_scopes``: the
    README's least-privilege role unless told (``EVERY_SERVICE_SCOPE``: every feature).
    """
    access = f"access:services!service={service}"
    readers = []  # only when asked for: the README's roles are the others
    if reader:
        readers.append(
            {
                "name": f"{service}-reader-{group}",
                "description": f"Reader: see {group} and its members, change nothing",
                "scopes": [access, f"list:groups!group={group}", f"read:groups!group={group}"],
                "users": list(reader),
            }
        )
    return readers + [
        {"name": f"{service}-service", "scopes": list(service_scopes), "services": [service]},
        {
            "name": f"{service}-helpdesk-{group}",
            "description": f"Help-desk: find users of {group}, start and stop their servers",
            "scopes": [
                access,
                f"list:users!group={group}",
                f"read:users!group={group}",
                f"servers!group={group}",
            ],
            "users": list(helpdesk),
        },
        {
            "name": f"{service}-teacher-{group}",
            "description": f"Teacher: manage the members and servers of {group}",
            "scopes": [
                access,
                f"list:groups!group={group}",
                f"groups!group={group}",
                f"list:users!group={group}",
                f"read:users!group={group}",
                f"servers!group={group}",
            ],
            "users": list(teacher),
        },
    ]


def free_port() -> int:
    """A free TCP port on loopback (the OS picks it)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def proxy_command() -> list[str]:
    """The configurable-http-proxy to run: ``HUBDESK_DEVHUB_PROXY``, else Node's if installed,
    else the PyPI one beside this Python.

    The PyPI port (0.4) buffers each answer whole, so server-sent events (spawn
    progress) arrive only at the end through it; Node's streams them.
    """
    chosen = os.environ.get("HUBDESK_DEVHUB_PROXY")
    if chosen:
        return [chosen]
    beside = Path(sys.executable).with_name("configurable-http-proxy")
    found = shutil.which("configurable-http-proxy")
    if found and Path(found) != beside and _is_node_script(Path(found)):
        return [found]
    if beside.exists():
        return [str(beside)]
    if not found:
        raise RuntimeError("configurable-http-proxy not found: pip install configurable-http-proxy")
    return [found]


def proxy_streams(command: list[str]) -> bool:
    """Whether this proxy passes server-sent events on as they come (Node's does; the PyPI
    port holds each answer back until it ends)."""
    return _is_node_script(Path(command[0])) or Path(command[0]).name == "node"


def _is_node_script(path: Path) -> bool:
    try:
        with open(path, "rb") as f:
            return b"node" in f.readline()
    except OSError:
        return False


@dataclass
class LocalHub:
    """A JupyterHub process on loopback ports, in its own directory."""

    root: Path
    password: str = field(default_factory=lambda: secrets.token_urlsafe(12))
    public_port: int = field(default_factory=free_port)
    hub_port: int = field(default_factory=free_port)
    proxy_api_port: int = field(default_factory=free_port)
    users: dict = field(default_factory=dict)  # name -> {"admin": bool}
    groups: dict = field(default_factory=dict)
    roles: list = field(default_factory=list)
    services: list = field(default_factory=list)
    named_server_limit_per_user: int = 0
    consecutive_failure_limit: int = 0  # the hub exits after this many failed spawns in a row
    log_level: str = "INFO"
    process: subprocess.Popen | None = None

    @property
    def public_url(self) -> str:
        return f"http://127.0.0.1:{self.public_port}"

    @property
    def api_url(self) -> str:
        """The hub's API, straight at the hub (not through the proxy)."""
        return f"http://127.0.0.1:{self.hub_port}/hub/api"

    def write_settings(self) -> Path:
        self.root.mkdir(parents=True, exist_ok=True)
        settings = {
            "root": str(self.root),
            "public_port": self.public_port,
            "hub_port": self.hub_port,
            "proxy_api_port": self.proxy_api_port,
            "proxy_command": proxy_command(),
            "proxy_auth_token": secrets.token_hex(16),
            "password": self.password,
            "users": sorted(self.users),
            "admin_users": sorted(n for n, u in self.users.items() if u.get("admin")),
            "groups": self.groups,
            "roles": self.roles,
            "services": self.services,
            "named_server_limit_per_user": self.named_server_limit_per_user,
            "consecutive_failure_limit": self.consecutive_failure_limit,
            "log_level": self.log_level,
            "marker": str(self.root),
        }
        path = self.root / "settings.json"
        path.write_text(json.dumps(settings, indent=2), encoding="utf-8")
        path.chmod(0o600)
        return path

    def start(self, *, log=None, timeout: float = 60) -> None:
        """Start the hub and wait until its API answers."""
        settings = self.write_settings()
        env = dict(os.environ, HUBDESK_DEVHUB_SETTINGS=str(settings))
        env["HUBDESK_DEVHUB"] = str(self.root)
        # the proxy and the mock servers must come from this environment
        env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env["PATH"]])
        self.process = subprocess.Popen(
            [sys.executable, "-m", "jupyterhub", "-f", str(CONFIG_FILE)],
            cwd=self.root,
            env=env,
            stdout=log or subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # one process group: stop() ends the hub's children too
        )
        self.wait_until_up(timeout)

    def wait_until_up(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"JupyterHub exited with code {self.process.returncode};"
                    f" see its log in {self.root}"
                )
            try:
                if requests.get(self.public_url + "/hub/api/", timeout=1).ok:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"JupyterHub did not answer within {timeout:.0f} s")

    def stop(self, timeout: float = 20) -> None:
        """Stop the hub, its proxy, its services and its servers."""
        proc, self.process = self.process, None
        if proc is None:
            return
        pgid = proc.pid  # started in a session of its own: it leads its process group
        if proc.poll() is None:
            # the hub stops its managed services and spawned servers on SIGTERM
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                pass
        # (a hub that exited by itself, e.g. after consecutive failed spawns, leaves its
        # proxy behind: it is ended here too)
        try:
            os.killpg(pgid, signal.SIGKILL)  # anything left in the group
        except ProcessLookupError:
            pass
        proc.wait()
        # servers and managed services run in sessions of their own; they carry
        # our marker in their environment, so nothing survives a hub that died
        for pid in processes_marked(self.marker):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    @property
    def marker(self) -> str:
        """An environment entry that every process this hub starts carries."""
        return f"HUBDESK_DEVHUB={self.root}"


def processes_marked(marker: str) -> list[int]:
    """Pids of processes whose environment holds ``marker`` (Linux /proc)."""
    needle = marker.encode() + b"\0"
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if needle in (entry / "environ").read_bytes():
                found.append(int(entry.name))
        except OSError:
            continue
    return found
