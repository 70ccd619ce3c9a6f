"""Every route of the app against every persona: the expected answer, and no change when refused.

The routes come from the app's URL map, so a new route fails this test until it
is given its row here. Targets are class-b and outsider (in class-b): nobody
but the admin may act on them. Refused POSTs carry a valid CSRF token of the
person's own session and must make no change on the hub (no POST, PUT or DELETE
leaves hubdesk). Every POST route refuses a request without a CSRF token.
"""

import re

import pytest
from helpers.stack import PREFIX, csrf_token
from hubdesk.hub import HubAPIError

PERSONAS = ("anonymous", "visitor", "helpdesk", "teacher", "admin")
ARGS = {
    "name": "class-b",
    "group": "class-b",
    "user": "outsider",
    "server": "labs",
    "job": "0" * 16,
    "lesson": "0" * 16,
}

# (method, endpoint, path args) -> expected status for anonymous, visitor, helpdesk, teacher, admin.
# 302 for anonymous is "go and sign in"; 404 for a user the hub hides from a person.
GET = {
    "main.home": (302, 200, 200, 200, 200),
    "main.activity": (302, 403, 403, 403, 200),
    "main.activity_download": (302, 403, 403, 403, 200),  # the Activity page's CSV
    "main.status": (302, 403, 403, 403, 200),
    "main.health": (200, 200, 200, 200, 200),
    "main.live": (200, 200, 200, 200, 200),
    "metrics.scrape": (403, 403, 403, 403, 403),  # the metrics token, not a person, opens it
    "auth.login": (302, 302, 302, 302, 302),
    "auth.logout": (302, 200, 200, 200, 200),
    "auth.oauth_callback": (400, 400, 400, 400, 400),
    "auth.signed_out": (200, 200, 200, 200, 200),
    "static": (200, 200, 200, 200, 200),
    "groups.index": (302, 403, 403, 200, 200),
    "lessons.index": (302, 403, 403, 200, 200),  # every lesson of the groups one may read
    "lessons.schedule_lesson": (302, 403, 403, 403, 200),
    "lessons.change_lesson": (302, 403, 403, 403, 404),
    "lessons.cancel_lesson": (302, 403, 403, 403, 404),  # asks first, on its own page
    "groups.show": (302, 403, 403, 403, 200),
    "groups.suggest": (302, 403, 403, 200, 200),  # the teacher may change class-a
    "groups.members_job": (302, 403, 403, 403, 404),
    "groups.delete": (302, 403, 403, 403, 200),
    "groups.properties": (302, 403, 403, 403, 200),
    "groups.sync": (302, 403, 403, 403, 200),
    "roster.group_servers": (302, 403, 403, 403, 200),
    "roster.group_job": (302, 403, 403, 403, 404),
    "roster.cancel_group_job": (302, 403, 403, 403, 404),  # its question, as its page
    "roster.confirm_stop": (302, 403, 403, 403, 200),  # lists what a group stop would stop
    "servers.running": (302, 403, 200, 200, 200),
    # a hub-wide stop: who asked for it, or who may stop each of its servers (none: no such job)
    "servers.stop_job": (302, 404, 404, 404, 404),
    "servers.cancel_stop_job": (302, 404, 404, 404, 404),
    # the questions before a stop: none ticked, back to the list; no idle time, refused
    "servers.stop_many": (302, 303, 303, 303, 303),
    "servers.stop_idle": (302, 400, 400, 400, 400),
    "users.index": (302, 403, 200, 200, 200),
    # everyone may read themselves, so the hub answers "no such user" for others
    "users.show": (302, 404, 404, 404, 200),
    "users.progress": (302, 404, 404, 404, None),  # admin: 200 (default) or 404 (no "labs")
    "users.progress_events": (302, 404, 404, 404, 200),
    "users.remove": (302, 404, 404, 404, 404),
    "users.stop": (302, 404, 404, 404, 200),  # the question (the server need not exist)
    # "remove from which group?": none named, back to the user's page
    "users.change_groups": (302, 403, 403, 302, 302),
    # one person's account, and adding people: admin:users / delete:users, none of the personas'
    "users.rename": (302, 403, 403, 403, 200),
    "users.admin_flag": (302, 403, 403, 403, 200),
    "users.delete": (302, 403, 403, 403, 200),
    "people.add": (302, 403, 403, 403, 200),
    # the end of term: nothing chosen, where to choose; a job (none: no such job)
    "people.end_of_term": (302, 403, 403, 403, 200),
    "people.deletion_job": (302, 403, 403, 403, 404),
    "people.cancel_deletion_job": (302, 403, 403, 403, 404),
    # a person's usage: whoever may read the user (outsider: class-b), else 403 (not 404: the
    # same for a user the hub hides as for none, so that it tells nobody who exists)
    "usage.person": (302, 403, 403, 403, 200),
    "usage.person_csv": (302, 403, 403, 403, 200),
    # the whole hub's usage: unfiltered list:users (the help desk's and teacher's are filtered)
    "usage.hub": (302, 403, 403, 403, 200),
    "usage.hub_csv": (302, 403, 403, 403, 400),  # admin: no ?table= chosen
    # a group's usage: read:users for the group (helpdesk and teacher: class-a only)
    "usage.group": (302, 403, 403, 403, 200),
    "usage.group_members_csv": (302, 403, 403, 403, 200),
    "usage.group_days_csv": (302, 403, 403, 403, 200),
}
POST = {
    "groups.create": ((403, 403, 403), {"name": "matrix-made"}),
    "groups.add": ((403, 403, 403), {"names": "student"}),
    "groups.remove": ((403, 403, 403), {"names": "outsider"}),
    "groups.sync": ((403, 403, 403), {"names": "student"}),
    "groups.properties": ((403, 403, 403), {"key": "x", "kind": "text", "value": "y"}),
    "groups.delete": ((403, 403, 403), {}),
    "roster.group_servers": ((403, 403, 403), {"action": "stop", "confirm": "yes"}),
    "roster.cancel_group_job": ((403, 403, 403), {}),
    "roster.resume_group_job": ((403, 403, 403), {}),
    "lessons.schedule_lesson": (
        (403, 403, 403),
        {"tz": "UTC", "day": "2030-01-07", "starts": "09:00", "ends": "10:00", "server": "x"},
    ),
    "lessons.change_lesson": ((403, 403, 403), {"tz": "UTC", "starts": "09:00", "ends": "10:00"}),
    "lessons.cancel_lesson": ((403, 403, 403), {}),
    # a job, followed on its page (303): "not allowed", said per server as it runs
    "servers.stop_many": ((303, 303, 303), {"confirm": "yes", "servers": '[["outsider", ""]]'}),
    "servers.stop_idle": (
        (303, 303, 303),  # each server "not a server you may stop", on the job's page
        {"idle": "1", "unit": "hours", "confirm": "yes", "servers": '[["outsider", ""]]'},
    ),
    "servers.cancel_stop_job": ((404, 404, 404), {}),
    "users.change_groups": ((403, 403, 403), {"group": "class-b", "action": "add"}),
    "users.start": ((404, 404, 404), {"server": "labs", "profile": "small"}),
    "users.stop": ((404, 404, 404), {}),
    "users.remove": ((404, 404, 404), {}),
    "users.rename": ((403, 403, 403), {"new_name": "matrix-renamed"}),
    "users.admin_flag": ((403, 403, 403), {"admin": "grant"}),
    "users.delete": ((403, 403, 403), {}),
    "people.add": ((403, 403, 403), {"names": "matrix-person"}),
    "people.choose_group": ((403, 403, 403), {"names": "outsider", "group": "class-b"}),
    "people.end_of_term": ((403, 403, 403), {"user": "outsider", "confirm": "yes", "typed": "1"}),
    "people.cancel_deletion_job": ((403, 403, 403), {}),
    "auth.logout": None,  # allowed to everyone signed in; tested in test_signin
}


