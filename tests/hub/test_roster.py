"""A group's servers page is its class roster: members, their servers, failures, actions.

Against the real hub: servers really start (the mock single-user server) and really fail
(the "broken" profile), and the hub's state is checked afterwards.
"""

import html
import re
from urllib.parse import urlparse

from helpers.servers import gone_or_stopped, outcomes, post, running, server  # noqa: F401
from helpers.stack import alert, csrf_token, unique, wait_for


def roster_rows(page: str) -> dict[tuple[str, str], str]:
    """(member, server) -> state, for every row of the roster on ``page``."""
    found = re.findall(r'<tr data-user="([^"]+)" data-server="([^"]*)" data-state="([^"]+)">', page)
    return {(html.unescape(u), html.unescape(s)): state for u, s, state in found}


def roster_row(page: str, user: str, server_name: str) -> str:
    """The text of one row."""
    start = f'<tr data-user="{re.escape(user)}" data-server="{re.escape(server_name)}"'
    row = re.search(start + r"[^>]*>(.*?)</tr>", page, re.S)
    assert row, f"no row for {user}/{server_name}"
    return html.unescape(re.sub(r"<[^>]+>", " ", row.group(1)))


def hub_calls(stack, during) -> list[str]:
    """The hub calls hubdesk made while ``during()`` ran (its own log says each one)."""
    before = len(stack.log.lines)
    during()
    return [
        line
        for line in stack.log.lines[before:]
        if line.startswith("hubdesk.hub") and " hub " in line
    ]


def finish(session, stack, r):
    """Confirm a reviewed group action and wait until its job is done; the job page."""
    assert 'name="confirm" value="yes"' in r.text, alert(r.text)
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', r.text))
    selected = re.findall(r'<input type="hidden" name="selected" value="([^"]*)">', r.text)
    data = {k: html.unescape(v) for k, v in fields.items() if k != "selected"}
    data["selected"] = [html.unescape(v) for v in selected]
    done = session.post(r.url, data=data)
    assert "/servers/jobs/" in done.url, alert(done.text)
    return wait_for(
        lambda: (
            (p := session.get(done.url).text)
            and 'data-state="done" data-testid="job-state"' in p
            and p
        ),
        seconds=90,
    )


def test_the_roster_shows_each_member_and_their_servers(stack, admin, users):  # noqa: F811
    a, b, c = users(3, prefix="ros")
    group = unique("ros")
    stack.api.create_group(group, users=[a, b, c])
    try:
        stack.api.start_server(a, "lab", {"profile": "small"})
        stack.api.start_server(b, "", {"profile": "broken"})  # fails at once
        wait_for(lambda: running(stack, a, "lab") and gone_or_stopped(stack, b, ""))
        page = admin.get(stack.url(f"groups/{group}/servers")).text
        rows = roster_rows(page)
        assert rows[(a, "lab")] == "running"
        assert rows[(b, "")] == "failed"
        assert "never starts" in roster_row(page, b, "")  # the spawner's reason
        assert rows[(c, "")] == "none" and "no server yet" in roster_row(page, c, "")
        assert "Small" in roster_row(page, a, "lab") and "Open" in roster_row(page, a, "lab")
        assert "1 running" in page and "1 failed" in page
        # the failure is on the user's page too, and on its progress page, no bar
        assert 'data-state="failed"' in admin.get(stack.url(f"users/{b}")).text
        progress = admin.get(stack.url(f"users/{b}/server/progress")).text
        assert "Its last start failed" in html.unescape(progress) and "progressbar" not in progress
        # a normally stopped server: no failure, no full bar
        stack.api.stop_server(a, "lab")
        wait_for(lambda: gone_or_stopped(stack, a, "lab"))
        progress = admin.get(stack.url(f"users/{a}/servers/lab/progress")).text
        assert "did not fail" in progress and "progressbar" not in progress
        assert roster_rows(admin.get(stack.url(f"groups/{group}/servers")).text)[(a, "lab")] == (
            "stopped"
        )
    finally:
        stack.api.delete_group(group)


def test_the_roster_is_paged_filtered_and_costs_a_page_of_hub_calls(stack, admin, users):  # noqa: F811
    members = users(30, prefix="big")
    group = unique("big")
    stack.api.create_group(group, users=members)
    try:
        url = stack.url(f"groups/{group}/servers?rlimit=25")
        pages = []
        calls = hub_calls(stack, lambda: pages.append(admin.get(url).text))
        assert len(roster_rows(pages[0])) == 25
        assert "1–25 of 30" in pages[0]
        mine = calls[0].split()[2]  # this page's request id (the job runner logs too)
        calls = [c for c in calls if c.split()[2] == mine]
        # at most a call per member on the page (none for the other 5): on a small hub,
        # one list of every user is cheaper, and hubdesk asks that way (HubClient.user_models);
        # none of these members ever started a server, so there is no failure to ask about
        assert len([c for c in calls if " /users/" in c]) <= 25, calls
        assert len(calls) <= 25 + 3, calls  # + the group (+ the hub's version)
        second = admin.get(stack.url(f"groups/{group}/servers?rlimit=25&roffset=25")).text
        assert len(roster_rows(second)) == 5
        one = sorted(members, key=str.casefold)[7]
        found = admin.get(stack.url(f"groups/{group}/servers?rq={one}")).text
        assert set(roster_rows(found)) == {(one, "")}
    finally:
        stack.api.delete_group(group)


