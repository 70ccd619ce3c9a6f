"""A hub that stops, stalls, or breaks off mid-answer: hubdesk says so, and never lies.

Each test builds its own hubdesk whose hub API goes through a fault proxy
(tests/faultproxy.py) in front of the real hub, and drives it with Flask's test
client carrying the cookie of an admin signed in through the hub's OAuth. The
hub's own state (``stack.api``, not through the proxy) is the judge.

Bugs this suite found (and that were fixed) are checked by their exact symptom
(``fixed_bug``), so that a return of one fails with its description.
"""

from __future__ import annotations

import html
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from helpers.faultproxy import DROP, PASS, FaultProxy, answer, delay, drop_after_forwarding
from helpers.stack import PREFIX, alert, audit_rows, csrf_token, settings_env, unique, wait_for
from hubdesk import create_app
from hubdesk.extensions import shared
from hubdesk.groups import ops as group_ops
from hubdesk.groups import views as group_views
from hubdesk.hub import HubAPIError

MAYBE = "Your change may or may not have been made: check before repeating it."
UNEXPECTED = "hubdesk hit an unexpected error"
RETRIES = 2  # hubdesk.hub.make_session()'s default, which create_app uses
WHOAMI = "/hub/api/user"

READ_TIMEOUT_SAYS_REFUSED = (
    "app/hub.py: a GET that times out is reported as 'connection refused or lost', not "
    "'no answer within N s': with Retry(read=0) urllib3 raises MaxRetryError(ReadTimeoutError), "
    "which requests turns into ConnectionError, not Timeout"
)
LOST_AFTER_SENDING_IS_NOT_MAYBE = (
    "app/hub.py: a change whose connection broke after it was sent (requests.ConnectionError) "
    "becomes HubUnreachable(maybe_applied=False): the page says 'Try again in a moment' and not "
    "that the change may or may not have been made, though the hub made it"
)
CUT_ANSWER_IS_500 = (
    "app/hub.py: an answer cut short (requests.ChunkedEncodingError) is not caught: a 500 "
    "'unexpected error' page, and no audit record of a change the hub made"
)


def fixed_bug(symptom: bool, bug: str) -> None:
    assert not symptom, f"a fixed bug is back: {bug}"


@pytest.fixture
def proxy(stack):
    p = FaultProxy(stack.hub.hub_port).start()
    yield p
    p.stop()
    left = [t.name for t in threading.enumerate() if t.name.startswith("faultproxy")]
    assert not left, left


@pytest.fixture(scope="module")
def admin_cookie(stack):
    return stack.signin("admin").cookies.get("hubdesk-session", path=PREFIX)


@pytest.fixture
def hubdesk(stack, proxy, admin_cookie, tmp_path):
    """make(**settings): a new hubdesk app behind ``proxy``, with a client signed in as admin."""
    apps = []

    def make(**extra):
        env = settings_env(
            stack.hub,
            stack.token,
            stack.secret_key,
            HUBDESK_STATE_DIR=str(tmp_path / "state"),
            # the stack's database: its sessions (the admin's cookie) and jobs are shared
            HUBDESK_DB_URL=shared(stack.app).settings.db_url,
            **extra,
        )
        env["JUPYTERHUB_API_URL"] = f"{proxy.url}/hub/api"
        app = create_app(env)
        apps.append(app)
        return signed_in(app, admin_cookie)

    yield make
    for app in apps:
        shared(app).jobs.stop()
        shared(app).hub.session.close()


def signed_in(app, cookie):
    client = app.test_client()
    client.set_cookie("hubdesk-session", cookie, path=PREFIX)
    return client


def timed(call):
    start = time.monotonic()
    result = call()
    return result, time.monotonic() - start


def text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def group_exists(stack, name) -> bool:
    try:
        stack.api.get_group(name)
    except HubAPIError as e:
        assert e.status == 404, e
        return False
    return True


# -- 1. the hub stops while hubdesk runs ------------------------------------------------------


