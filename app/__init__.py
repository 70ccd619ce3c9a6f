"""hubdesk: an admin dashboard for JupyterHub groups and named servers."""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path

from flask import Flask
from flask_wtf.csrf import CSRFProtect
from jupyterhub.services.auth import HubOAuth
from werkzeug.exceptions import NotFound
from werkzeug.middleware.dispatcher import DispatcherMiddleware
from werkzeug.middleware.proxy_fix import ProxyFix

from . import audit, logs, metrics
from .config import Settings
from .groups.directory import GroupDirectory
from .hub import HubClient, environ_verify, make_session
from .servers.jobs import JobStore

__version__ = "0.1.0"

csrf = CSRFProtect()
log = logging.getLogger(__name__)


def _asset_dir(name: str) -> str:
    """Templates and static files: in the package when installed, at the top in a checkout."""
    here = Path(__file__).resolve().parent
    for candidate in (here / name, here.parent / name):
        if candidate.is_dir():
            return str(candidate)
    raise RuntimeError(f"hubdesk's {name}/ folder is missing from the installation")


def create_app(config: Settings | Mapping | None = None) -> Flask:
    """Build the hubdesk app.

    ``config`` is a :class:`Settings`, a mapping read like the environment, or
    None to read ``os.environ``. Raises ``ConfigError`` for a bad setting.
    """
    settings = config if isinstance(config, Settings) else Settings.from_env(config)

    app = Flask(
        __name__,
        template_folder=_asset_dir("templates"),
        static_folder=_asset_dir("static"),
    )
    app.config.update(
        HUBDESK=settings,
        SECRET_KEY=settings.secret_key,
        SESSION_COOKIE_NAME="hubdesk-session",
        SESSION_COOKIE_PATH=settings.service_prefix,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        PERMANENT_SESSION_LIFETIME=timedelta(hours=settings.session_hours),
        WTF_CSRF_TIME_LIMIT=None,  # tied to the session, which expires on its own
        MAX_CONTENT_LENGTH=16 * 1024 * 1024,
    )
    logs.setup(settings)
    if not settings.tls_verify:
        log.warning("HUBDESK_TLS_VERIFY is off: the hub's TLS certificate is NOT checked")

    trail = app.extensions["hubdesk.audit"] = audit.AuditTrail(settings.audit_file)
    app.extensions["hubdesk.hub"] = HubClient(
        settings.api_url,
        settings.api_token,
        verify=environ_verify(settings.verify),
        timeout=(settings.connect_timeout, settings.read_timeout),
        session=make_session(url=settings.api_url),
        on_change=trail.record_hub_change,
        observe=metrics.observe_hub_call,
    )
    app.extensions["hubdesk.oauth"] = HubOAuth(
        api_url=settings.api_url,
        api_token=settings.api_token,
        oauth_client_id=settings.client_id,
        oauth_redirect_uri=settings.oauth_callback_url,
        base_url=settings.service_prefix,
        hub_prefix=settings.hub_prefix,
        hub_host=settings.hub_host,
    )

    app.extensions["hubdesk.groups"] = GroupDirectory(settings.group_cache_seconds)
    app.extensions["hubdesk.jobs"] = JobStore(settings.state_dir)
    # each open progress stream holds a thread: at most this many per process
    app.extensions["hubdesk.streams"] = threading.BoundedSemaphore(settings.max_streams)

    from . import assets, auth, errors, groups, hardening, main, servers, users

    logs.init_app(app)  # first: a request id before anything can refuse the request
    csrf.init_app(app)
    hardening.init_app(app)
    assets.init_app(app)
    metrics.init_app(app)
    auth.init_app(app)
    errors.init_app(app)
    app.register_blueprint(main.bp)
    app.register_blueprint(groups.bp, url_prefix="/groups")
    app.register_blueprint(users.bp, url_prefix="/users")
    app.register_blueprint(servers.bp)

    # JupyterHub's proxy passes the full path (/services/hubdesk/...): mount the
    # app at the service prefix so that url_for() and cookies carry it.
    app.wsgi_app = DispatcherMiddleware(
        NotFound(), {settings.service_prefix.rstrip("/"): app.wsgi_app}
    )
    if settings.proxy_hops:
        # believe X-Forwarded-For/Proto/Host/Port from exactly this many proxies in front
        n = settings.proxy_hops
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n, x_port=n)
    return app
