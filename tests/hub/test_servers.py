"""Named servers through hubdesk, against the real hub (real spawns of the mock server)."""

import html
import json
import re
from urllib.parse import quote

import pytest
from helpers.servers import gone_or_stopped, outcomes, post, running, server
from helpers.stack import HUB_MAJOR, NAMED_SERVER_LIMIT, alert, unique, wait_for
from hubdesk.extensions import shared


def sse(session, stack, path, seconds=30):
    """The events of hubdesk's progress stream, until it ends."""
    events = []
    with session.get(stack.url(path), stream=True, timeout=seconds) as r:
        assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/event-stream")
        for line in r.iter_lines(decode_unicode=True):
            if line.startswith("data:"):
                events.append(json.loads(line[5:]))
    return events


# -- one user ---------------------------------------------------------------------------


def test_start_a_named_server_with_a_profile_and_watch_it(stack, admin, users):
    (u,) = users()
    r = post(admin, stack, f"users/{u}/servers", {"server": "labs", "profile": "large"})
    assert r.url == stack.url(f"users/{u}/servers/labs/progress")
    assert server(stack, u, "labs")["user_options"] == {"profile": "large"}
    wait_for(lambda: running(stack, u, "labs"))
    page = admin.get(stack.url(f"users/{u}/servers/labs/progress")).text
    assert "Ready — <a href=" in page and f"/user/{u}/labs/" in page
    page = admin.get(stack.url(f"users/{u}")).text
    assert 'data-state="running"' in page and "Large (4 CPU, 16 GB)" in page


def test_progress_stream_passes_on_the_hubs_events(stack, admin, users):
    (u,) = users()
    post(admin, stack, f"users/{u}/servers", {"server": "watch", "profile": "slow"})
    events = sse(admin, stack, f"users/{u}/servers/watch/progress/events")
    messages = [e.get("message", "") for e in events]
    assert any("step 2 of 3" in m for m in messages), messages
    assert events[-1]["ready"] is True and events[-1]["url"].endswith(f"/user/{u}/watch/")
    assert all("html_message" not in e for e in events)


def test_when_every_stream_slot_is_taken_the_browser_is_asked_to_retry(stack, admin, users):
    (u,) = users()
    stack.api.start_server(u, "busy", {"profile": "slow"})
    free = stack.free_stream_slots()
    assert free == shared(stack.app).settings.max_streams == 32  # the default
    with stack.streams_taken():
        with admin.get(
            stack.url(f"users/{u}/servers/busy/progress/events"), stream=True, timeout=30
        ) as r:
            assert r.status_code == 200 and r.headers["Content-Type"].startswith(
                "text/event-stream"
            )
            body = r.text  # the answer ends at once: no thread is held
    assert body.splitlines()[:2] == ["retry: 3000", 'data: {"busy": true, "yours": false}'], body
    # with a slot free again the same stream is followed to its end, and the slot comes back
    events = sse(admin, stack, f"users/{u}/servers/busy/progress/events")
    assert events[-1]["ready"] is True, events
    assert stack.free_stream_slots() == free


def test_progress_of_a_server_that_is_not_starting_says_how_it_is(stack, admin, users):
    (u,) = users()
    stack.api.start_server(u, "idle", {"profile": "small"})
    wait_for(lambda: running(stack, u, "idle"))
    events = sse(admin, stack, f"users/{u}/servers/idle/progress/events")
    assert events[-1]["ready"] is True


def test_a_spawn_that_fails_shows_the_spawners_message(stack, admin, users):
    (u,) = users()
    r = post(admin, stack, f"users/{u}/servers", {"server": "oops", "profile": "broken"})
    events = sse(admin, stack, f"users/{u}/servers/oops/progress/events")
    assert events[-1].get("failed") is True
    assert "never starts" in events[-1]["message"]
    assert r.status_code == 200


def test_stop_then_remove(stack, admin, users):
    (u,) = users()
    stack.api.start_server(u, "labs", {"profile": "small"})
    wait_for(lambda: running(stack, u, "labs"))
    r = post(admin, stack, f"users/{u}/servers/labs/stop", {})
    assert re.search(r"(Stopped “labs”|“labs” of \S+ is stopping)", alert(r.text))
    wait_for(lambda: gone_or_stopped(stack, u, "labs"))
    assert server(stack, u, "labs") is not None  # stopped, still there
    page = html.unescape(admin.get(stack.url(f"users/{u}/servers/labs/remove")).text)
    assert f"Remove the server “labs” of {u}?" in page
    r = post(admin, stack, f"users/{u}/servers/labs/remove", {})
    assert "Removed “labs”" in alert(r.text) or "will then be removed" in alert(r.text)
    wait_for(lambda: server(stack, u, "labs") is None)