def routes(app):
    """(method, endpoint, path) for every route and method of the app."""
    found = []
    with app.test_request_context():
        for rule in app.url_map.iter_rules():
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                args = {a: ARGS[a] for a in rule.arguments if a in ARGS}
                if rule.endpoint.startswith("users."):
                    args["name"] = "outsider"  # users/<name>
                if rule.endpoint == "static":
                    args = {"filename": "hubdesk.css"}
                found.append(
                    (method, rule.endpoint, PREFIX.rstrip("/") + app.url_for(rule.endpoint, **args))
                )
    return found


@pytest.fixture(scope="module")
def sessions(stack):
    made = {"anonymous": stack.session()}
    for persona in PERSONAS[1:]:
        made[persona] = stack.signin(persona)
    return made


def test_every_route_has_a_row(stack):
    for method, endpoint, path in routes(stack.app):
        table = GET if method == "GET" else POST
        assert endpoint in table, f"{method} {path}: add {endpoint} to the authorization matrix"


@pytest.mark.parametrize("persona", PERSONAS)
def test_get_routes(stack, sessions, persona):
    s = sessions[persona]
    for method, endpoint, path in routes(stack.app):
        if method != "GET":
            continue
        expected = GET[endpoint][PERSONAS.index(persona)]
        r = s.get(stack.hub.public_url + path, allow_redirects=False, timeout=30)
        if expected is None:
            assert r.status_code in (200, 404), (persona, path, r.status_code)
        else:
            assert r.status_code == expected, (persona, path, r.status_code)
        if r.status_code == 302 and persona == "anonymous" and endpoint not in ("auth.login",):
            assert f"{PREFIX}login" in r.headers["Location"], path


def hub_changes(stack, start):
    return [line for line in stack.log.lines[start:] if re.search(r"hub (POST|PUT|DELETE) /", line)]


@pytest.mark.parametrize("persona", ["visitor", "helpdesk", "teacher"])
def test_refused_posts_change_nothing(stack, sessions, persona):
    s = sessions[persona]
    token = csrf_token(s.get(stack.url()).text)
    before = {g: sorted(stack.api.get_group(g)["users"]) for g in ("class-a", "class-b")}
    start = len(stack.log.lines)
    for method, endpoint, path in routes(stack.app):
        if method != "POST" or POST[endpoint] is None:
            continue
        statuses, data = POST[endpoint]
        expected = statuses[("visitor", "helpdesk", "teacher").index(persona)]
        r = s.post(
            stack.hub.public_url + path, data={"csrf_token": token, **data}, allow_redirects=False
        )
        assert r.status_code == expected, (persona, path, r.status_code)
    assert hub_changes(stack, start) == [], persona
    after = {g: sorted(stack.api.get_group(g)["users"]) for g in ("class-a", "class-b")}
    assert after == before
    with pytest.raises(HubAPIError):
        stack.api.get_group("matrix-made")


@pytest.mark.parametrize("persona", ["anonymous", "admin"])
def test_every_post_route_refuses_a_missing_csrf_token(stack, sessions, persona):
    s = sessions[persona]
    start = len(stack.log.lines)
    for method, endpoint, path in routes(stack.app):
        if method != "POST":
            continue
        data = POST[endpoint][1] if POST[endpoint] else {}
        r = s.post(stack.hub.public_url + path, data=data, allow_redirects=False)
        assert r.status_code == 400, (persona, path, r.status_code)
    assert hub_changes(stack, start) == []
