"""The app factory: builds the Flask app, its shared objects and its blueprints.

Imported when ``hubdesk.create_app`` is first used (``hubdesk/__init__.py``), never by
``hubdesk.gunicorn_conf``: gunicorn loads that first and sets ``PROMETHEUS_MULTIPROC_DIR``,
which prometheus_client reads once, when it is first imported (by ``metrics``, below).
"""

from __future__ import annotations

import base64
import hashlib
import logging
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path

from cryptography.fernet import Fernet, MultiFernet
from flask import Flask, request
from flask_wtf.csrf import CSRFProtect
from jupyterhub.services.auth import HubOAuth
from werkzeug.exceptions import NotFound
from werkzeug.middleware.dispatcher import DispatcherMiddleware
from werkzeug.middleware.proxy_fix import ProxyFix

from . import (
    assets,
    audit,
    auth,
    errors,
    extensions,
    groups,
    hardening,
    lessons,
    logs,
    main,
    metrics,
    people,
    roster,
    servers,
    states,
    usage,
    users,
    words,
)
from .cache import TTLCache
from .config import BODY_LIMIT, Settings
from .db import Database, StateUnavailable
from .groups.directory import GroupDirectory
from .groups.membership import run_membership_change
from .hub import HubClient, environ_verify, make_session
from .hubfacts import HubFacts
from .jobs import (
    DeleteUsersSpec,
    HubStopSpec,
    JobRunner,
    JobStore,
    MembersSpec,
    StartSpec,
    StopSpec,
)
from .lessons.runs import run_due
from .lessons.store import LessonStore
from .paging import page_url
from .people.deletions import KIND as DELETE_USERS
from .people.deletions import run_deletions
from .roster.actions import run_group_action
from .servers.stops import KIND as HUB_STOP
from .servers.stops import run_hub_stop
from .sessions import SessionStore
from .start_options import option_field
from .streams import StreamSlots
from .usage.recorder import UsageRecorder

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
        SECRET_KEY=settings.secret_key,
        # cookies signed before a key rotation still count (Flask 3.1)
        SECRET_KEY_FALLBACKS=[settings.secret_key_previous] if settings.secret_key_previous else [],
        SESSION_COOKIE_NAME="hubdesk-session",
        SESSION_COOKIE_PATH=settings.service_prefix,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        PERMANENT_SESSION_LIFETIME=timedelta(hours=settings.session_hours),
        WTF_CSRF_TIME_LIMIT=None,  # tied to the session, which expires on its own
        # bodies past 4 MiB are refused (413) before a byte of them is read; form fields
        # past 512 KiB too; file parts past 500 KiB go to a temporary file (Werkzeug)
        MAX_CONTENT_LENGTH=BODY_LIMIT,
        MAX_FORM_MEMORY_SIZE=512 * 1024,
    )
    logs.setup(settings)
    if settings.profiles_source:
        log.info(
            "profile catalogue: %d profiles from %s",
            len(settings.profiles),
            settings.profiles_source,
        )
    if not settings.tls_verify:
        log.warning("HUBDESK_TLS_VERIFY is off: the hub's TLS certificate is NOT checked")

    shared = _shared(settings)
    extensions.init_app(app, shared)
    try:
        shared.database.upgrade()
    except StateUnavailable as e:
        # pages answer 503 in words until it is back; each request tries again (db_ready)
        log.error("%s; hubdesk starts anyway and tries again", e)

    logs.init_app(app, settings)  # first: a request id before anything can refuse the request
    csrf.init_app(app)
    hardening.init_app(app)
    assets.init_app(app)
    metrics.init_app(app)
    words.init_app(app)
    states.init_app(app)

    app.jinja_env.globals["page_url"] = page_url
    app.jinja_env.globals["option_field"] = option_field
    app.jinja_env.globals["settings"] = extensions.settings
    app.before_request(_db_ready)
    auth.init_app(app)
    errors.init_app(app)
    app.register_blueprint(main.bp)
    app.register_blueprint(groups.bp, url_prefix="/groups")
    app.register_blueprint(users.bp, url_prefix="/users")
    app.register_blueprint(people.bp, url_prefix="/people")
    app.register_blueprint(roster.bp, url_prefix="/groups")
    app.register_blueprint(servers.bp)
    app.register_blueprint(lessons.bp)
    app.register_blueprint(usage.bp, url_prefix="/usage")

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