def test_default_server_has_its_own_urls(stack, admin, users):
    (u,) = users()
    r = post(admin, stack, f"users/{u}/servers", {"server": "", "profile": "small"})
    assert r.url == stack.url(f"users/{u}/server/progress")
    wait_for(lambda: running(stack, u, ""))
    r = post(admin, stack, f"users/{u}/server/stop", {})
    assert "default server" in alert(r.text).lower()
    wait_for(lambda: gone_or_stopped(stack, u, ""))


def test_restart_keeps_the_previous_options_unless_new_ones_are_chosen(stack, admin, users):
    (u,) = users()
    stack.api.start_server(u, "labs", {"profile": "large"})
    wait_for(lambda: running(stack, u, "labs"))
    stack.api.stop_server(u, "labs")
    wait_for(lambda: gone_or_stopped(stack, u, "labs"))
    post(admin, stack, f"users/{u}/servers", {"server": "labs", "profile": ""})
    wait_for(lambda: running(stack, u, "labs"))
    assert server(stack, u, "labs")["user_options"] == {"profile": "large"}


def test_raw_user_options_for_admins(stack, admin, users):
    (u,) = users()
    options = {"profile": "small", "image": "lab:2026"}
    post(
        admin,
        stack,
        f"users/{u}/servers",
        {"server": "raw", "profile": "__raw__", "options": json.dumps(options)},
    )
    assert server(stack, u, "raw")["user_options"] == options
    r = post(
        admin,
        stack,
        f"users/{u}/servers",
        {"server": "bad", "profile": "__raw__", "options": "{nope"},
    )
    assert "not valid JSON" in alert(r.text)
    assert server(stack, u, "bad") is None


# -- the hub says no, in words --------------------------------------------------------------


def test_already_running_is_said_in_words(stack, admin, users):
    (u,) = users()
    stack.api.start_server(u, "labs", {"profile": "small"})
    wait_for(lambda: running(stack, u, "labs"))
    r = post(admin, stack, f"users/{u}/servers", {"server": "labs", "profile": "small"})
    assert "“labs” is already running" in alert(r.text)


# JupyterHub 6.x takes only safe slugs for new servers
INVALID_SERVER_NAMES_6X = ["Labs", "lab_1", "-x", "x-", "a--b", "x" * 31, "été"]
# 5.x takes any name without "/"; hubdesk refuses control characters, "." and ".." itself
INVALID_SERVER_NAMES_5X = ["a/b", "<b>x</b>", "a\x07b", ".", ".."]


@pytest.mark.parametrize(
    "name", INVALID_SERVER_NAMES_6X if HUB_MAJOR >= 6 else INVALID_SERVER_NAMES_5X
)
def test_invalid_server_names_never_reach_the_hub(stack, admin, users, hub_major, name):
    (u,) = users()
    start = len(stack.log.lines)
    r = post(admin, stack, f"users/{u}/servers", {"server": name, "profile": "small"})
    if hub_major >= 6:
        assert "not a valid server name" in alert(r.text) and "lowercase letters" in alert(r.text)
    elif name in (".", ".."):
        assert f"“{name}” cannot be a server name" in alert(r.text), alert(r.text)
    else:
        assert "cannot contain “/” or control characters" in alert(r.text), alert(r.text)
    assert not [line for line in stack.log.lines[start:] if "hub POST /users/" in line]


@pytest.mark.skipif(HUB_MAJOR >= 6, reason="JupyterHub 6.x takes only safe slugs as server names")
def test_jupyterhub_5_starts_servers_with_its_wider_names(stack, admin, users):
    (u,) = users()
    name = "My Lab_1.v2"  # capitals, a space, "_" and "." are all refused by 6.x
    r = post(admin, stack, f"users/{u}/servers", {"server": name, "profile": "small"})
    assert r.status_code == 200, alert(r.text)
    assert server(stack, u, name)["user_options"] == {"profile": "small"}
    assert r.url == stack.url(f"users/{u}/servers/{quote(name)}/progress")
    wait_for(lambda: running(stack, u, name))
    assert name in html.unescape(admin.get(stack.url(f"users/{u}")).text)
    r = post(admin, stack, f"users/{u}/servers/{quote(name)}/stop", {})
    said = re.escape(name)
    assert re.search(rf"(Stopped “{said}”|“{said}” of \S+ is stopping)", alert(r.text))
    wait_for(lambda: gone_or_stopped(stack, u, name))
    r = post(admin, stack, f"users/{u}/servers/{quote(name)}/remove", {})
    assert f"Removed “{name}”" in alert(r.text) or "will then be removed" in alert(r.text)
    wait_for(lambda: server(stack, u, name) is None)


