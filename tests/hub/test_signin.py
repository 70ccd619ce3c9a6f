"""Signing in through the hub's OAuth, signing out, and who gets in."""

import hashlib
import re
import time
from urllib.parse import parse_qs, urlparse

import pytest
from helpers.stack import PREFIX, csrf_token
from hubdesk import db
from hubdesk.extensions import shared
from sqlalchemy import update


def test_admin_signs_in_and_sees_home(stack, admin):
    page = admin.get(stack.url()).text
    assert "Hello, admin" in page
    assert "JupyterHub 6." in page or "JupyterHub 5." in page
    assert re.search(r'\d+</div>\s*<div class="text-muted"><a [^>]+>groups</a>', page)


def test_signin_sends_state_and_pkce(stack):
    s = stack.session()
    r = s.get(stack.url(), allow_redirects=False)
    assert r.status_code == 302 and r.headers["Location"].startswith(f"{PREFIX}login")
    r = s.get(stack.hub.public_url + r.headers["Location"], allow_redirects=False)
    query = parse_qs(urlparse(r.headers["Location"]).query)
    assert query["client_id"] == ["service-hubdesk"]
    assert query["code_challenge_method"] == ["S256"]
    assert len(query["state"][0]) >= 32


def test_session_cookie_flags(stack):
    s, _ = stack.hub_login("admin")
    cookie = next(c for c in s.cookies if c.name == "hubdesk-session")
    assert cookie.path == PREFIX
    assert cookie.has_nonstandard_attr("HttpOnly")
    # plain http on loopback: Secure would stop the browser from sending it back
    assert not cookie.secure


def test_person_without_access_is_refused(stack):
    s, r = stack.hub_login("student")
    # the hub itself refuses to hand hubdesk a token for someone without access
    assert r.status_code == 403
    assert "hubdesk-session" not in s.cookies or "token" not in s.cookies["hubdesk-session"]
    r = s.get(stack.url(), allow_redirects=False)
    assert r.status_code == 302  # still not signed in


def test_staff_restricted_to_a_group_sees_their_reach(stack):
    page = stack.signin("helpdesk").get(stack.url()).text
    assert "Hello, helpdesk" in page
    assert "only group class-a" in page
    assert "Create groups" not in page


def test_callback_with_wrong_state_is_refused(stack):
    s = stack.session()
    s.get(stack.url(), allow_redirects=False)
    s.get(stack.url("login"), allow_redirects=False)  # state now in the session
    r = s.get(stack.url("oauth_callback"), params={"code": "x", "state": "forged"})
    assert r.status_code == 400
    assert "sign in again" in r.text


def test_callback_without_a_pending_login_is_refused(stack):
    r = stack.session().get(stack.url("oauth_callback"), params={"code": "x", "state": "y"})
    assert r.status_code == 400


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example/",
        "//evil.example/x",
        "/hub/admin",
        "/\\evil.example",
        "javascript:alert(1)",
    ],
)
def test_next_cannot_leave_hubdesk(stack, target):
    s = stack.session()
    s.get(stack.url(f"login?next={target}"), allow_redirects=False)
    r = s.get(stack.url(f"login?next={target}"))  # through the hub login page
    xsrf = re.search(r'name="_xsrf" value="([^"]+)"', r.text).group(1)
    r = s.post(r.url, data={"username": "admin", "password": stack.hub.password, "_xsrf": xsrf})
    assert r.url == stack.url()


def test_next_returns_to_the_page_asked_for(stack):
    s = stack.session()
    r = s.get(stack.url("groups/?limit=25"))
    xsrf = re.search(r'name="_xsrf" value="([^"]+)"', r.text).group(1)
    r = s.post(r.url, data={"username": "admin", "password": stack.hub.password, "_xsrf": xsrf})
    assert r.url == stack.url("groups/?limit=25")


def test_sign_out(stack, admin):
    token = csrf_token(admin.get(stack.url()).text)
    r = admin.post(stack.url("logout"), data={"csrf_token": token})
    assert r.url == stack.url("signed-out")
    assert "signed out" in r.text
    r = admin.get(stack.url(), allow_redirects=False)
    assert r.status_code == 302 and "/login" in r.headers["Location"]


def test_a_cookie_copied_before_sign_out_is_dead_after_it(stack, admin):
    copied = admin.cookies["hubdesk-session"]
    token = csrf_token(admin.get(stack.url()).text)
    admin.post(stack.url("logout"), data={"csrf_token": token})
    thief = stack.session()
    thief.cookies.set("hubdesk-session", copied, domain="127.0.0.1", path=PREFIX)
    r = thief.get(stack.url("groups/"), allow_redirects=False)
    assert r.status_code == 302 and "/login" in r.headers["Location"]


def test_a_session_lasts_its_hours_from_sign_in_however_busy(stack):
    s = stack.signin("teacher")
    assert s.get(stack.url(), allow_redirects=False).status_code == 200
    sid_key = hashlib.sha256(
        stack.app.session_interface.get_signing_serializer(stack.app)
        .loads(s.cookies["hubdesk-session"])["sid"]
        .encode()
    ).hexdigest()
    with shared(stack.app).database.write() as conn:  # as if HUBDESK_SESSION_HOURS had passed
        conn.execute(
            update(db.sessions).where(db.sessions.c.id == sid_key).values(expires=time.time() - 1)
        )
    r = s.get(stack.url(), allow_redirects=False)
    assert r.status_code == 302 and "/login" in r.headers["Location"]


def test_sign_out_needs_csrf(stack, admin):
    r = admin.post(stack.url("logout"))
    assert r.status_code == 400
    assert admin.get(stack.url(), allow_redirects=False).status_code == 200


def test_health_needs_no_signin_and_says_nothing_else(stack):
    r = stack.session().get(stack.url("health"))
    assert r.status_code == 200
    assert r.json() == {"status": "ok", "hub": "up", "database": "up"}


def test_status_page_for_admins_only(stack, admin):
    page = admin.get(stack.url("status")).text
    assert "reachable" in page and "has it" in page
    # a supported release: no word of 64-character tokens (health says none either, above)
    assert 'data-testid="hub-problem"' not in page and "64 characters" not in page
    assert stack.token not in page
    r = stack.signin("helpdesk").get(stack.url("status"))
    assert r.status_code == 403


def test_unknown_page_is_a_404_page(stack, admin):
    r = admin.get(stack.url("no/such/page"))
    assert r.status_code == 404
    assert "Not found" in r.text


def test_session_cookie_is_secure_behind_https(stack):
    client = stack.app.test_client()
    r = client.get(f"{PREFIX}login", base_url="https://hub.example.org")
    cookie = r.headers["Set-Cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert f"Path={PREFIX}" in cookie
    r = client.get(f"{PREFIX}login", base_url="http://hub.example.org")
    assert "Secure" not in r.headers["Set-Cookie"]


def test_a_restricted_person_sees_their_own_groups_not_the_hubs_counts(stack):
    page = stack.signin("teacher").get(stack.url()).text
    assert 'data-testid="counts"' not in page
    assert re.findall(r'<li data-testid="home-group">\s*<a [^>]+>([^<]+)</a>', page) == ["class-a"]
