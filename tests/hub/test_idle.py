"""Idle servers across the whole hub: the running-servers filter and "stop all that match".

A crowd of 30 users with running servers (more than one page of 25 people): 20 idle since
they started, 10 whose person "came back" (activity POSTed to the hub, 50 minutes ahead:
the hub moves last_activity only forwards, and never more than an hour ahead). Idle times are
then seconds, so the filters here are a few seconds long (0.02 minutes): the same code path
as 2 hours, without waiting for hours.
"""

from __future__ import annotations

import html
import json
import re
from datetime import UTC, datetime, timedelta

import pytest
from helpers.idle import (
    came_back,
    ready,
    remove,
    stopped,
)
from helpers.stack import alert, csrf_token, unique, wait_for
from hubdesk.hub import HubAPIError
from hubdesk.servers import idle as idling
from hubdesk.servers import views

FILTER = {"idle": "0.02", "unit": "minutes"}  # 1.2 s


def rows(page: str) -> list[str]:
    """The "user/server" of each row of the running-servers table, in order."""
    return [html.unescape(v) for v in re.findall(r'<tr data-server="([^"]*)"', page)]


def summary(page: str) -> str:
    found = re.search(r'data-testid="summary">(.*?)</p>', page, re.S)
    return html.unescape(re.sub(r"\s+", " ", found.group(1))).strip()


def hidden_fields(page: str) -> dict:
    return {
        k: html.unescape(v)
        for k, v in re.findall(r'<input [^>]*name="([^"]+)"[^>]*value="([^"]*)"', page)
    }


def running_now(stack) -> dict[str, datetime]:
    """Every running server on the hub ("user/server": last activity), from the hub."""
    found = {}
    for u in stack.api.iter_items("users", params={"state": "active"}):
        for name, s in (u.get("servers") or {}).items():
            if s.get("ready") and not s.get("pending"):
                last = datetime.fromisoformat(s["last_activity"].replace("Z", "+00:00"))
                found[f"{u['name']}/{name}"] = last
    return found


# -- the filter ------------------------------------------------------------------------------