def test_named_server_limit_is_reported(stack, admin, users):
    (u,) = users()
    for i in range(NAMED_SERVER_LIMIT):
        stack.api.start_server(u, f"s{i}", {"profile": "small"})
    r = post(admin, stack, f"users/{u}/servers", {"server": "onemore", "profile": "small"})
    assert "already has the most named servers allowed" in alert(r.text)
    assert server(stack, u, "onemore") is None


# -- who may ----------------------------------------------------------------------------------


def test_helpdesk_starts_for_class_a_but_not_for_others(stack, users):
    a, b = users(2)
    stack.api.add_group_members("class-a", [a])
    stack.api.add_group_members("class-b", [b])
    try:
        helpdesk = stack.signin("helpdesk")
        page = helpdesk.get(stack.url(f"users/{a}")).text
        assert 'data-testid="start-server"' in page
        post(helpdesk, stack, f"users/{a}/servers", {"server": "help", "profile": "small"})
        wait_for(lambda: running(stack, a, "help"))
        start = len(stack.log.lines)
        # b is not theirs: the hub hides b from them, and a crafted POST changes nothing
        assert helpdesk.get(stack.url(f"users/{b}")).status_code == 404
        for path in (
            f"users/{b}/servers",
            f"users/{b}/servers/help/stop",
            f"users/{b}/servers/help/remove",
        ):
            r = post(helpdesk, stack, path, {"server": "help", "profile": "small"})
            assert r.status_code in (403, 404), path
        assert server(stack, b, "help") is None
        assert not [
            line
            for line in stack.log.lines[start:]
            if re.search(r"hub (POST|DELETE) /users/", line)
        ]
        # and no raw user_options for them
        r = post(
            helpdesk,
            stack,
            f"users/{a}/servers",
            {"server": "x", "profile": "__raw__", "options": "{}"},
        )
        assert r.status_code == 403
    finally:
        stack.api.remove_group_members("class-a", [a])
        stack.api.remove_group_members("class-b", [b])


def test_users_list_searches_and_filters(stack, admin, users):
    a, b = users(2, prefix="find")
    stack.api.start_server(a, "", {"profile": "small"})
    wait_for(lambda: running(stack, a, ""))
    page = admin.get(stack.url(f"users/?q={a.upper()}")).text
    assert f">{a}</a>" in page and f">{b}</a>" not in page
    page = admin.get(stack.url("users/?q=find&state=active&limit=200")).text
    assert f">{a}</a>" in page and f">{b}</a>" not in page
    helpdesk = stack.signin("helpdesk")
    page = helpdesk.get(stack.url("users/")).text
    assert ">student</a>" in page and ">outsider</a>" not in page and f">{a}</a>" not in page


def stopped_page(session, r) -> str:
    """A hub-wide stop's page, where its confirmed POST leads (a job), once it is done."""
    assert "/servers/jobs/" in r.url, r.url

    def done():
        page = session.get(r.url).text
        return page if 'data-state="done" data-testid="job-state"' in page else ""

    return wait_for(done)


def stop_summary(page: str) -> str:
    """The outcome of a hub-wide stop, in words, on its page."""
    found = re.search(r'data-testid="stop-summary">(.*?)</div>', page, re.S)
    return html.unescape(found.group(1)) if found else ""


def test_running_servers_page_and_stop_selected(stack, admin, users):
    a, b = users(2, prefix="run")
    for u in (a, b):
        stack.api.start_server(u, "labs", {"profile": "small"})
    wait_for(lambda: running(stack, a, "labs") and running(stack, b, "labs"))
    page = admin.get(stack.url("servers/?limit=200&sort=recent")).text
    assert f">{a}</a>" in page and f">{b}</a>" in page
    assert (
        f">{a}</a>" not in admin.get(stack.url("servers/?limit=200&idle=5")).text
    )  # active just now
    r = post(admin, stack, "servers/stop", {"server": [f"{a}/labs", f"{b}/labs"]})
    assert "Stop 2 servers?" in r.text
    fields = dict(re.findall(r'<input [^>]*name="([^"]+)"[^>]*value="([^"]*)"', r.text))
    r = admin.post(stack.url("servers/stop"), data={k: html.unescape(v) for k, v in fields.items()})
    assert r.history[0].status_code == 303  # a job, followed on its page
    assert "Stopped (or stopping) 2 servers" in stop_summary(stopped_page(admin, r))
    wait_for(lambda: gone_or_stopped(stack, a, "labs") and gone_or_stopped(stack, b, "labs"))


