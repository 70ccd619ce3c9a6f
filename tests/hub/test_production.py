"""Production concerns: headers on every page, request ids, the audit trail, metrics, logs."""

import html
import json
import logging
import re
import time
from html.parser import HTMLParser

import pytest
from helpers.stack import METRICS_TOKEN, PREFIX, another_app, csrf_token, unique
from hubdesk.config import Settings
from hubdesk.logs import JSONFormatter, request_id

SAMPLE_ARGS = {
    "name": "class-a",
    "group": "class-a",
    "user": "student",
    "server": "labs",
    "job": "0" * 16,
}


def every_get_url(app):
    """A URL for every GET route of the app, from its URL map (a new route cannot escape)."""
    urls = []
    with app.test_request_context():
        for rule in app.url_map.iter_rules():
            if "GET" not in rule.methods:
                continue
            args = {a: SAMPLE_ARGS.get(a, "x") for a in rule.arguments}
            if rule.endpoint == "static":
                args = {"filename": "hubdesk.css"}
            path = PREFIX.rstrip("/") + app.url_for(rule.endpoint, **args)
            urls.append((rule.endpoint, path))
    return urls


def test_every_page_has_the_security_headers(stack, admin):
    seen = set()
    for endpoint, path in every_get_url(stack.app):
        if endpoint.endswith("progress_events"):
            continue  # a stream: checked below
        r = admin.get(stack.hub.public_url + path, allow_redirects=False)
        h = r.headers
        csp = h.get("Content-Security-Policy", "")
        assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp, path
        assert "unsafe-inline" not in csp, path
        assert h.get("X-Content-Type-Options") == "nosniff", path
        assert h.get("Referrer-Policy") == "same-origin", path
        # none, as the hub's pages at the same origin: a first visit would cost a new renderer
        assert "Cross-Origin-Opener-Policy" not in h, path
        assert re.fullmatch(r"[A-Za-z0-9._-]{8,64}", h.get("X-Request-Id", "")), path
        if endpoint != "static":
            assert h.get("Cache-Control") == "no-store", path
        assert "Strict-Transport-Security" not in h  # plain http here
        seen.add(endpoint)
    assert {"main.home", "groups.index", "servers.running", "main.activity", "static"} <= seen


def test_static_files_are_versioned_and_kept_for_a_year(stack, admin):
    page = admin.get(stack.url("users/student")).text
    assets = re.findall(r'(?:href|src)="(/services/hubdesk/static/[^"]+)"', page)
    assert len(assets) >= 4, assets  # two stylesheets, the icon, a script
    for url in assets:
        path, _, v = html.unescape(url).partition("?v=")
        assert re.fullmatch(r"[0-9a-f]{12}", v), url
        r = admin.get(stack.hub.public_url + html.unescape(url))
        assert r.status_code == 200, url
        assert r.headers["Cache-Control"] == "public, max-age=31536000, immutable", url
        # the same for everyone: a changed session cookie must not make it stale
        assert "Set-Cookie" not in r.headers and "Cookie" not in r.headers.get("Vary", ""), url
        # the same file without its version, or with an old one, is revalidated
        for other in (path, f"{path}?v=000000000000"):
            r = admin.get(stack.hub.public_url + other)
            assert r.status_code == 200 and r.headers["Cache-Control"] == "no-cache", other
    # a version asked for a path out of the folder is a 404, not a read of that file
    r = admin.get(stack.url("static/%2E%2E/%2E%2E/pyproject.toml?v=x"))
    assert r.status_code == 404


class InlineCode(HTMLParser):
    """Finds what the CSP would block: inline <script>, style="", on*="" handlers."""

    def __init__(self):
        super().__init__()
        self.found = []

    def handle_starttag(self, tag, attrs):
        names = {name for name, _ in attrs}
        if tag == "script" and "src" not in names:
            self.found.append("inline <script>")
        self.found += [f"{tag} {n}=" for n in names if n == "style" or n.startswith("on")]


def test_no_inline_script_or_style_in_any_page(stack, admin):
    for endpoint, path in every_get_url(stack.app):
        if not endpoint.endswith("progress_events"):
            admin.get(stack.hub.public_url + path)
    checked = 0
    for url, _status, headers, text in stack.pages:
        if "text/html" not in headers.get("Content-Type", ""):
            continue
        parser = InlineCode()
        parser.feed(text)
        assert parser.found == [], url
        checked += 1
    assert checked > 15


def test_hsts_and_secure_cookies_behind_https(stack):
    r = stack.app.test_client().get(f"{PREFIX}health", base_url="https://hub.example.org")
    assert r.headers["Strict-Transport-Security"].startswith("max-age=")


def test_request_id_is_in_error_pages_headers_and_logs(stack, admin):
    r = admin.get(stack.url("groups/no-such-group-" + unique()))
    rid = r.headers["X-Request-Id"]
    assert r.status_code == 404 and rid in r.text
    assert any(f"req={rid}" in line for line in stack.log.lines)  # "hub GET /groups/… -> 404"
    # an id a client sends is not taken: the request id is always hubdesk's own
    r = admin.get(stack.url(), headers={"X-Request-Id": "abcdef0123456789"})
    assert r.headers["X-Request-Id"] != "abcdef0123456789"