def _shared(settings: Settings) -> extensions.Shared:
    """The objects one app shares between its requests and its job runner."""

    database = Database(settings.db_url)
    trail = audit.AuditTrail(database, keep_days=settings.audit_keep_days)
    hub = HubClient(
        settings.api_url,
        settings.api_token,
        verify=environ_verify(settings.verify),
        timeout=(settings.connect_timeout, settings.read_timeout),
        session=make_session(url=settings.api_url),
        audit=trail,
        observe=metrics.observe_hub_call,
    )

    def sealing_key(secret: str) -> Fernet:
        key = hashlib.sha256(b"hubdesk person token\0" + secret.encode()).digest()
        return Fernet(base64.urlsafe_b64encode(key))

    # seals with the current key; opens what either key sealed (HUBDESK_SECRET_KEY_PREVIOUS
    # during a rotation: sign-ins and lessons' tokens survive it)
    fernet = MultiFernet(
        [sealing_key(k) for k in (settings.secret_key, settings.secret_key_previous) if k]
    )
    groups = GroupDirectory(settings.group_cache_seconds, database)
    hub_facts = HubFacts(hub)
    sessions = SessionStore(database, fernet, settings.session_hours)

    recorder = UsageRecorder(
        database,
        sample_seconds=settings.usage_sample_seconds,
        keep_days=settings.usage_keep_days,
        zone=settings.usage_timezone,
    )

    def housekeeping() -> None:
        trail.prune()
        sessions.prune()
        groups.prune()
        recorder.prune()

    lessons = LessonStore(database, fernet)

    def due(runner: JobRunner) -> None:
        """At every look of the runner: lessons' runs that are due, and usage's sweep."""
        run_due(runner, lessons, trail, late_after=settings.lesson_late_seconds)
        recorder.sample_if_due(hub, owner=runner.owner)

    runner = JobRunner(
        JobStore(database, lease_seconds=settings.job_lease_seconds),
        hub,
        service_scopes=hub_facts.scopes,
        concurrency=settings.bulk_concurrency,
        failure_limit=settings.bulk_failure_limit,
        audit_trail=trail,
        keep_days=settings.jobs_keep_days,
        housekeeping=housekeeping,
        on_group_change=groups.changed,
        scheduler=due,
    )
    register_job_types(runner)
    return extensions.Shared(
        settings=settings,
        database=database,
        hub=hub,
        oauth=HubOAuth(
            api_url=settings.api_url,
            api_token=settings.api_token,
            oauth_client_id=settings.client_id,
            oauth_redirect_uri=settings.oauth_callback_url,
            base_url=settings.service_prefix,
            hub_prefix=settings.hub_prefix,
            hub_host=settings.hub_host,
        ),
        audit=trail,
        sessions=sessions,
        jobs=runner,
        groups=groups,
        fernet=fernet,
        identities=TTLCache(settings.identity_cache_seconds),
        hub_facts=hub_facts,
        streams=StreamSlots(settings.max_streams, settings.max_streams_per_person),
        lessons=lessons,
        usage=recorder,
    )


def register_job_types(runner: JobRunner) -> None:
    """Every kind of job the runner may meet: its work, and its spec's class."""
    runner.register("members", run_membership_change, MembersSpec)
    runner.register("start", run_group_action, StartSpec)
    runner.register("stop", run_group_action, StopSpec)
    runner.register(HUB_STOP, run_hub_stop, HubStopSpec)
    runner.register(DELETE_USERS, run_deletions, DeleteUsersSpec)


def _db_ready():
    """Before each request: the schema is current (tried again while the database is away),
    and this process's job runner is going (it takes over jobs whose worker died)."""

    if request.endpoint in ("static", "main.live", "main.health"):
        return
    shared = extensions.shared()
    if not shared.database.ready:
        shared.database.upgrade()  # StateUnavailable: the 503 page
    shared.jobs.ensure_started()