def test_stopping_in_bulk_tells_no_one_which_users_exist(stack):
    """helpdesk may act on class-a only: outsider (class-b) and a user who does not exist are
    answered alike, as the hub itself hides users one may not see."""
    helpdesk = stack.signin("helpdesk")
    ghost = unique("ghost")
    data = {"confirm": "yes", "servers": json.dumps([["outsider", ""], [ghost, ""]])}
    message = stop_summary(stopped_page(helpdesk, post(helpdesk, stack, "servers/stop", data)))
    assert "outsider (default): not a server you may stop" in message, message
    assert f"{ghost} (default): not a server you may stop" in message, message
    assert "no user called" not in message and "not allowed" not in message


def test_a_hub_wide_stop_is_followed_only_by_who_may_steer_it(stack):
    """Its page and its cancel: who asked for it, or who may stop each of its servers."""
    helpdesk = stack.signin("helpdesk")
    data = {"confirm": "yes", "servers": json.dumps([["outsider", ""]])}
    r = post(helpdesk, stack, "servers/stop", data)
    assert "not a server you may stop" in stop_summary(stopped_page(helpdesk, r))
    job = r.url.rsplit("/", 1)[1]
    teacher = stack.signin("teacher")  # class-a's servers: not outsider's, and did not ask
    assert teacher.get(r.url).status_code == 403
    assert post(teacher, stack, f"servers/jobs/{job}/cancel", {}).status_code == 403
    admin = stack.signin("admin")  # may stop every server
    assert admin.get(r.url).status_code == 200
    done = post(admin, stack, f"servers/jobs/{job}/cancel", {})
    assert "had already finished; nothing was cancelled" in alert(done.text)


# -- a whole group ----------------------------------------------------------------------------


def run_group(session, stack, group, data):
    """Review, confirm, then wait for the group action to finish; its page's HTML."""
    r = post(session, stack, f"groups/{group}/servers", data)
    assert "for " in r.text and 'name="confirm" value="yes"' in r.text, alert(r.text)
    r = post(session, stack, f"groups/{group}/servers", dict(data, confirm="yes"))
    job = r.url
    assert "/servers/jobs/" in job
    return wait_for(
        lambda: (
            (p := session.get(job).text) and 'data-state="done" data-testid="job-state"' in p and p
        ),
        seconds=90,
    )


def test_group_start_and_stop_for_eleven_members(stack, admin, users):
    members = users(11, prefix="cls")
    group = unique("cls")
    stack.api.create_group(group, users=members)
    try:
        stack.api.start_server(members[0], "lab", {"profile": "small"})  # one already up
        wait_for(lambda: running(stack, members[0], "lab"))
        page = run_group(
            admin, stack, group, {"action": "start", "server": "lab", "profile": "small"}
        )
        got = outcomes(page)
        assert got[members[0]] == "running"
        assert all(got[m] == "started" for m in members[1:]), got
        for m in members:
            assert running(stack, m, "lab")
            assert server(stack, m, "lab")["user_options"] == {"profile": "small"}
        page = run_group(admin, stack, group, {"action": "stop", "server": "lab"})
        assert set(outcomes(page).values()) <= {"stopped", "stopping"}
        wait_for(lambda: all(gone_or_stopped(stack, m, "lab") for m in members))
        # the group's servers page lists both actions
        page = admin.get(stack.url(f"groups/{group}/servers")).text
        assert page.count("/servers/jobs/") == 2
    finally:
        stack.api.delete_group(group)


def test_group_start_reports_limits_and_failures_per_user(stack, admin, users):
    full, broken_ok = users(2, prefix="lim")
    group = unique("lim")
    stack.api.create_group(group, users=[full, broken_ok])
    try:
        for i in range(NAMED_SERVER_LIMIT):
            stack.api.start_server(full, f"s{i}", {"profile": "small"})
        page = run_group(
            admin, stack, group, {"action": "start", "server": "bad", "profile": "broken"}
        )
        got = outcomes(page)
        assert got[full] == "limit"
        assert got[broken_ok] == "failed" and "never starts" in html.unescape(page)
    finally:
        stack.api.delete_group(group)


def test_teacher_runs_group_actions_for_their_class_only(stack, users):
    teacher = stack.signin("teacher")
    r = post(
        teacher,
        stack,
        "groups/class-b/servers",
        {"action": "start", "server": "lab", "profile": "small", "confirm": "yes"},
    )
    assert r.status_code == 403
    assert server(stack, "outsider", "lab") is None
    page = teacher.get(stack.url("groups/class-a/servers")).text
    assert 'data-testid="group-start"' in page