@pytest.mark.parametrize("how", ["refused", "dropped"])
def test_a_stopped_hub_is_a_503_page_and_hubdesk_recovers_without_a_restart(
    stack, proxy, hubdesk, how
):
    client = hubdesk(HUBDESK_CONNECT_TIMEOUT="0.5", HUBDESK_READ_TIMEOUT="2")
    assert client.get(PREFIX).status_code == 200  # running: identity and groups are cached

    if how == "refused":
        proxy.refuse()  # nothing listens: the hub's process is gone
    else:
        proxy.always(DROP)  # something listens but closes every connection unanswered
    for path in ("", "status", "groups/class-a", "users/student"):
        r, took = timed(lambda path=path: client.get(PREFIX + path))
        page = text(r)
        assert r.status_code == 503, (path, r.status_code)
        assert "cannot reach JupyterHub" in page, path
        assert MAYBE not in page  # reads: there is nothing to check afterwards
        assert "Traceback" not in page and stack.token not in page
        assert took < 0.5 + 2 + 1, (path, took)
    r = client.get(f"{PREFIX}health")
    assert r.status_code == 503 and r.get_json() == {
        "status": "unavailable",
        "hub": "down",
        "database": "up",
    }
    # the group list may be served from hubdesk's own copy, but is never an error of its own
    assert client.get(f"{PREFIX}groups/").status_code in (200, 503)

    proxy.accept()
    proxy.always(PASS)  # the hub is back: the same app, no restart
    r = client.get(f"{PREFIX}health")
    assert r.status_code == 200 and r.get_json() == {"status": "ok", "hub": "up", "database": "up"}
    for path in ("", "status", "groups/class-a"):
        assert client.get(PREFIX + path).status_code == 200, path


# -- 2. a slow hub ---------------------------------------------------------------------------


def test_a_slow_hub_is_a_503_page_within_the_read_timeout(stack, proxy, hubdesk, admin_cookie):
    app = hubdesk(HUBDESK_CONNECT_TIMEOUT="0.5", HUBDESK_READ_TIMEOUT="1").application
    proxy.always(delay(5))

    def one(path):
        client = signed_in(app, admin_cookie)  # a client (cookie jar) per thread
        r, took = timed(lambda: client.get(PREFIX + path))
        return r.status_code, text(r), took

    paths = ["", "status", "groups/class-a", "users/student"]
    with ThreadPoolExecutor(len(paths)) as pool:  # all at once: none waits for another
        results = list(pool.map(one, paths))
    for path, (status, page, took) in zip(paths, results, strict=True):
        assert status == 503, (path, status)  # never a 500
        assert "cannot reach JupyterHub" in page and MAYBE not in page, path
        assert took < 3, (path, took)
    # each page's first hub call (who is signed in) timed out once and was not sent again
    assert proxy.count("GET", WHOAMI) == len(paths)
    assert proxy.count(forwarded=True) == 0

    pages = [page for _, page, _ in results]
    fixed_bug(all("(connection refused or lost)" in p for p in pages), READ_TIMEOUT_SAYS_REFUSED)
    assert all("no answer within 1 s" in p for p in pages)


def test_reads_are_retried_as_configured_and_no_more(stack, proxy, hubdesk):
    client = hubdesk(HUBDESK_CONNECT_TIMEOUT="0.5", HUBDESK_READ_TIMEOUT="2")
    proxy.always(answer(503))  # a gateway in front of the hub that says it is not there
    r = client.get(PREFIX)
    assert r.status_code == 503 and "(503 Service Unavailable)" in text(r)
    assert proxy.count("GET", WHOAMI) == 1 + RETRIES

    proxy.reset()
    proxy.always(DROP)  # lost after it was sent: not retried, even for a read
    r = client.get(PREFIX)
    assert r.status_code == 503 and "cannot reach JupyterHub" in text(r)
    assert proxy.count("GET", WHOAMI) == 1


# -- 3. a change that may have reached the hub -----------------------------------------------


