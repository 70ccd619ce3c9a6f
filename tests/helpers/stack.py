"""The test stack: a real JupyterHub on loopback and hubdesk registered with it.

One hub per test session, per pytest-xdist worker (it takes a second or two to start;
each picks free loopback ports and a temporary folder of its own); the fixtures that start
it are in tests/conftest.py, its machinery here. hubdesk runs in
this process, in a thread, as an *external* JupyterHub service behind the hub's
proxy, so tests can read its logs; every request a test makes goes through the
proxy and every sign-in through the hub's login form and OAuth redirects.
Tests make their own groups (``unique()``) so that they never depend on order.
"""

from __future__ import annotations

import html
import logging
import re
import secrets
import threading
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import jupyterhub
import requests
from hubdesk import create_app
from hubdesk.devhub import (
    EVERY_SERVICE_SCOPE,
    OAUTH_CLIENT_ALLOWED_SCOPES,
    PROFILES_FILE,
    SERVICE_NAME,
    LocalHub,
    external_service_env,
    free_port,
    hub_roles,
)
from hubdesk.extensions import shared
from hubdesk.hub import HubClient
from werkzeug.serving import make_server

PREFIX = f"/services/{SERVICE_NAME}/"
# The hub under test is the installed jupyterhub package (LocalHub runs `python -m jupyterhub`
# of this environment; the `stack` fixture checks that the running hub says so). Tests whose
# rules differ between JupyterHub 5.x and 6.x go by its major version.
HUB_VERSION = jupyterhub.__version__
HUB_MAJOR = int(HUB_VERSION.split(".")[0])
NAMED_SERVER_LIMIT = 3
METRICS_TOKEN = "metrics-" + "x" * 24
STAFF_GROUP = "staff-a"  # its members hold a role on class-a's servers (see `stack`)
USERS = {
    "admin": {"admin": True},
    "helpdesk": {},
    "teacher": {},
    "student": {},  # class-a, no access to hubdesk
    "outsider": {},  # class-b
    "mrossi": {},
    "visitor": {},  # may sign in to hubdesk, and nothing else
    "uionly": {},  # admin-ui and nothing else: the hub shows them no user and no group
}


class Format(logging.Formatter):
    def format(self, record):
        record.__dict__.setdefault("request_id", "-")  # werkzeug's lines have none
        return super().format(record)


class Recorder(logging.Handler):
    """Keeps every log line of the session (the session-end token sweep reads them)."""

    def __init__(self):
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record):
        self.lines.append(self.format(record))