def test_start_for_the_ticked_members_and_stop_ticked_servers(stack, admin, users):  # noqa: F811
    a, b, c = users(3, prefix="tick")
    group = unique("tick")
    stack.api.create_group(group, users=[a, b, c])
    try:
        stack.api.start_server(b, "other", {"profile": "small"})
        wait_for(lambda: running(stack, b, "other"))
        page_url = f"groups/{group}/servers"
        data = {"action": "start-selected", "server": "lab", "profile": "small"}
        r = post(admin, stack, page_url, dict(data, selected=[f"{a}/", f"{b}/other"]), page_url)
        assert "for 2 members" in html.unescape(r.text)
        got = outcomes(finish(admin, stack, r))
        assert got == {a: "started", b: "started"}
        assert running(stack, a, "lab") and running(stack, b, "lab")
        assert server(stack, c, "lab") is None  # not ticked: not started
        # stop only b's "lab" (ticked); b's "other" and a's "lab" go on
        r = post(
            admin, stack, page_url, {"action": "stop-selected", "selected": f"{b}/lab"}, page_url
        )
        assert "Stop 1 server" in html.unescape(r.text), alert(r.text)
        assert outcomes(finish(admin, stack, r))[b] in ("stopped", "stopping")
        wait_for(lambda: gone_or_stopped(stack, b, "lab"))
        assert running(stack, b, "other") and running(stack, a, "lab")
        # one row's own Stop button
        r = post(admin, stack, page_url, {"row": f"{a}/lab"}, page_url)
        assert "Stop 1 server" in html.unescape(r.text), alert(r.text)
        finish(admin, stack, r)
        wait_for(lambda: gone_or_stopped(stack, a, "lab"))
        assert running(stack, b, "other")
    finally:
        stack.api.delete_group(group)


def test_ticks_must_name_members_and_a_refused_form_keeps_its_input(stack, admin, users):  # noqa: F811
    (a,) = users(1, prefix="keep")
    group = unique("keep")
    stack.api.create_group(group, users=[a])
    try:
        page_url = f"groups/{group}/servers"
        r = post(admin, stack, page_url, {"action": "start-selected", "server": "lab"}, page_url)
        assert r.status_code == 400 and "Tick at least one member" in alert(r.text)
        r = post(
            admin,
            stack,
            page_url,
            {"action": "start-selected", "server": "lab", "selected": "outsider/"},
            page_url,
        )
        assert r.status_code == 400 and "Not members of this group" in alert(r.text)
        assert server(stack, "outsider", "lab") is None
        # a refused server name: the name, the profile and the options stay as typed
        r = post(
            admin,
            stack,
            page_url,
            {"action": "start", "server": "bad/name", "profile": "large"},
            page_url,
        )
        assert r.status_code == 400 and alert(r.text)
        assert 'value="bad/name"' in r.text
        assert re.search(r'<option selected value="large">|<option value="large" selected>', r.text)
        # the same on a user's page, with raw JSON
        r = post(
            admin,
            stack,
            f"users/{a}/servers",
            {"server": "x1", "profile": "__raw__", "options": '{"nope'},
            f"users/{a}",
        )
        assert r.status_code == 400 and "not valid JSON" in alert(r.text)
        assert 'value="x1"' in r.text and "{&#34;nope</textarea>" in r.text
        assert server(stack, a, "x1") is None
    finally:
        stack.api.delete_group(group)


def test_a_running_group_action_links_to_the_roster_and_back(stack, admin, users):  # noqa: F811
    (a,) = users(1, prefix="link")
    group = unique("link")
    stack.api.create_group(group, users=[a])
    try:
        page_url = f"groups/{group}/servers"
        data = {"action": "start", "server": "", "profile": "slow"}
        r = post(admin, stack, page_url, data, page_url)
        job = admin.post(r.url, data=dict(data, csrf_token=csrf_token(r.text), confirm="yes"))
        assert "/servers/jobs/" in job.url
        roster_path = urlparse(stack.url(page_url)).path
        assert f'href="{roster_path}"' in job.text  # the job's page leads to the roster
        # while it runs (the slow profile takes 3 s), the roster says so and links to it
        page = admin.get(stack.url(page_url)).text
        under_way = 'data-testid="job-under-way"' in page
        assert not under_way or urlparse(job.url).path in page
        wait_for(lambda: running(stack, a, ""), seconds=60)
    finally:
        stack.api.delete_group(group)