@pytest.mark.parametrize(
    "fault, hub_acts",
    [
        (drop_after_forwarding(), True),  # the hub made it; its answer never came back
        (drop_after_forwarding(keep=-5), True),  # ... came back cut short
        (answer(502, forward=True), True),  # a gateway gave up while the hub went on
        (answer(502), False),  # a gateway answered alone
        (delay(2), True),  # the hub made it after hubdesk stopped waiting (read timeout 1 s)
    ],
    ids=["no-answer", "cut-answer", "502-after-hub", "502-alone", "too-slow"],
)
def test_a_create_that_may_have_reached_the_hub_is_sent_once_and_says_check(
    stack, proxy, hubdesk, fault, hub_acts
):
    client = hubdesk(HUBDESK_READ_TIMEOUT="1")
    name = unique("fault")
    path = f"/hub/api/groups/{name}"
    token = csrf_token(client.get(f"{PREFIX}groups/").get_data(as_text=True))
    proxy.when("POST", path, fault)
    try:
        r = client.post(f"{PREFIX}groups/", data={"csrf_token": token, "name": name, "names": ""})
        page = text(r)
        assert proxy.count("POST", path) == 1  # sent once, never again
        if hub_acts:
            proxy.wait_forwarded("POST", path)  # the slow case: the hub acts after the page
        assert group_exists(stack, name) is hub_acts
        assert "Created group" not in page and "already exists" not in page  # no success
        assert "The hub refused" not in page  # nor a plain failure
        records = [
            e
            for e in audit_rows(client.application)
            if e["action"] == "group.create" and e["group_name"] == name
        ]

        fixed_bug(r.status_code == 500 and UNEXPECTED in page and not records, CUT_ANSWER_IS_500)
        fixed_bug(
            r.status_code == 503 and "(connection refused or lost)" in page and MAYBE not in page,
            LOST_AFTER_SENDING_IS_NOT_MAYBE,
        )
        assert r.status_code == 503, (r.status_code, page)
        assert "cannot reach JupyterHub" in page and MAYBE in page
        # the audit trail has the attempt, with no success claimed
        assert len(records) == 1 and str(records[0]["hub"]).startswith("no answer"), records
    finally:
        if group_exists(stack, name):
            stack.api.delete_group(name)


# -- 4. a bulk add broken off halfway ----------------------------------------------------------


@pytest.fixture(scope="module")
def hundred_users(stack):
    """100 fresh users, deleted after this module's tests."""
    names = [unique("bulk") for _ in range(100)]
    stack.api.create_users(names)
    yield names
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda name: stack.api.request("DELETE", "users", name), names))


@pytest.fixture
def hundred(stack, hundred_users):
    """A fresh empty group and 100 users who are in no group."""
    group = unique("g")
    stack.api.create_group(group)
    yield group, hundred_users
    stack.api.delete_group(group)


@pytest.mark.parametrize(
    "lost", [drop_after_forwarding(), drop_after_forwarding(keep=-5)], ids=["no-answer", "cut"]
)
def test_a_broken_bulk_add_reports_what_the_hub_really_has(stack, proxy, hubdesk, hundred, lost):
    group, names = hundred
    client = hubdesk(HUBDESK_MEMBERSHIP_CHUNK="40")  # 3 chunks: 40, 40, 20
    path = f"/hub/api/groups/{group}/users"
    token = csrf_token(client.get(f"{PREFIX}groups/{group}").get_data(as_text=True))
    # the 1st chunk goes through; the hub adds the 2nd but its answer is lost; the 3rd gets
    # a 503 from the proxy and never reaches the hub. Reads (the final re-read too) all pass.
    proxy.when("POST", path, PASS, lost, answer(503))
    r = client.post(
        f"{PREFIX}groups/{group}/add",
        data={"csrf_token": token, "names": " ".join(names)},
        follow_redirects=True,
    )
    page = text(r)
    members = set(stack.api.get_group(group)["users"])
    assert proxy.count("POST", path, forwarded=True) == len(members) // 40 >= 1
    assert members <= set(names)
    fixed_bug(r.status_code == 500 and UNEXPECTED in page, CUT_ANSWER_IS_500)

    assert r.status_code == 200, (r.status_code, page)
    assert proxy.count("POST", path) == 3  # every chunk sent once
    assert len(members) == 80
    message = alert(page)
    added = re.search(r"Added (\d+) members? to", message)
    assert added and int(added.group(1)) == len(members), message
    # "Failed for N (reason): a, b, c." -- the reason itself has parentheses
    failures = re.findall(r"Failed for (\d+) \(((?:[^()]|\([^()]*\))*)\): ([^.]*)\.", message)
    failed = {n.strip(): reason for _, reason, shown in failures for n in shown.split(",")}
    assert sum(int(n) for n, _, _ in failures) == len(failed)  # none left out as "and N more"
    assert set(failed) == set(names) - members, message  # every name not done, and only those
    assert set(failed.values()) == {"the hub did not answer (503 Service Unavailable)"}
    assert re.search(r"<div class=\"alert alert-(\w+)\"", page)[1] == "warning"  # not success


# -- 5. a group start through a hub outage ---------------------------------------------------


def job_items(client, job_url) -> dict:
    """{user: (outcome, words)} as the group action's page shows them."""
    page = client.get(job_url).get_data(as_text=True)
    rows = re.findall(
        r'<tr data-user="([^"]+)" data-outcome="([^"]+)">.*?<td class="small">(.*?)</td>',
        page,
        re.S,
    )
    return {user: (outcome, html.unescape(words)) for user, outcome, words in rows}


