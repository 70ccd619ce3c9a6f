"""Signing in through the hub's OAuth, and who the signed-in person is.

The OAuth handshake's state and PKCE verifier live in the signed session
cookie, not in process memory, so any worker or replica can finish a login
that another one started. Once signed in, the cookie holds only a session id:
the session is a database row (:mod:`hubdesk.sessions`) holding the person's hub
token encrypted, so signing out ends it on every worker and replica. Whether
the person may do something is :mod:`hubdesk.access`'s business.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import secrets
from dataclasses import dataclass, field
from urllib.parse import unquote, urlencode, urlparse

from flask import (
    Blueprint,
    abort,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.sessions import SecureCookieSessionInterface

from .access import can, why_not
from .extensions import lesson_store, service_client, sessions, settings, shared
from .hub import HubAPIError, HubUnreachable
from .lessons import tokens as lesson_tokens

log = logging.getLogger(__name__)

bp = Blueprint("auth", __name__)

# endpoints that need no signed-in person (and make no identity call)
PUBLIC_ENDPOINTS = {
    "static",
    "main.health",
    "main.live",
    "metrics.scrape",  # has its own bearer token
    "auth.login",
    "auth.oauth_callback",
    "auth.signed_out",
}


@dataclass
class Person:
    """The signed-in person, as the hub describes their OAuth token."""

    name: str
    admin: bool
    scopes: frozenset = field(repr=False)
    token: str = field(repr=False)
    groups: tuple = ()


class SessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, with ``Secure`` decided per request when "auto"."""

    def get_cookie_secure(self, app):
        mode = settings(app).secure_cookies
        if mode == "auto":
            return request.is_secure
        return mode == "true"

    def save_session(self, app, session, response):
        # a static file is the same for everyone: no refreshed session cookie, and no
        # "Vary: Cookie", which made browsers ask again for stylesheets they had cached
        # for a year whenever the (refreshed, re-signed) cookie had changed
        if request.endpoint == "static":
            return
        super().save_session(app, session, response)


def init_app(app):
    app.session_interface = SessionInterface()
    app.before_request(load_person)
    app.jinja_env.globals["can"] = can
    app.jinja_env.globals["why_not"] = why_not
    app.register_blueprint(bp)


# -- the person ---------------------------------------------------------------


def _token_key(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _identify(token: str) -> dict | None:
    """The hub's model of a token's owner (cached briefly); None if the token is dead."""
    cache = shared().identities
    key = _token_key(token)
    model = cache.get(key)
    if model is None:
        try:
            model = service_client().for_token(token).whoami()
        except HubAPIError as e:
            if e.status in (401, 403):
                return None  # expired or revoked
            raise
        cache.set(key, model)
    return model


def _access_scope() -> str:
    return f"access:services!service={settings().service_name}"


def load_person():
    """Before each request: who is signed in, and are they allowed in at all."""
    g.person = None
    if request.endpoint in PUBLIC_ENDPOINTS:
        return None
    sid = session.get("sid")
    if sid:
        signin = sessions().find(sid)
        token = signin.token if signin else None
        model = _identify(token) if token else None
        if model is None:
            session.clear()
        else:
            g.person = Person(
                name=model["name"],
                admin=bool(model.get("admin")),
                scopes=frozenset(model.get("scopes", ())),
                token=token,
                groups=tuple(model.get("groups") or ()),
            )
    if request.endpoint is None:
        return None  # a 404 page, shown to anyone
    if g.person is None:
        target = (
            request.script_root + request.full_path.rstrip("?")
            if request.method == "GET"
            else url_for("main.home")
        )
        return redirect(url_for("auth.login", next=target))
    if _access_scope() not in g.person.scopes:
        abort(403, description="Your hub account is not allowed to use hubdesk.")
    return None


# -- sign-in ------------------------------------------------------------------


# the target rides in the session cookie until the hub sends the browser back, and
# browsers drop cookies past 4 KB: a longer deep link keeps only its page
MAX_NEXT = 1024


def safe_next(target: str | None) -> str:
    """A redirect target that stays inside hubdesk (no open redirects, no way out by ``..``)."""
    prefix = settings().service_prefix
    home = url_for("main.home")
    if not target or any(c in target for c in "\\\r\n\t") or target.startswith("//"):
        return home
    parsed = urlparse(target)
    if parsed.scheme or parsed.netloc or not parsed.path.startswith(prefix):
        return home
    # browsers resolve "." and ".." (also percent-encoded) before they follow a redirect
    if any(step in (".", "..") for step in unquote(parsed.path).split("/")):
        return home
    if len(target) > MAX_NEXT:
        return parsed.path if len(parsed.path) <= MAX_NEXT else home
    return target


def pkce_challenge(oauth) -> tuple[str, str, str]:
    """PKCE (RFC 7636): HubOAuth's own on JupyterHub 6, the same recipe on 5.x."""
    if hasattr(oauth, "generate_pkce_code_challenge"):
        return oauth.generate_pkce_code_challenge()
    verifier = secrets.token_urlsafe(32)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).decode().rstrip("="), "S256"


