"""hubdesk's settings: the one place that reads the environment.

JupyterHub gives a managed service its ``JUPYTERHUB_*`` variables; an external
service sets the same names itself. hubdesk's own settings start with
``HUBDESK_``. A missing or wrong setting raises :class:`ConfigError` with one
line that names it.
"""

from __future__ import annotations

import logging
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse
from zoneinfo import ZoneInfo

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from .db import default_url
from .profiles import ProfileError
from .profiles import load_with_source as load_profiles

# request bodies past this are refused (413) unread: Flask's MAX_CONTENT_LENGTH, and
# gunicorn's pre_request closes such a connection rather than read the rest
BODY_LIMIT = 4 * 1024 * 1024

log = logging.getLogger(__name__)


class ConfigError(Exception):
    """A setting is missing or wrong; the message names it."""


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def _flag(env, name, default):
    raw = env.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise ConfigError(f"{name}={env[name]!r}: expected true or false")


def _number(env, name, default, *, kind=float, minimum=0):
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = kind(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r}: expected a number") from None
    if value < minimum:
        raise ConfigError(f"{name}={raw!r}: must be at least {minimum}")
    return value


def _sample_seconds(env) -> float:
    """HUBDESK_USAGE_SAMPLE_SECONDS: seconds between usage sweeps, at least 1; 0 turns the
    recording off (the usage pages then show what was recorded before, and say so)."""
    value = _number(env, "HUBDESK_USAGE_SAMPLE_SECONDS", 300.0)
    if 0 < value < 1:
        raise ConfigError(
            f"HUBDESK_USAGE_SAMPLE_SECONDS={value!r}: at least 1, or 0 to record no usage"
        )
    return value


def _usage_zone(env) -> str:
    """HUBDESK_USAGE_TIMEZONE: an IANA zone name (``Europe/Paris``); its midnights divide usage
    into days. Checked at start, so that a typo is one clear line, not a wrong chart."""
    raw = env.get("HUBDESK_USAGE_TIMEZONE", "").strip() or "UTC"
    try:
        ZoneInfo(raw)
    except (ValueError, OSError):
        raise ConfigError(
            f"HUBDESK_USAGE_TIMEZONE={raw!r}: not a time zone name (e.g. UTC, Europe/Paris)"
        ) from None
    return raw


def _read_file(env, name):
    path = env[name]
    try:
        return Path(path).read_text(encoding="utf-8").strip()
    except PermissionError as e:
        # a mounted secret readable by root only: say whom it must be readable by
        who = f"uid {os.geteuid()}, gid {os.getegid()}" if hasattr(os, "geteuid") else "it"
        raise ConfigError(
            f"{name}={path!r}: cannot read it ({e.strerror}): hubdesk runs as {who}, "
            "so the file must be readable by that user or group"
        ) from None
    except OSError as e:
        raise ConfigError(f"{name}={path!r}: cannot read it ({e.strerror})") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{name}={path!r}: the file is not UTF-8 text") from None


def _secret(env, name, file_name):
    """A secret given inline (``NAME``) or as a file (``NAME_FILE``, e.g. a Kubernetes secret)."""
    if env.get(file_name):
        value = _read_file(env, file_name)
        if not value:
            raise ConfigError(f"{file_name}={env[file_name]!r}: the file is empty")
        return value
    return env.get(name, "").strip()


def _prefix(value):
    value = value or "/"
    if not value.startswith("/"):
        value = "/" + value
    return value if value.endswith("/") else value + "/"