def server_state(stack, user, name) -> str:
    s = (stack.api.get_user(user).get("servers") or {}).get(name)
    if not s:
        return "none"
    return "pending" if s.get("pending") else "running" if s.get("ready") else "stopped"


@pytest.fixture
def outage_group(stack):
    """A fresh group of 7 fresh users; their servers and they go afterwards."""
    members = sorted(unique("out") for _ in range(7))
    stack.api.create_users(members)
    group = unique("out")
    stack.api.create_group(group, users=members)
    yield group, members
    stack.api.delete_group(group)
    for m in members:
        wait_for(lambda m=m: server_state(stack, m, "lab") != "pending")
        if server_state(stack, m, "lab") != "none":
            stack.api.stop_server(m, "lab", remove=True)
        wait_for(lambda m=m: server_state(stack, m, "lab") == "none")
        stack.api.request("DELETE", "users", m)


def test_a_group_start_through_a_hub_outage_reports_what_the_hub_has(
    stack, proxy, hubdesk, outage_group
):
    group, members = outage_group
    client = hubdesk(
        HUBDESK_BULK_CONCURRENCY="1",
        HUBDESK_CONNECT_TIMEOUT="0.5",
        HUBDESK_PROFILES=stack.env["HUBDESK_PROFILES"],
    )
    lost_answer, never_sent = members[1], members[2]

    def start_of(user):
        return rf"/hub/api/users/{user}/servers/lab"

    # the hub starts one server but its answer is lost; another start is lost on the way
    # (the hub never sees it: the next one passes)
    proxy.when("POST", start_of(lost_answer), drop_after_forwarding())
    proxy.when("POST", start_of(never_sent), DROP, PASS)
    data = {"action": "start", "server": "lab", "profile": "small"}
    token = csrf_token(client.get(f"{PREFIX}groups/{group}/servers").get_data(as_text=True))
    r = client.post(
        f"{PREFIX}groups/{group}/servers", data=dict(data, csrf_token=token, confirm="yes")
    )
    assert r.status_code == 302 and "/servers/jobs/" in r.location, r.status_code
    job = r.location

    # then the hub goes away (as in a restart) right after the lost start ...
    wait_for(lambda: proxy.count("POST", start_of(never_sent)) >= 1)
    proxy.refuse()
    try:
        # ... and hubdesk says it is waiting for it, rather than giving up
        waiting = wait_for(
            lambda: [
                u
                for u, (o, w) in job_items(client, job).items()
                if o == "waiting" and "not answering" in w
            ]
        )
    finally:
        proxy.accept()
    page = wait_for(
        lambda: (
            (p := client.get(job).get_data(as_text=True))
            and 'data-state="done" data-testid="job-state"' in p
            and p
        ),
        seconds=90,
    )
    got = job_items(client, job)
    assert set(got) == set(members) and waiting
    for user, (outcome, words) in got.items():
        state = server_state(stack, user, "lab")
        # nothing done is reported as failed, and nothing failed as done
        assert (outcome == "started") == (state == "running"), (user, outcome, words, state)
        assert outcome in ("started", "failed"), (user, outcome, words)
        # and the hub got exactly one start per member: the one lost on the way (the hub
        # never saw it) was sent again once the hub was found to have no trace of it
        assert proxy.count("POST", start_of(user), forwarded=True) == 1, user
    assert proxy.count("POST", start_of(never_sent)) == 2
    assert got[lost_answer][0] == "started", got[lost_answer]  # the hub did start it
    assert got[never_sent][0] == "started", got[never_sent]  # absent from the hub: started now
    assert sum(o == "started" for o, _ in got.values()) == len(members)
    assert "unknown" not in page


# -- 6. a membership change longer than a page can wait ---------------------------------------


def test_a_long_membership_change_goes_on_with_a_page_of_its_own(
    stack, proxy, hubdesk, hundred, monkeypatch
):
    group, names = hundred
    monkeypatch.setattr(group_views, "WAIT_SECONDS", 1)  # 10 s in production
    client = hubdesk(HUBDESK_MEMBERSHIP_CHUNK="40")  # 3 chunks of 1.5 s each
    path = f"/hub/api/groups/{group}/users"
    proxy.when("POST", path, delay(1.5))
    token = csrf_token(client.get(f"{PREFIX}groups/{group}").get_data(as_text=True))
    r = client.post(
        f"{PREFIX}groups/{group}/add", data={"csrf_token": token, "names": " ".join(names)}
    )
    # the answer comes at once: a page that follows the change, not a proxy's timeout
    assert r.status_code == 302 and "/members/jobs/" in r.location, (r.status_code, r.location)
    page = text(client.get(r.location))
    assert "Adding 100 names" in page and "in progress" in page
    assert re.search(r"Sent to the hub: \d+ of 100", page), page
    # any worker or replica sharing the state folder shows the same page
    other = hubdesk(HUBDESK_MEMBERSHIP_CHUNK="40")
    done = wait_for(
        lambda: (
            (p := text(other.get(r.location)))
            and 'data-state="done" data-testid="job-state"' in p
            and p
        ),
        seconds=30,
    )
    assert "Added 100 members to" in done and "alert-success" in done, done
    assert members_of(stack, group) == sorted(names)
    assert proxy.count("POST", path) == 3  # each chunk sent once


