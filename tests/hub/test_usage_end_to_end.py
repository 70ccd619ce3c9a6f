"""Usage from a real sweep to the pages: the sampler reads the session's real hub, and the
group's, the person's and the whole hub's pages (and CSVs) show what it recorded.

The other usage tests either check the sampler's rows (test_usage_recording) or the pages
on a record written as the sampler would (tests/helpers/usage_seed.py); this one joins
them. hubdesk here is another app on a database of its own (the signed-in admin's session
copied into it), so that its record holds exactly this test's sweeps."""

from __future__ import annotations

import csv
import io
import time

import pytest
from helpers.durability import copy_session
from helpers.servers import gone_or_stopped, move_activity, running
from helpers.stack import PREFIX, another_app, unique, wait_for
from hubdesk.extensions import shared
from hubdesk.usage.recorder import UsageRecorder


@pytest.fixture
def class_and_app(stack, users, tmp_path):
    ada, bea = users(2, prefix="usage-e2e")
    group = unique("usage-e2e")
    stack.api.create_group(group, [ada, bea])
    db_url = f"sqlite:///{tmp_path / 'usage.sqlite'}"
    cookie = stack.signin("admin").cookies.get("hubdesk-session", path=PREFIX)
    copy_session(stack, cookie, db_url)
    env = dict(stack.env, HUBDESK_DB_URL=db_url, HUBDESK_STATE_DIR=str(tmp_path / "state"))
    try:
        with another_app(env) as app:
            client = app.test_client()
            client.set_cookie("hubdesk-session", cookie, path=PREFIX)
            # its own runner does not sample (the stack's HUBDESK_USAGE_SAMPLE_SECONDS=0):
            # this test's sweeps, at five-minute intervals, are the whole record
            recorder = UsageRecorder(
                shared(app).database, sample_seconds=300, keep_days=30, zone="UTC"
            )
            yield group, ada, bea, recorder, client
    finally:
        stack.api.delete_group(group)


def rows_of(response) -> list[dict]:
    assert response.status_code == 200, response.status_code
    return list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))


def test_a_real_session_reaches_the_group_person_and_hub_pages(stack, class_and_app):
    group, ada, bea, recorder, client = class_and_app
    recorder.sweep(stack.api)  # the record begins
    stack.api.start_server(ada, "lab", {"profile": "small"})
    wait_for(lambda: running(stack, ada, "lab"))
    recorder.sweep(stack.api)  # seen ready: the start is not activity
    move_activity(stack, ada, "lab")  # ada works
    # the next sweeps said to be two and four minutes on (within the sampling interval, so
    # no gap): numbers big enough to read in hours, without waiting minutes for them
    now = time.time()
    recorder.sweep(stack.api, now=now + 120)
    stack.api.stop_server(ada, "lab")
    wait_for(lambda: gone_or_stopped(stack, ada, "lab"))
    recorder.sweep(stack.api, now=now + 240)

    # the group: ada worked today, bea never started anything
    page = client.get(f"{PREFIX}usage/groups/{group}?days=7").get_data(as_text=True)
    assert "hubdesk&#39;s own record" in page or "hubdesk's own record" in page
    members = {
        r["member"]: r
        for r in rows_of(client.get(f"{PREFIX}usage/groups/{group}/members.csv?days=7"))
    }
    assert set(members) == {ada, bea}
    assert members[ada]["days active"] == "1"
    assert float(members[ada]["server hours"]) >= 0.06  # four minutes and more
    assert float(members[ada]["active hours"]) >= 0.03  # two minutes: ada's work
    assert members[bea]["days active"] == "0" and float(members[bea]["server hours"]) == 0
    assert 'data-testid="never"' in page and bea in page.split('data-testid="never"', 1)[1]

    # the person: one session of "lab", profile small, ended
    (session,) = rows_of(client.get(f"{PREFIX}usage/users/{ada}/sessions.csv?days=7"))
    assert session["server"] == "lab" and "small" in session["profile"].lower()
    assert session[next(k for k in session if k.startswith("ended ("))]
    assert int(session["active seconds"]) >= 120 and int(session["seconds"]) >= 240

    # the whole hub: today has the start
    starts = rows_of(client.get(f"{PREFIX}usage/hub.csv?table=starts&days=7"))
    assert int(starts[-1]["servers started"]) >= 1