@bp.route("/login")
def login():
    config = settings()
    oauth = shared().oauth
    state = secrets.token_urlsafe(24)
    verifier, challenge, method = pkce_challenge(oauth)
    session["oauth"] = {
        "state": state,
        "verifier": verifier,
        "next": safe_next(request.args.get("next")),
    }
    query = urlencode(
        {"state": state, "code_challenge": challenge, "code_challenge_method": method}
    )
    log.debug("sending a browser to the hub to sign in (%s)", config.authorize_url)
    return redirect(f"{oauth.login_url}&{query}")


@bp.route("/oauth_callback")
def oauth_callback():
    config = settings()
    pending = session.pop("oauth", None)
    state = request.args.get("state", "")
    if request.args.get("error"):
        abort(403, description="The hub did not let you sign in to hubdesk.")
    if not pending or not state or not hmac.compare_digest(state, pending["state"]):
        abort(
            400,
            description="This sign-in link is stale or was started elsewhere. "
            "Please sign in again.",
        )
    code = request.args.get("code", "")
    if not code:
        abort(400, description="The hub sent no sign-in code. Please sign in again.")
    try:
        token = service_client().token_for_code(
            client_id=config.client_id,
            code=code,
            redirect_uri=config.oauth_callback_url,
            code_verifier=pending["verifier"],
        )
    except HubAPIError as e:
        log.warning("the hub refused a sign-in code: %s %s", e.status, e.message)
        abort(400, description="This sign-in link has expired. Please sign in again.")
    model = _identify(token)
    if model is None:
        abort(403, description="The hub did not confirm who you are. Please sign in again.")
    sid = sessions().begin(model["name"], token)
    lesson_store().refresh_token(model["name"], token)  # their lessons run on with this one
    renew_lesson_token(model["name"], token, model.get("scopes", ()))
    session.clear()
    session.permanent = True
    session["sid"] = sid
    log.info("%s signed in", model["name"])
    return redirect(safe_next(pending.get("next")))


def renew_lesson_token(person: str, token: str, scopes) -> None:
    """At sign-in, for someone who owns lessons: a new lesson token for their starts
    (:mod:`hubdesk.lessons.tokens`), so that their lessons outlive this sign-in."""
    lesson_tokens.at_sign_in(service_client(), lesson_store(), person, token, scopes)


def revoke_signin(person: Person) -> None:
    """Revoke the person's hub token for hubdesk (``token_id`` of ``GET /user``, JupyterHub
    5+), with that token itself (``tokens!user``): signed out of hubdesk means a token that
    no longer works anywhere. The hub revokes every sign-in of theirs to hubdesk with it.
    Refused (a configuration without ``tokens!user``) or unreachable: said in the log, and
    the session ends anyway; the token then lives until it expires on the hub."""
    model = _identify(person.token) or {}
    token_id = model.get("token_id")
    if not token_id:
        log.warning("%s's hub token could not be revoked: the hub gives no token id", person.name)
        return
    try:
        service_client().for_token(person.token).revoke_token(person.name, token_id)
    except HubAPIError as e:
        log.warning(
            "the hub refused to revoke %s's sign-in (%s %s): it lives until it expires",
            person.name,
            e.status,
            e.message,
        )
    except HubUnreachable as e:
        log.warning("%s's sign-in was not revoked: %s", person.name, e.reason)


@bp.route("/logout", methods=["GET", "POST"])
def logout():
    if request.method == "GET":
        store = lesson_store()
        # without a lesson token, their lessons run on this sign-in, which is revoked now
        stranded = store.owns_lessons(g.person.name) and (store.lesson_token(g.person.name) is None)
        return render_template("auth/logout.html", lessons_stranded=stranded)
    log.info("%s signed out", g.person.name)
    revoke_signin(g.person)
    sessions().end(session["sid"])  # on every worker and replica: the row is gone
    shared().identities.pop(_token_key(g.person.token))
    session.clear()
    return redirect(url_for("auth.signed_out"))


@bp.route("/signed-out")
def signed_out():
    config = settings()
    return render_template(
        "auth/signed_out.html", hub_logout=f"{config.hub_host}{config.hub_prefix}logout"
    )