def test_a_client_chosen_request_id_never_lands_in_the_audit_trail(stack, admin):
    start = stack.last_audit_id()
    group = unique("rid")
    token = csrf_token(admin.get(stack.url()).text)
    r = admin.post(
        stack.url("groups/"),
        data={"csrf_token": token, "name": group},
        headers={"X-Request-Id": "chosen-by-the-client"},
        allow_redirects=False,
    )
    try:
        (record,) = [a for a in stack.audit_records(start) if a["target"].get("group") == group]
        assert record["request_id"] == r.headers["X-Request-Id"] != "chosen-by-the-client"
        assert record["proxy_request_id"] is None  # no trusted proxy hop in front
    finally:
        stack.api.delete_group(group)


@pytest.fixture
def behind(stack):
    """hubdesk behind one trusted proxy hop (its runner stopped afterwards: another_app)."""
    with another_app(dict(stack.env, HUBDESK_PROXY_HOPS="1")) as app:
        yield app


def test_a_trusted_proxys_request_id_is_kept_beside_hubdesks(stack, admin, behind):
    client = behind.test_client()
    client.set_cookie("hubdesk-session", admin.cookies["hubdesk-session"], path=PREFIX)
    start = stack.last_audit_id()
    group = unique("rid")
    token = csrf_token(client.get(PREFIX).get_data(as_text=True))
    r = client.post(
        f"{PREFIX}groups/",
        data={"csrf_token": token, "name": group},
        headers={"X-Request-Id": "ingress-0123456789"},
    )
    try:
        # this group's record (another test's job on this worker may write one meanwhile)
        (record,) = [a for a in stack.audit_records(start) if a["target"].get("group") == group]
        assert record["request_id"] == r.headers["X-Request-Id"]
        assert record["proxy_request_id"] == "ingress-0123456789"
    finally:
        stack.api.delete_group(group)


def test_every_change_leaves_one_audit_record(stack, admin):
    start = stack.last_audit_id()
    group, user = unique("aud"), unique("aud")
    token = csrf_token(admin.get(stack.url()).text)

    def post(path, **data):
        return admin.post(stack.url(path), data={"csrf_token": token, **data})

    post("groups/", name=group)
    post(f"groups/{group}/add", names=user)  # unknown: a preview, no change
    stack.api.create_users([user])
    post(f"groups/{group}/add", names=user)
    post(f"groups/{group}/remove", confirm="yes", names=json.dumps([user]))
    post(f"groups/{group}/properties", confirm="yes", properties='{"a": 1}', base=_digest({}))
    post("groups/", name=group)  # exists: the hub's refusal is recorded too
    post(f"users/{user}/servers", server="aud", profile="small")
    post(f"users/{user}/servers/aud/remove")
    post(f"groups/{group}/delete")
    records = stack.audit_records(start)
    actions = [(r["action"], r["hub"]) for r in records]
    assert ("group.create", "201") in actions
    assert ("group.members.add", "200") in actions
    assert ("group.members.remove", "200") in actions
    assert ("group.properties.set", "200") in actions
    assert any(a == "group.create" and str(h).startswith("409") for a, h in actions)
    assert ("server.start", "202") in actions or ("server.start", "201") in actions
    assert any(a == "server.remove" for a, _ in actions)
    assert ("group.delete", "204") in actions
    for r in records:
        assert r["person"] == "admin" and re.fullmatch(r"[0-9a-f]{16}", r["request_id"])
        assert r["target"].get("group", group) == group
    person_token = stack.person_token(admin.cookies["hubdesk-session"])
    text = json.dumps(records)
    assert stack.token not in text and person_token not in text