@dataclass(frozen=True)
class Settings:
    """Everything hubdesk can be told. See the README's configuration table."""

    api_url: str
    api_token: str = field(repr=False)
    secret_key: str = field(repr=False)
    service_name: str = "hubdesk"
    service_prefix: str = "/services/hubdesk/"
    client_id: str = "service-hubdesk"
    oauth_callback_url: str = "/services/hubdesk/oauth_callback"
    hub_prefix: str = "/hub/"
    hub_host: str = ""
    tls_verify: bool = True
    ca_bundle: str = ""
    connect_timeout: float = 3.05
    read_timeout: float = 30.0
    identity_cache_seconds: float = 30.0
    session_hours: float = 8.0
    group_cache_seconds: float = 30.0
    membership_chunk: int = 500
    profiles: tuple = ()  # hubdesk.profiles.Profile, from HUBDESK_PROFILES
    profiles_source: str = ""  # the file, and its key when a z2jh values file
    bulk_concurrency: int = 5
    # a bulk start pauses after this many spawn failures in a row (keep it below the hub's
    # Spawner.consecutive_failure_limit, at which the hub shuts itself down)
    bulk_failure_limit: int = 3
    state_dir: str = ""
    secure_cookies: str = "auto"  # auto: Secure when the request came over https
    log_level: str = "INFO"
    log_format: str = "text"
    db_url: str = field(default="", repr=False)  # an SQLAlchemy URL (may hold a password)
    audit_keep_days: float = 365.0
    jobs_keep_days: float = 30.0
    job_lease_seconds: float = 30.0  # a job whose worker died is taken over after this
    lesson_late_seconds: float = 60.0  # a lesson's run this much after its time is "late"
    lessons_per_group: int = 20  # lessons not cancelled, per group
    lessons_per_person: int = 50  # lessons not cancelled, saved last by one person
    # usage (app/usage): how often the sampler reads the running servers, how long its
    # record is kept, and the zone whose midnights divide its days
    usage_sample_seconds: float = 300.0
    usage_keep_days: float = 400.0
    usage_timezone: str = "UTC"
    # sealed data (sign-ins, lesson tokens) written under the key before a rotation
    secret_key_previous: str = field(default="", repr=False)
    metrics_token: str = field(default="", repr=False)
    proxy_hops: int = 0
    max_streams: int = 32  # progress streams one process passes on at once
    worker_connections: int = 2048  # gunicorn: connections one worker holds at once
    body_timeout: float = 30.0  # gunicorn: seconds a request's body may take to arrive
    max_streams_per_person: int = 2  # of which one person may hold this many
    authenticator_manages_groups: bool = False  # the identity provider owns memberships

    @property
    def verify(self):
        """What ``requests`` takes as ``verify``: a CA bundle path, or a bool."""
        if not self.tls_verify:
            return False
        return self.ca_bundle or True

    @property
    def authorize_url(self):
        """Where browsers start the hub's OAuth flow."""
        return f"{self.hub_host}{self.hub_prefix}api/oauth2/authorize"

    @classmethod
    def from_env(cls, env=None, *, need_hub: bool = True) -> Settings:
        """Read the environment; ``need_hub=False`` (``hubdesk-db``): the database settings only."""
        env = os.environ if env is None else env
        if not need_hub:
            env = {
                "JUPYTERHUB_API_URL": "http://unused",
                "JUPYTERHUB_API_TOKEN": "unused",
                "HUBDESK_SECRET_KEY": "x" * 32,
                **{k: v for k, v in env.items() if k.startswith("HUBDESK_")},
            }

        api_url = env.get("JUPYTERHUB_API_URL", "").strip().rstrip("/")
        if not api_url:
            raise ConfigError(
                "JUPYTERHUB_API_URL is not set: the hub's API URL, e.g. http://hub:8081/hub/api"
            )
        parsed = urlparse(api_url)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise ConfigError(
                f"JUPYTERHUB_API_URL={api_url!r}: expected an http:// or https:// URL"
            )

        token = _secret(env, "JUPYTERHUB_API_TOKEN", "HUBDESK_API_TOKEN_FILE")
        if not token:
            raise ConfigError(
                "JUPYTERHUB_API_TOKEN is not set (nor HUBDESK_API_TOKEN_FILE): "
                "hubdesk needs the service's API token"
            )

        secret_key = _secret(env, "HUBDESK_SECRET_KEY", "HUBDESK_SECRET_KEY_FILE")
        if not secret_key:
            raise ConfigError(
                "HUBDESK_SECRET_KEY is not set (nor HUBDESK_SECRET_KEY_FILE): it signs "
                "sessions and must be the same in every worker and replica "
                '(make one with: python -c "import secrets; print(secrets.token_hex(32))")'
            )
        if len(secret_key) < 32:
            raise ConfigError("HUBDESK_SECRET_KEY is too short: use at least 32 characters")
        previous_key = _secret(
            env, "HUBDESK_SECRET_KEY_PREVIOUS", "HUBDESK_SECRET_KEY_PREVIOUS_FILE"
        )
        if previous_key and len(previous_key) < 32:
            raise ConfigError(
                "HUBDESK_SECRET_KEY_PREVIOUS is too short: use at least 32 characters"
            )

        name = env.get("JUPYTERHUB_SERVICE_NAME", "").strip() or "hubdesk"
        prefix = _prefix(env.get("JUPYTERHUB_SERVICE_PREFIX", "").strip() or f"/services/{name}/")

        ca_bundle = env.get("HUBDESK_CA_BUNDLE", "").strip()
        if ca_bundle and not Path(ca_bundle).is_file():
            raise ConfigError(f"HUBDESK_CA_BUNDLE={ca_bundle!r}: no such file")

        secure = env.get("HUBDESK_SECURE_COOKIES", "").strip().lower() or "auto"
        if secure not in ("auto", "true", "false"):
            raise ConfigError(f"HUBDESK_SECURE_COOKIES={secure!r}: expected auto, true or false")

        level = env.get("HUBDESK_LOG_LEVEL", "").strip().upper() or "INFO"
        if level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
            raise ConfigError(
                f"HUBDESK_LOG_LEVEL={level!r}: expected DEBUG, INFO, WARNING or ERROR"
            )

        profiles, profiles_source = (), ""
        if env.get("HUBDESK_PROFILES", "").strip():
            try:
                profiles, profiles_source = load_profiles(env["HUBDESK_PROFILES"].strip())
                profiles = tuple(profiles)
            except ProfileError as e:
                raise ConfigError(f"HUBDESK_PROFILES: {e}") from None

        state_dir = env.get("HUBDESK_STATE_DIR", "").strip() or os.path.join(
            tempfile.gettempdir(), f"hubdesk-{name}"
        )

        db_url = _secret(env, "HUBDESK_DB_URL", "HUBDESK_DB_URL_FILE") or default_url(state_dir)
        try:
            backend = make_url(db_url).get_backend_name()
        except ArgumentError:
            raise ConfigError(
                "HUBDESK_DB_URL is not a database URL: expected, for example, "
                "sqlite:////path/hubdesk.sqlite or postgresql+psycopg://user:password@host/hubdesk"
            ) from None
        if backend not in ("sqlite", "postgresql"):
            raise ConfigError(
                f"HUBDESK_DB_URL: hubdesk runs on SQLite or PostgreSQL, not {backend!r}"
            )

        log_format = env.get("HUBDESK_LOG_FORMAT", "").strip().lower() or "text"
        if log_format not in ("text", "json"):
            raise ConfigError(f"HUBDESK_LOG_FORMAT={log_format!r}: expected text or json")

        return cls(
            api_url=api_url,
            api_token=token,
            secret_key=secret_key,
            service_name=name,
            service_prefix=prefix,
            client_id=env.get("JUPYTERHUB_CLIENT_ID", "").strip() or f"service-{name}",
            oauth_callback_url=env.get("JUPYTERHUB_OAUTH_CALLBACK_URL", "").strip()
            or f"{prefix}oauth_callback",
            hub_prefix=_prefix(env.get("JUPYTERHUB_BASE_URL", "").strip()) + "hub/",
            hub_host=env.get("JUPYTERHUB_HOST", "").strip().rstrip("/"),
            tls_verify=_flag(env, "HUBDESK_TLS_VERIFY", True),
            ca_bundle=ca_bundle,
            connect_timeout=_number(env, "HUBDESK_CONNECT_TIMEOUT", 3.05, minimum=0.1),
            read_timeout=_number(env, "HUBDESK_READ_TIMEOUT", 30.0, minimum=0.1),
            identity_cache_seconds=_number(env, "HUBDESK_IDENTITY_CACHE_SECONDS", 30.0),
            session_hours=_number(env, "HUBDESK_SESSION_HOURS", 8.0, minimum=0.1),
            group_cache_seconds=_number(env, "HUBDESK_GROUP_CACHE_SECONDS", 30.0),
            membership_chunk=_number(env, "HUBDESK_MEMBERSHIP_CHUNK", 500, kind=int, minimum=1),
            profiles=profiles,
            profiles_source=profiles_source,
            bulk_concurrency=_number(env, "HUBDESK_BULK_CONCURRENCY", 5, kind=int, minimum=1),
            bulk_failure_limit=_number(env, "HUBDESK_BULK_FAILURE_LIMIT", 3, kind=int, minimum=1),
            state_dir=state_dir,
            secure_cookies=secure,
            log_level=level,
            log_format=log_format,
            db_url=db_url,
            audit_keep_days=_number(env, "HUBDESK_AUDIT_KEEP_DAYS", 365.0, minimum=1),
            jobs_keep_days=_number(env, "HUBDESK_JOBS_KEEP_DAYS", 30.0, minimum=1),
            job_lease_seconds=_number(env, "HUBDESK_JOB_LEASE_SECONDS", 30.0, minimum=3),
            lesson_late_seconds=_number(env, "HUBDESK_LESSON_LATE_SECONDS", 60.0, minimum=1),
            lessons_per_group=_number(env, "HUBDESK_LESSONS_PER_GROUP", 20, kind=int, minimum=1),
            lessons_per_person=_number(env, "HUBDESK_LESSONS_PER_PERSON", 50, kind=int, minimum=1),
            usage_sample_seconds=_sample_seconds(env),
            usage_keep_days=_number(env, "HUBDESK_USAGE_KEEP_DAYS", 400.0, minimum=1),
            usage_timezone=_usage_zone(env),
            secret_key_previous=previous_key,
            metrics_token=_secret(env, "HUBDESK_METRICS_TOKEN", "HUBDESK_METRICS_TOKEN_FILE"),
            proxy_hops=_number(env, "HUBDESK_PROXY_HOPS", 0, kind=int),
            max_streams=_number(env, "HUBDESK_MAX_STREAMS", 32, kind=int, minimum=1),
            # read by gunicorn_conf: checked here, so that a bad value is one clear line
            worker_connections=_number(
                env, "HUBDESK_WORKER_CONNECTIONS", 2048, kind=int, minimum=1
            ),
            body_timeout=_number(env, "HUBDESK_BODY_TIMEOUT", 30.0, kind=float, minimum=1),
            authenticator_manages_groups=_flag(env, "HUBDESK_AUTHENTICATOR_MANAGES_GROUPS", False),
            max_streams_per_person=_number(
                env, "HUBDESK_MAX_STREAMS_PER_PERSON", 2, kind=int, minimum=1
            ),
        )
