"""Two hubdesk instances (the image's gunicorn command, two workers each: four job runners)
on one database sample usage once per interval, not once per worker: the sweeps counted in
the record's coverage and the hub's listing calls counted at a proxy in front of the hub
agree, and a running server is one session, not four."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack

from helpers.durability import hubdesk
from helpers.stack import unique, wait_for
from hubdesk.db import Database
from hubdesk.usage import tables as t
from sqlalchemy import select

INTERVAL = 2  # seconds between sweeps
SWEEPS = 4


def coverage(database):
    with database.read() as conn:
        return conn.execute(
            select(t.usage_coverage.c.started, t.usage_coverage.c.last, t.usage_coverage.c.sweeps)
        ).all()


def test_two_instances_on_one_database_sweep_once_per_interval(stack, proxy, tmp_path):
    user = unique("usage-two")
    stack.api.create_users([user])
    (tmp_path / "db").mkdir()
    database = Database(f"sqlite:///{tmp_path / 'db' / 'hubdesk.sqlite'}")
    try:
        stack.api.start_server(user)  # pending or running: one session either way
        settings = {"HUBDESK_USAGE_SAMPLE_SECONDS": str(INTERVAL)}
        instances = [
            hubdesk(stack, proxy, str(database.url), tmp_path / name, **settings)
            for name in ("first", "second")
        ]
        with ExitStack() as both:
            with ThreadPoolExecutor(2) as pool:  # both boot at once
                list(pool.map(both.enter_context, instances))
            wait_for(lambda: sum(r.sweeps for r in coverage(database)) >= SWEEPS, seconds=30)
        proxy_listings = proxy.count("GET", "/hub/api/users", forwarded=True)
        ((started, last, sweeps),) = coverage(database)  # one span: no sweep was missed
        assert sweeps <= (last - started) / INTERVAL + 1  # at most one per interval
        assert proxy_listings == sweeps  # each sweep is one listing (one page here)
        with database.read() as conn:
            rows = conn.execute(
                select(t.usage_sessions.c.ended).where(t.usage_sessions.c.user == user)
            ).all()
        assert rows == [(None,)]  # one open session, whoever swept
    finally:
        database.dispose()
        stack.api.stop_server(user)
        wait_for(lambda: not any((stack.api.get_user(user).get("servers") or {}).values()))
        stack.api.delete_user(user)