@dataclass
class Stack:
    hub: LocalHub
    token: str = field(repr=False)  # never in a test report
    secret_key: str = field(repr=False)
    env: dict = field(repr=False)
    app: object = field(repr=False)
    service_port: int
    log: Recorder
    pages: list = field(
        default_factory=list
    )  # (url, status, headers, text) of every hubdesk answer

    def url(self, path: str = "") -> str:
        """A hubdesk URL through the hub's proxy."""
        return f"{self.hub.public_url}{PREFIX}{path}"

    @property
    def api(self) -> HubClient:
        """The hub's API with the service token: for checking the hub's state."""
        return HubClient(self.hub.api_url, self.token)

    def record(self, response, *args, **kwargs):
        if PREFIX in response.url:
            self.pages.append(
                (response.url, response.status_code, dict(response.headers), response.text)
            )

    @contextmanager
    def streams_taken(self, person: str | None = None):
        """Progress-stream slots of hubdesk's process taken, as by other watchers: all of
        them (by many people), or as many as ``person`` may hold."""
        slots = shared(self.app).streams
        holders = []
        while slots.acquire(person or f"watcher-{len(holders)}") is None:
            holders.append(person or f"watcher-{len(holders)}")
        try:
            yield len(holders)
        finally:
            for holder in holders:
                slots.release(holder)

    def free_stream_slots(self) -> int:
        """How many progress streams hubdesk's process could open now."""
        with self.streams_taken() as free:
            return free

    def groups_changed_elsewhere(self) -> None:
        """Groups were changed behind hubdesk's back (through the API): drop its copy."""
        shared(self.app).groups.invalidate()

    def person_token(self, cookie: str) -> str:
        """The hub token behind a session cookie, found the way only the server can."""
        app = self.app
        data = app.session_interface.get_signing_serializer(app).loads(cookie)
        return shared(app).sessions.find(data["sid"]).token

    def audit_records(self, after: int = 0) -> list[dict]:
        """The audit table's records with an id above ``after``, oldest first."""
        return audit_rows(self.app, after)

    def last_audit_id(self) -> int:
        rows = audit_rows(self.app, 0)
        return rows[-1]["id"] if rows else 0

    def session(self) -> requests.Session:
        s = requests.Session()
        s.hooks["response"].append(self.record)
        return s

    def hub_login(self, username: str, s: requests.Session | None = None):
        """Open hubdesk and sign in on the hub's login form, like a person."""
        s = s or self.session()
        r = s.get(self.url())
        assert "/hub/login" in r.url, r.url
        xsrf = re.search(r'name="_xsrf" value="([^"]+)"', r.text).group(1)
        r = s.post(r.url, data={"username": username, "password": self.hub.password, "_xsrf": xsrf})
        return s, r

    def signin(self, username: str) -> requests.Session:
        """A requests session signed in to hubdesk as ``username``."""
        s, r = self.hub_login(username)
        assert r.status_code == 200 and r.url == self.url(), (r.status_code, r.url)
        return s


def audit_rows(app, after: int = 0) -> list[dict]:
    """An app's audit records with an id above ``after``, oldest first, as dicts."""
    import json

    from hubdesk import db
    from sqlalchemy import select

    with shared(app).database.read() as conn:
        rows = conn.execute(select(db.audit).where(db.audit.c.id > after).order_by(db.audit.c.id))
        return [dict(r._mapping, target=json.loads(r.target)) for r in rows]


def wait_for(condition, seconds=30, every=0.2):
    """Poll for a state, with a deadline (spawns are real and take a second or two)."""
    deadline = time.monotonic() + seconds
    while True:
        value = condition()
        if value:
            return value
        assert time.monotonic() < deadline, "gave up waiting"
        time.sleep(every)


def unique(prefix: str = "t") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def alert(page: str) -> str:
    """What a page says happened, as text: its flash messages, and the messages beside refused
    fields (a form marks the field that holds a refused value: helpers.start_options)."""
    found = re.findall(r'<div class="alert[^"]*" role="alert">(.*?)</div>', page, re.S)
    found += re.findall(
        r'<div class="invalid-feedback[^"]*" id="[^"]*"[^>]*>(.*?)</div>', page, re.S
    )
    return html.unescape(" ".join(found))


def csrf_token(text: str) -> str:
    return re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', text).group(1)


def settings_env(hub: LocalHub, token: str, secret_key: str, **extra) -> dict:
    """The environment a JupyterHub service gets, plus hubdesk's own settings."""
    # no usage sampler (0: recording off): pages' tests seed their own usage record, the
    # sampler's tests sweep on databases of their own, and no sweep lands in a test that
    # counts the hub's calls
    defaults = {"HUBDESK_LOG_LEVEL": "DEBUG", "HUBDESK_USAGE_SAMPLE_SECONDS": "0"}
    return external_service_env(hub, token, secret_key, **{**defaults, **extra})