def test_active_users_reads_every_page_a_few_at_a_time(stack, crowd):
    crowd.ready()
    seen = []
    api = stack.api
    api.observe = lambda method, segments, status, seconds: seen.append(segments)
    users = idling.active_users(api, page_size=7)
    names = [u["name"] for u in users]
    assert set(crowd.names) <= set(names)
    assert len(names) == len(set(names))  # each once
    assert len(seen) == -(-len(names) // 7) >= 5  # every page, each asked once


def test_the_filter_covers_every_page_of_people(stack, admin, crowd):
    crowd.ready()
    # without a filter: a page of 25 people; some idle ones of the crowd are on the next page
    page = admin.get(stack.url("servers/?limit=25&sort=recent")).text
    people = {r.split("/")[0] for r in rows(page)}
    assert len(people) == 25 and set(crowd.back) <= people
    assert not set(crowd.idle) <= people
    assert re.match(r"[\d,]+ people have a running server\.", summary(page)), summary(page)

    # with it: every idle server of the whole hub, paged by servers, longest idle first
    hub = running_now(stack)
    cutoff = datetime.now(UTC) - timedelta(seconds=1.2)
    expected = sorted((t, k) for k, t in hub.items() if t <= cutoff)
    shown, offset = [], 0
    while True:
        page = admin.get(stack.url("servers/"), params={**FILTER, "limit": 25, "offset": offset})
        assert page.status_code == 200
        if offset == 0:
            words = summary(page.text)
        got = rows(page.text)
        shown += got
        if len(got) < 25:
            break
        offset += 25
    assert {f"{u}/" for u in crowd.idle} <= set(shown)
    assert not {f"{u}/" for u in crowd.back} & set(shown)
    assert shown == [k for _, k in expected], "longest idle first, each once"
    n = len(expected)
    assert words.startswith(
        f"{n} servers have been idle for at least 1 second, of {len(hub)} running."
    ), words

    # most recently active first: the crowd's idle ones lead (they started last)
    page = admin.get(stack.url("servers/"), params={**FILTER, "limit": 25, "sort": "recent"})
    assert set(rows(page.text)[:20]) == {f"{u}/" for u in crowd.idle}


@pytest.mark.parametrize(
    ("amount", "unit", "words"),
    [
        ("15", "minutes", "15 minutes"),
        ("0.25", "hours", "15 minutes"),
        ("0,25", "hours", "15 minutes"),
        ("1", "hours", "1 hour"),
        ("2", None, "2 hours"),  # the page's older links: hours
    ],
)
def test_any_positive_amount_of_minutes_or_hours(stack, admin, crowd, amount, unit, words):
    crowd.ready()
    params = {"idle": amount, **({"unit": unit} if unit else {})}
    r = admin.get(stack.url("servers/"), params=params)
    assert r.status_code == 200
    assert f"been idle for at least {words}, of " in summary(r.text), summary(r.text)


@pytest.mark.parametrize(
    ("amount", "unit", "said"),
    [
        ("abc", "hours", "“abc” is not a number"),
        ("0", "hours", "above zero"),
        ("-1", "minutes", "above zero"),
        ("NaN", "hours", "“NaN” is not a number"),
        ("1e309", "hours", "“1e309” is not a number"),
        ("0.001", "minutes", "under a second"),
        ("9000", "hours", "at most a year"),
        ("2", "days", "Choose minutes or hours"),
    ],
)
def test_bad_amounts_are_said_in_words(stack, admin, amount, unit, said):
    r = admin.get(stack.url("servers/"), params={"idle": amount, "unit": unit})
    assert r.status_code == 400
    error = re.search(r'data-testid="idle-error">(.*?)</div>', r.text, re.S)
    assert error and said in html.unescape(error.group(1)), r.text[-3000:]
    assert "have a running server" in summary(r.text) or "No one" in summary(r.text)


# -- failed starts on the running list ------------------------------------------------------------


def test_a_failed_start_is_shown_failed_with_the_reason(stack, admin):
    user = unique("failing")
    stack.api.create_users([user])
    try:
        stack.api.start_server(user, "", {"profile": "small"})
        try:
            stack.api.start_server(user, "broken", {"profile": "broken"})
        except HubAPIError:
            pass  # the hub may say so at once
        wait_for(lambda: ready(stack, user) and stopped(stack, user, "broken"))
        page = admin.get(stack.url("servers/?limit=200&sort=recent")).text
        row = re.search(rf'<tr data-server="{user}/broken">(.*?)</tr>', page, re.S)
        assert row, rows(page)
        assert 'data-state="failed"' in row.group(1)
        assert "never starts" in html.unescape(row.group(1))
        assert 'name="server"' not in row.group(1)  # nothing to stop
        assert "failed to start" in summary(page)
        assert f'<tr data-server="{user}/">' in page  # its running one, as before
    finally:
        remove(stack, [user])


# -- stop all that match ------------------------------------------------------------------


def review(session, stack, data):
    token = csrf_token(session.get(stack.url("servers/")).text)
    return session.post(stack.url("servers/stop-idle"), data={"csrf_token": token, **data})


def stopped_page(session, r) -> str:
    """A hub-wide stop's page, where its confirmed POST leads (a job), once it is done."""
    assert r.status_code == 200 and r.history[0].status_code == 303, r.status_code
    assert "/servers/jobs/" in r.url, r.url

    def done():
        page = session.get(r.url).text
        return page if 'data-state="done" data-testid="job-state"' in page else ""

    return wait_for(done)


def test_the_review_caps_how_many_are_stopped_at_once(stack, admin, crowd, monkeypatch):
    crowd.ready()
    monkeypatch.setattr(views, "STOP_AT_ONCE", 5)
    page = admin.get(stack.url("servers/"), params=FILTER).text
    assert "Stop the 5 longest idle…" in page and "At most 5 servers are stopped at once" in page
    r = review(admin, stack, FILTER)
    assert r.status_code == 200
    assert "Stop 5 servers idle for at least 1 second?" in r.text
    assert "at most 5 are stopped at once" in r.text
    assert len(json.loads(hidden_fields(r.text)["servers"])) == 5
    assert all(ready(stack, u) for u in crowd.names)  # a review changes nothing


def test_others_servers_are_not_stopped_by_a_crafted_confirmation(stack, crowd):
    crowd.ready()
    helpdesk = stack.signin("helpdesk")  # class-a only: none of the crowd
    r = review(helpdesk, stack, FILTER)
    assert "No server you may stop has been idle" in alert(r.text)
    victims = [[u, ""] for u in crowd.idle[:2]]
    data = {**FILTER, "confirm": "yes", "servers": json.dumps(victims)}
    r = review(helpdesk, stack, data)
    done = stopped_page(helpdesk, r)
    failed = html.unescape(re.search(r'data-testid="failed">(.*?)</ul>', done, re.S).group(1))
    for u, _ in victims:
        assert f"The default server of {u}: not a server you may stop" in failed
    assert all(ready(stack, u) for u, _ in victims)


def test_stop_all_that_match_checks_each_again(stack, admin, crowd):
    crowd.ready()
    page = admin.get(stack.url("servers/"), params=FILTER).text
    n = int(re.search(r"Stop all (\d+) that match…", page).group(1))
    r = review(admin, stack, FILTER)
    named = html.unescape(re.search(r'data-testid="to-stop">(.*?)</div>', r.text, re.S).group(1))
    for u in crowd.idle:
        assert f"the default server of {u}<" in named
    assert not any(f"of {u}<" in named for u in crowd.back)
    fields = hidden_fields(r.text)
    listed = json.loads(fields["servers"])
    assert len(listed) == n
    # only the crowd's: servers other tests left running are not this test's to stop
    fields["servers"] = json.dumps([p for p in listed if p[0] in crowd.names])

    # meanwhile: someone comes back to one, another is stopped elsewhere
    back, gone, rest = crowd.idle[0], crowd.idle[1], crowd.idle[2:]
    came_back(stack, back)
    stack.api.stop_server(gone, "")
    wait_for(lambda: stopped(stack, gone))

    before = stack.last_audit_id()
    r = admin.post(stack.url("servers/stop-idle"), data=fields)
    done = html.unescape(stopped_page(admin, r))
    assert "Left alone" in done
    assert re.search(rf"The default server of {back}: active again since the list was made", done)
    assert f"The default server of {gone}: no longer running" in done
    for u in rest:
        assert f"the default server of {u}<" in done, u
    assert ready(stack, back)  # left alone
    # stopped from a pool of threads, each in the audit trail under the person's name
    audited = {r["target"]["user"] for r in stack.audit_records(before) if r["person"] == "admin"}
    assert audited >= set(rest) and not audited & {back, gone}
    wait_for(lambda: all(stopped(stack, u) for u in rest))
    assert all(ready(stack, u) for u in crowd.back)  # never named


@pytest.mark.parametrize(
    "data",
    [
        {"idle": "soon", "unit": "hours", "confirm": "yes", "servers": "[]"},
        {"unit": "hours"},
        {"idle": "1", "unit": "hours", "confirm": "yes", "servers": "not json"},
        {"idle": "1", "unit": "hours", "confirm": "yes", "servers": '[["a"]]'},
        {"idle": "1", "unit": "hours", "confirm": "yes", "servers": '{"a": ""}'},
    ],
)
def test_a_damaged_review_is_refused_and_changes_nothing(stack, admin, data):
    start = len(stack.log.lines)
    r = review(admin, stack, data)
    assert r.status_code == 400 and "Nothing was changed." in html.unescape(r.text)
    assert not [line for line in stack.log.lines[start:] if re.search(r"hub DELETE /", line)]
