"""Stopping for a whole group, reviewed server by server; a lesson's times and its cancel.

Against the real hub: the servers really run, the confirmation lists them as the hub has
them, and the job stops exactly those (a server started after the page was shown goes on).
"""

import html
import re
from datetime import UTC, datetime, timedelta

from helpers.lessons import lesson_form, schedule
from helpers.servers import gone_or_stopped, outcomes, post, running
from helpers.stack import alert, csrf_token, unique, wait_for


def listed(page: str) -> dict[tuple[str, str], str]:
    """(member, server) -> the row's text, for each server the stop's confirmation lists."""
    table = re.search(r'data-testid="stop-servers">(.*?)</table>', page, re.S).group(1)
    rows = re.findall(r'<tr data-user="([^"]+)" data-server="([^"]*)"[^>]*>(.*?)</tr>', table, re.S)
    return {
        (html.unescape(u), html.unescape(s)): " ".join(
            html.unescape(re.sub(r"<[^>]+>", " ", body)).split()
        )
        for u, s, body in rows
    }


def confirm_fields(page: str) -> dict:
    """What the confirmation's form sends (its hidden fields and CSRF token)."""
    form = re.search(r'<form method="post"[^>]*>(.*?)</form>', page, re.S).group(1)
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', form))
    return {**{k: html.unescape(v) for k, v in fields.items()}, "csrf_token": csrf_token(page)}


def test_a_group_stop_names_each_server_and_stops_exactly_those(stack, admin, users):
    a, b, c = users(3, prefix="gstop")
    group, other = unique("gstop"), unique("other")
    stack.api.create_group(group, users=[a, b, c])
    stack.api.create_group(other, users=[b])  # b is in another class too
    lesson = schedule(admin, stack, other, lesson_form(start_in=3600, end_in=7200))  # "lab"
    try:
        for user, name in ((a, "lab"), (a, "notes"), (b, "lab")):
            stack.api.start_server(user, name, {"profile": "small"})
        wait_for(lambda: running(stack, a, "lab") and running(stack, a, "notes"))
        wait_for(lambda: running(stack, b, "lab"))
        roster = f"groups/{group}/servers"
        # the roster's stop form: one name (the one its servers use) is the natural choice
        page = admin.get(stack.url(roster)).text
        assert re.search(r'value="named" id="stop-named" checked', page)
        assert 'id="stop-server" name="server" value="lab"' in page
        # an old-style post without a choice is reviewed first, as the named server
        r = post(admin, stack, roster, {"action": "stop", "server": "lab"}, roster)
        assert r.url.startswith(stack.url(f"{roster}/stop?")) and "which=named" in r.url
        # "every server": a's "notes" too, marked as another name
        every = admin.get(stack.url(f"{roster}/stop?which=every")).text
        assert set(listed(every)) == {(a, "lab"), (a, "notes"), (b, "lab")}
        assert "another name" in listed(every)[(a, "notes")]
        # only "lab": the servers, each with member, profile and state; b's in another class
        shown = admin.get(stack.url(f"{roster}/stop?which=named&server=lab"))
        rows = listed(shown.text)
        assert set(rows) == {(a, "lab"), (b, "lab")}, rows
        assert "Small" in rows[(a, "lab")] and "running" in rows[(a, "lab")]
        assert f"also in {other}" in rows[(b, "lab")] and f"lesson of {other}" in rows[(b, "lab")]
        assert 'data-testid="other-classes"' in shown.text
        assert "Stop for 3 members" in html.unescape(shown.text)
        # meanwhile c starts a "lab": not on the page, so the stop leaves it running
        stack.api.start_server(c, "lab", {"profile": "small"})
        wait_for(lambda: running(stack, c, "lab"))
        fields = confirm_fields(shown.text)
        done = admin.post(stack.url(roster), data=fields)
        assert "/servers/jobs/" in done.url, alert(done.text)
        page = wait_for(
            lambda: (
                (p := admin.get(done.url).text)
                and 'data-state="done" data-testid="job-state"' in p
                and p
            ),
            seconds=60,
        )
        got = outcomes(page)
        assert got[a] in ("stopped", "stopping") and got[b] in ("stopped", "stopping"), got
        assert got[c] == "nothing" and "started after you confirmed" in html.unescape(page)
        wait_for(lambda: gone_or_stopped(stack, a, "lab") and gone_or_stopped(stack, b, "lab"))
        assert running(stack, a, "notes") and running(stack, c, "lab")
        # a bad choice is refused in words on the roster, the stop form open with it
        r = admin.get(stack.url(f"{roster}/stop?which=named&server=no/slash"))
        assert r.status_code == 400 and alert(r.text)
        assert 'data-testid="stop-panel" open' in r.text and 'value="no/slash"' in r.text
    finally:
        post(admin, stack, f"groups/{other}/lessons/{lesson}/cancel", {}, "lessons/")
        stack.api.delete_group(group)
        stack.api.delete_group(other)


def test_an_end_before_the_start_is_refused_on_its_field_and_a_cancel_asks_first(stack, admin):
    group = unique("times")
    stack.api.create_group(group)
    try:
        page = f"groups/{group}/lessons/new"
        day = (datetime.now(UTC) + timedelta(days=2)).date().isoformat()
        backwards = dict(lesson_form(), day=day, starts="10:00", ends="09:00")
        r = post(admin, stack, page, backwards, page)
        assert r.status_code == 400 and "ends (09:00) before it starts (10:00)" in alert(r.text)
        field = re.search(r'<input[^>]*id="ends"[^>]*>', r.text).group(0)
        assert 'aria-invalid="true"' in field and 'aria-describedby="ends-error"' in field
        assert 'data-testid="ends-error"' in r.text
        assert f"lessons/{group}" not in admin.get(stack.url(f"groups/{group}/servers")).text
        # said explicitly: a lesson past midnight
        lesson = schedule(admin, stack, group, dict(backwards, overnight="y"))
        change = admin.get(stack.url(f"groups/{group}/lessons/{lesson}")).text
        assert re.search(r'<input[^>]* checked [^>]*id="overnight"', change)
        # the roster's cancel is a page that asks (no JavaScript), and only its POST cancels
        roster = admin.get(stack.url(f"groups/{group}/servers")).text
        assert "data-confirm" not in roster
        cancel = f"groups/{group}/lessons/{lesson}/cancel"
        asked = admin.get(stack.url(cancel))
        assert asked.status_code == 200
        assert "Cancel this lesson" in html.unescape(asked.text) and "10:00–09:00" in asked.text
        assert f'data-lesson="{lesson}"' in admin.get(stack.url(f"groups/{group}/servers")).text
        r = admin.post(stack.url(cancel), data={"csrf_token": csrf_token(asked.text)})
        assert r.url == stack.url(f"groups/{group}/servers") and "Cancelled the lesson" in alert(
            r.text
        )
        again = admin.get(stack.url(cancel)).text
        assert "cancelled already" in html.unescape(again) and 'value="yes"' not in again
    finally:
        stack.api.delete_group(group)