def stack_roles(service_scopes=EVERY_SERVICE_SCOPE, **people) -> list[dict]:
    """The session hub's roles (``people`` adds to hub_roles', e.g. ``reader=[...]``).

    The service token holds every scope hubdesk can use, the README's optional ones too:
    tests create users with it (tests/test_least_privilege.py runs without them).
    """
    roles = hub_roles(
        helpdesk=["helpdesk"], teacher=["teacher"], service_scopes=service_scopes, **people
    )
    return roles + [
        {
            "name": "hubdesk-staff-class-a",
            "scopes": [
                f"access:services!service={SERVICE_NAME}",
                "list:groups!group=class-a",
                "read:groups!group=class-a",
                "list:users!group=class-a",
                "read:users!group=class-a",
                "servers!group=class-a",
            ],
            "groups": [STAFF_GROUP],
        },
        {
            "name": "hubdesk-visitor",
            "scopes": [f"access:services!service={SERVICE_NAME}"],
            "users": ["visitor"],
        },
        {
            "name": "hubdesk-admin-ui-only",
            "scopes": [f"access:services!service={SERVICE_NAME}", "admin-ui"],
            "users": ["uionly"],
        },
    ]


@contextmanager
def another_app(env: dict):
    """Another hubdesk app in this process (other settings, often the stack's database): its
    job runner stopped on the way out. A runner left polling would go on making the stack's
    lessons' runs from that database, with its own hub client: against a hub where nothing
    listens (test_unreachable's), a lesson's stop would wait there for the hub instead of
    stopping anything (seen once: a roster test waited for servers that never stopped)."""
    app = create_app(env)
    try:
        yield app
    finally:
        shared(app).jobs.stop()
        shared(app).hub.session.close()


@contextmanager
def running_stack(root: Path, *, users=USERS, roles=None, hub_options=None, **env_extra):
    """A hub and hubdesk registered with it, as the session's ``stack`` (which is one).

    ``hub_options`` go to LocalHub (e.g. ``consecutive_failure_limit``), ``env_extra`` to
    hubdesk's settings: a test module whose hub must differ runs one of its own.
    """
    token, secret_key, service_port = secrets.token_hex(32), secrets.token_hex(32), free_port()
    hub = LocalHub(
        root=root,
        users=users,
        groups={
            "class-a": {"users": ["student"], "properties": {}},
            "class-b": {"users": ["outsider"], "properties": {}},
            # whoever is in it may run class-a's servers: a role that can be taken away
            # while the hub runs (tests/test_lessons.py), by leaving the group
            STAFF_GROUP: {"users": [], "properties": {}},
        },
        roles=stack_roles() if roles is None else roles,
        named_server_limit_per_user=NAMED_SERVER_LIMIT,
        services=[
            {
                "name": SERVICE_NAME,
                "url": f"http://127.0.0.1:{service_port}",
                "api_token": token,
                "oauth_no_confirm": True,
                "oauth_client_allowed_scopes": OAUTH_CLIENT_ALLOWED_SCOPES,
            }
        ],
        **(hub_options or {}),
    )
    recorder = Recorder()
    recorder.setFormatter(Format("%(name)s %(levelname)s req=%(request_id)s %(message)s"))
    logging.getLogger().addHandler(recorder)

    # small chunks, so that tests of bulk changes cross chunk boundaries cheaply
    env = settings_env(
        hub,
        token,
        secret_key,
        HUBDESK_MEMBERSHIP_CHUNK="40",
        HUBDESK_PROFILES=str(PROFILES_FILE),  # small, large, slow (3 s), broken (always fails)
        HUBDESK_STATE_DIR=str(root / "hubdesk-state"),
        HUBDESK_METRICS_TOKEN=METRICS_TOKEN,
        **env_extra,
    )
    app = create_app(env)
    # start hubdesk first: the hub waits for its external services at start-up
    server = make_server("127.0.0.1", service_port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    with open(root / "jupyterhub.log", "wb") as hub_log:
        try:
            hub.start(log=hub_log)
            stack = Stack(hub, token, secret_key, env, app, service_port, recorder)
            # the rules chosen by HUB_MAJOR are those of the hub that runs
            assert stack.api.version() == HUB_VERSION, (stack.api.version(), HUB_VERSION)
            yield stack
        finally:
            hub.stop()
            server.shutdown()
            shared(app).jobs.stop()
            logging.getLogger().removeHandler(recorder)
