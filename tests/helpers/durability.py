"""hubdesk under the image's gunicorn command on a database of the test's choosing, its hub
calls through a counting proxy: what the durability tests share. The ``proxy`` and
``admin_cookie`` fixtures are here (a plugin: tests/conftest.py loads it)."""

import hashlib
import re
from contextlib import contextmanager

import pytest
import requests
from hubdesk import db
from hubdesk.db import Database
from hubdesk.devhub import free_port
from hubdesk.extensions import shared
from sqlalchemy import insert, select

from helpers.faultproxy import FaultProxy
from helpers.gunicorn import base_env, gunicorn, wait_healthy
from helpers.stack import PREFIX, unique, wait_for

LEASE = "4"  # seconds: a dead worker's job is taken over this soon (30 in production)


@pytest.fixture
def proxy(stack):
    proxy = FaultProxy(stack.hub.hub_port).start()
    yield proxy
    proxy.stop()


def copy_session(stack, cookie: str, db_url: str) -> None:
    """The stack's session behind ``cookie``, in another database (the same secret key)."""
    app = stack.app
    sid = app.session_interface.get_signing_serializer(app).loads(cookie)["sid"]
    row_id = hashlib.sha256(sid.encode()).hexdigest()  # rows are found by the id's sha256
    with shared(app).database.read() as conn:
        row = conn.execute(select(db.sessions).where(db.sessions.c.id == row_id)).one()
    target = Database(db_url)
    target.upgrade()
    with target.write() as conn:
        conn.execute(insert(db.sessions).values(dict(row._mapping)))
    target.dispose()


@pytest.fixture
def admin_cookie(stack):
    return stack.signin("admin").cookies.get("hubdesk-session", path=PREFIX)


@contextmanager
def hubdesk(stack, proxy, db_url, folder, **settings):
    """hubdesk under gunicorn (2 workers) on ``db_url``, its hub calls through ``proxy``."""
    bind = f"127.0.0.1:{free_port()}"
    folder.mkdir(parents=True, exist_ok=True)
    env = base_env(
        **{
            **stack.env,
            "JUPYTERHUB_API_URL": f"{proxy.url}/hub/api",
            "HUBDESK_BIND": bind,
            "HUBDESK_WORKERS": "2",
            "HUBDESK_DB_URL": db_url,
            "HUBDESK_STATE_DIR": str(folder / "state"),  # its own: only the database is shared
            "HUBDESK_JOB_LEASE_SECONDS": LEASE,
            "HUBDESK_BULK_CONCURRENCY": "2",
            **settings,
        }
    )
    with gunicorn(env, folder) as (process, log):
        base = f"http://{bind}{PREFIX}"
        wait_healthy(process, f"{base}health", log)
        yield process, base


def browser(cookie: str) -> requests.Session:
    s = requests.Session()
    s.cookies.set("hubdesk-session", cookie, domain="127.0.0.1", path=PREFIX)
    return s


def a_class(stack, prefix: str, size: int):
    """A fresh group of ``size`` fresh users; afterwards their "lab" servers, they and it go."""
    group, users = unique(prefix), [unique(prefix) for _ in range(size)]
    stack.api.create_users(users)
    stack.api.create_group(group, users)
    yield group, users
    stack.api.delete_group(group)
    for user in users:
        wait_for(lambda u=user: not _pending(stack, u), seconds=60)
        try:
            stack.api.stop_server(user, "lab", remove=True)
        except Exception:  # noqa: BLE001 - never started
            pass
        wait_for(lambda u=user: "lab" not in _servers(stack, u), seconds=60)
        stack.api.request("DELETE", "users", user)


def _servers(stack, user):
    return stack.api.get_user(user, include_stopped_servers=True).get("servers") or {}


def _pending(stack, user):
    return bool((_servers(stack, user).get("lab") or {}).get("pending"))


def outcomes(page: str) -> dict[str, str]:
    return dict(re.findall(r'<tr data-user="([^"]+)" data-outcome="([^"]+)">', page))


def starts(proxy, user) -> int:
    """How many starts of the user's "lab" the hub received."""
    return proxy.count("POST", rf"/hub/api/users/{user}/servers/lab", forwarded=True)