def _digest(properties):
    import hashlib

    canonical = json.dumps(properties, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def test_group_actions_are_audited_as_the_person_who_started_them(stack):
    teacher = stack.signin("teacher")
    start = stack.last_audit_id()
    token = csrf_token(teacher.get(stack.url()).text)
    data = {"csrf_token": token, "action": "stop", "server": "nothing-here", "confirm": "yes"}
    r = teacher.post(stack.url("groups/class-a/servers"), data=data)
    deadline = time.monotonic() + 30
    while 'data-state="done" data-testid="job-state"' not in teacher.get(r.url).text:
        assert time.monotonic() < deadline
        time.sleep(0.2)
    # nothing to stop: no change, so no record; but nothing is recorded as someone else
    assert all(rec["person"] == "teacher" for rec in stack.audit_records(start))


def test_activity_page_for_admins(stack, admin):
    group = unique("act")
    admin.post(
        stack.url("groups/"),
        data={"csrf_token": csrf_token(admin.get(stack.url()).text), "name": group},
    )
    stack.api.delete_group(group)
    page = admin.get(stack.url(f"activity?group={group}")).text
    assert group in page
    page = admin.get(stack.url("activity")).text
    assert 'data-testid="activity"' in page and "group.create" in page
    page = admin.get(stack.url("activity?group=class-zzz-none")).text
    assert "No records match" in page
    assert stack.signin("helpdesk").get(stack.url("activity")).status_code == 403


def test_activity_needs_reading_the_whole_hub_not_admin_ui_alone(stack, admin):
    """The audit trail names users, groups, servers and user_options anywhere on the hub;
    admin-ui alone lets the hub show its holder no user and no group, so hubdesk shows them
    no record either (and no Activity link), and says what the page needs."""
    ui_only = stack.signin("uionly")
    r = ui_only.get(stack.url("activity"))
    assert r.status_code == 403
    words = html.unescape(r.text)
    assert "read:users, read:groups" in words and "class-a" not in words
    home = ui_only.get(stack.url()).text
    assert "/activity" not in home
    # the status page is still theirs: it is about hubdesk, not about people
    assert ui_only.get(stack.url("status")).status_code == 200
    assert "/activity" in admin.get(stack.url()).text


def test_metrics_need_the_token_and_count_hub_calls(stack, admin):
    admin.get(stack.url("groups/"))
    anonymous = stack.session()
    assert anonymous.get(stack.url("metrics")).status_code == 403
    r = anonymous.get(stack.url("metrics"), headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    assert r.status_code == 200
    text = r.text
    assert 'hubdesk_requests_total{endpoint="groups.index",method="GET",status="200"}' in text
    assert 'hubdesk_hub_requests_total{method="GET",route="/groups/{}",status="200"}' in text
    assert "hubdesk_hub_request_seconds_bucket" in text
    # no names in labels (an endpoint's name, users.admin_flag, may hold the word)
    labels = re.sub(r'endpoint="[a-z_.]+"', "", text)
    assert "class-a" not in labels and "admin" not in labels


def test_json_log_lines_carry_the_request_id():
    record = logging.LogRecord("app.x", logging.INFO, __file__, 1, "hello %s", ("there",), None)
    record.request_id = request_id()  # what every record gets where it is made
    line = json.loads(JSONFormatter().format(record))
    assert (
        line["message"] == "hello there" and line["level"] == "info" and line["request_id"] == "-"
    )


def test_json_log_lines_hold_a_records_fields_and_never_a_token(stack):
    record = logging.LogRecord("hubdesk.audit", logging.INFO, __file__, 1, '{"long": 1}', (), None)
    record.fields = {"message": "short", "target": {"group": "g"}, "note": stack.token}
    line = json.loads(JSONFormatter().format(record))
    assert line["message"] == "short" and line["target"] == {"group": "g"}
    assert line["note"] == "[redacted]" and line["logger"] == "hubdesk.audit"


def test_log_format_setting():
    env = {
        "JUPYTERHUB_API_URL": "http://h/hub/api",
        "JUPYTERHUB_API_TOKEN": "t" * 32,
        "HUBDESK_SECRET_KEY": "k" * 40,
    }
    assert Settings.from_env(dict(env, HUBDESK_LOG_FORMAT="json")).log_format == "json"
    with pytest.raises(Exception, match="HUBDESK_LOG_FORMAT"):
        Settings.from_env(dict(env, HUBDESK_LOG_FORMAT="xml"))


def test_a_token_that_reaches_a_log_call_is_redacted(stack, caplog):
    for name in ("hubdesk.hub", "werkzeug", "some.library"):
        logging.getLogger(name).warning("oops %s", stack.token)
    assert caplog.records and all(stack.token not in r.getMessage() for r in caplog.records)
    assert all("[redacted]" in r.getMessage() for r in caplog.records)


def test_forwarded_headers_count_only_from_configured_proxies(stack, behind):
    forwarded = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9"}
    plain = stack.app.test_client().get(f"{PREFIX}login", headers=forwarded)
    assert "Secure" not in plain.headers["Set-Cookie"]  # nobody said to trust them
    r = behind.test_client().get(f"{PREFIX}login", headers=forwarded)
    assert "Secure" in r.headers["Set-Cookie"] and r.headers["Strict-Transport-Security"]


@pytest.mark.parametrize(
    "path", ["groups/?offset=1", "users/?offset=1", "servers/?offset=1", "groups/class-a?moffset=1"]
)
def test_url_for_keywords_in_the_query_change_no_link_of_a_paged_page(stack, admin, path):
    hostile = "&_method=POST&_external=1&_anchor=x&_scheme=javascript&name=class-b"
    r = admin.get(stack.url(path + hostile))
    assert r.status_code == 200, (path, r.status_code)
    links = re.findall(r'class="page-link" href="([^"]+)"', r.text)
    assert links, path
    page = path.split("?")[0]
    for link in links:
        link = html.unescape(link)
        assert link.startswith(f"{PREFIX}{page}?"), (path, link)
        assert "#" not in link and "javascript" not in link.split("?")[0], link