def members_of(stack, group):
    return sorted(stack.api.get_group(group)["users"])


def said(page: str) -> str:
    """A change's page as its message: "<words>: a, b, c." for each part it shows."""
    parts = re.findall(
        r'<section [^>]*data-outcome="\w+"[^>]*>\s*<p [^>]*>(.*?)</p>(.*?)</section>', page, re.S
    )
    sentences = []
    for words, block in parts:
        names = re.findall(r'<span class="badge[^"]*">([^<]*)</span>', block)
        words = html.unescape(words).rstrip(":.")
        sentences.append(f"{words}: {', '.join(map(html.unescape, names))}." if names else words)
    return " ".join(sentences)


def reported(message: str, label: str) -> set[str]:
    """The names a summary lists after "<label> for N (reason): a, b, c." (all of them)."""
    found = re.findall(rf"{label} for (\d+) \(((?:[^()]|\([^()]*\))*)\): ([^.]*)\.", message)
    names = {n.strip() for _, _, shown in found for n in shown.split(",")}
    assert sum(int(n) for n, _, _ in found) == len(names)  # none left out as "and N more"
    return names


@pytest.mark.parametrize("hub_returns", [True, False], ids=["hub-back", "hub-stays-away"])
def test_a_bulk_add_through_a_hub_restart_says_what_was_done(
    stack, proxy, hubdesk, hundred, monkeypatch, hub_returns
):
    group, names = hundred
    monkeypatch.setattr(group_views, "WAIT_SECONDS", 1)
    monkeypatch.setattr(group_ops, "HUB_WAIT_SECONDS", 30 if hub_returns else 2)
    client = hubdesk(HUBDESK_MEMBERSHIP_CHUNK="40")  # 3 chunks: 40, 40, 20
    token = csrf_token(client.get(f"{PREFIX}groups/{group}").get_data(as_text=True))
    adds, read = f"/hub/api/groups/{group}/users", f"/hub/api/groups/{group}"
    # the 1st chunk goes through; the hub adds the 2nd but the answer is lost; the 3rd is
    # lost on the way. Then the hub is away (restarting) when hubdesk reads the group back:
    # the view's two reads pass, the next ones are dropped (and, if it comes back, pass).
    proxy.when("POST", adds, PASS, drop_after_forwarding(), DROP)
    proxy.when("GET", read, PASS, PASS, DROP, DROP, DROP, PASS if hub_returns else DROP)
    r = client.post(
        f"{PREFIX}groups/{group}/add", data={"csrf_token": token, "names": " ".join(names)}
    )
    assert r.status_code == 302 and "/members/jobs/" in r.location, (r.status_code, r.location)
    if hub_returns:  # it says it is waiting for the hub, to check
        wait_for(lambda: "job-waiting" in text(client.get(r.location)), seconds=20)
    page = wait_for(
        lambda: (
            (p := text(client.get(r.location)))
            and 'data-state="done" data-testid="job-state"' in p
            and p
        ),
        seconds=40,
    )
    message = said(page)
    members = set(members_of(stack, group))
    assert len(members) == 80  # the 1st and 2nd chunks: the hub made both
    added = re.search(r"Added (\d+) members? to", message)
    failed, unknown = reported(message, "Failed"), reported(message, "Not known")
    # nothing done reported as failed, nothing failed as done
    assert not failed & members and len(failed) + len(unknown) + int(added[1]) == 100
    if hub_returns:  # the hub's word decides every name
        assert int(added[1]) == 80 and not unknown and failed == set(names) - members
    else:  # what the hub confirmed is done; the rest is said to be not known
        assert int(added[1]) == 40 and len(unknown) == 60 and not failed, message
        assert "stopped answering before hubdesk could check" in message
    assert proxy.count("POST", adds) == 3  # each chunk sent once
