"""The shared objects of one hubdesk app, each reached through a small typed getter.

``create_app`` builds one :class:`Shared` and keeps it in ``app.extensions``;
views, templates and the job runner reach its parts through the getters below
instead of string keys scattered over the code.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from flask import Flask, current_app

from .cache import TTLCache
from .hub import major_of

if TYPE_CHECKING:  # the getters name their types; importing them here would be circular
    from cryptography.fernet import MultiFernet
    from jupyterhub.services.auth import HubOAuth

    from .audit import AuditTrail
    from .config import Settings
    from .db import Database
    from .groups.directory import GroupDirectory
    from .hub import HubClient
    from .hubfacts import HubFacts
    from .jobs import JobRunner, JobStore
    from .lessons.store import LessonStore
    from .sessions import SessionStore
    from .streams import StreamSlots
    from .usage.recorder import UsageRecorder

KEY = "hubdesk"


@dataclass
class Shared:
    settings: Settings
    database: Database
    hub: HubClient  # acting with the service token
    oauth: HubOAuth
    audit: AuditTrail
    sessions: SessionStore
    jobs: JobRunner
    groups: GroupDirectory
    fernet: MultiFernet = field(repr=False)
    identities: TTLCache  # the hub's answer to "whose token is this?", briefly
    hub_facts: HubFacts
    streams: StreamSlots  # each open progress stream holds a thread
    lessons: LessonStore
    usage: UsageRecorder  # hubdesk's record of who used the hub


def init_app(app: Flask, shared: Shared) -> None:
    app.extensions[KEY] = shared


def shared(app: Flask | None = None) -> Shared:
    return (app or current_app).extensions[KEY]


def settings(app: Flask | None = None) -> Settings:
    """hubdesk's settings: the one way to reach them (templates too: ``settings()``)."""
    return shared(app).settings


def database() -> Database:
    return shared().database


def service_client() -> HubClient:
    """The hub client acting with hubdesk's own service token."""
    return shared().hub


def jobs() -> JobRunner:
    return shared().jobs


def job_store() -> JobStore:
    return shared().jobs.store


def group_directory() -> GroupDirectory:
    return shared().groups


def audit_trail() -> AuditTrail:
    return shared().audit


def lesson_store() -> LessonStore:
    return shared().lessons


def sessions() -> SessionStore:
    return shared().sessions


# -- the hub's facts (HubFacts: asked at most once a minute per process) -------------------


def service_scopes() -> frozenset:
    """The service token's own scopes: hubdesk offers nothing beyond them."""
    return shared().hub_facts.scopes()


def hub_version() -> str:
    """The hub's version."""
    return shared().hub_facts.version()


def hub_major() -> int:
    """The hub's major version (5 or 6)."""
    return major_of(hub_version())
