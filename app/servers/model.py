"""Reading the hub's server models: state, profile, idle time, where to open one, and a hub
error answering a start or stop in words."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from ..hub import HubAPIError
from ..profiles import Profile, profile_for
from ..words import server_words

STATES = ("running", "starting", "stopping", "stopped", "failed")
ACTIVE = ("running", "starting", "stopping")


def parse_time(value: str | None) -> datetime | None:
    """The hub's ISO 8601 timestamps ("2026-11-26T00:59:37.842305Z")."""
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def server_in(user: dict, name: str) -> dict | None:
    """The server ``name`` ("" for the default one) of a hub user model, if it has one."""
    return (user.get("servers") or {}).get(name)


def state_of(server: dict | None) -> str:
    """running / starting / stopping / stopped, from a server model (None: no such server)."""
    if server is None:
        return "stopped"
    pending = server.get("pending")
    if pending == "spawn":
        return "starting"
    if pending == "stop":
        return "stopping"
    if server.get("ready"):
        return "running"
    return "starting" if pending else "stopped"


@dataclass
class Server:
    """One of a user's servers, as hubdesk shows it."""

    user: str
    name: str  # "" for the default server
    state: str
    profile: Profile | None
    user_options: dict
    choices: list  # (option, choice) display names of the profile's options, free text as typed
    started: datetime | None
    last_activity: datetime | None
    url: str
    failure: str = ""  # why its last start failed (state "failed"), as the hub says
    host: str = ""  # the hub's public host (settings' hub_host; "": the same host as hubdesk)

    @property
    def label(self) -> str:
        return self.name or "default server"

    @property
    def open_url(self) -> str:
        """Where a browser opens it (the hub's public host and its URL path); "" without a path."""
        return open_url_path(self.url, self.host) if self.url else ""

    @property
    def active(self) -> bool:
        return self.state in ACTIVE

    def idle_hours(self, now: datetime | None = None) -> float | None:
        if self.last_activity is None:
            return None
        now = now or datetime.now(UTC)
        return (now - self.last_activity).total_seconds() / 3600


def server_of(user: str, name: str, model: dict, profiles=(), *, host: str = "") -> Server:
    """One server, from the hub's model of it; ``host``: the hub's public host (its open URL)."""
    options = model.get("user_options") or {}
    profile = profile_for(list(profiles), options)
    return Server(
        user=user,
        name=name,
        state=state_of(model),
        profile=profile,
        user_options=options,
        choices=profile.chosen_labels(options) if profile else [],
        started=parse_time(model.get("started")),
        last_activity=parse_time(model.get("last_activity")),
        url=model.get("url") or "",
        host=host,
    )


def servers_of(user: dict, profiles=(), *, host: str = "") -> list[Server]:
    """A user's servers, the default one first, then by name (``host``: as for server_of)."""
    found = [
        server_of(user["name"], name, model, profiles, host=host)
        for name, model in (user.get("servers") or {}).items()
    ]
    # the hub lists a stopped default server for everyone; one never used says nothing
    found = [s for s in found if s.name or s.active or s.last_activity or s.started]
    return sorted(found, key=lambda s: (s.name != "", s.name))


def mark_failures(servers: list[Server], client) -> list[Server]:
    """Stopped servers whose last start failed become "failed", with the hub's reason.

    One progress call per stopped server that was ever used (a few at a time): the hub
    keeps the failure in memory only, and says it only there (``HubClient.start_failure``).
    """
    asked = [(s.user, s.name) for s in servers if s.state == "stopped" and s.last_activity]
    failures = client.start_failures(asked)
    for s in servers:
        why = failures.get((s.user, s.name))
        if why:
            s.state, s.failure = "failed", why
    return servers


def open_url_path(path: str, host: str) -> str:
    """A server's URL path as a link the person's browser opens, on the hub's public ``host``
    (an absolute URL is left as it is)."""
    return f"{host}{path}" if path.startswith("/") else path


def explain(error: HubAPIError, user: str, server: str) -> tuple[str, str]:
    """(outcome, words) for a hub error answering a start or stop."""
    message = error.message
    label = server_words(server)
    if error.status == 400 and "already running" in message:
        return "running", f"{label} is already running"
    if error.status == 400 and "maximum" in message:
        return "limit", f"{user} already has the most named servers allowed; remove one first"
    if error.status == 400 and "pending stop" in message:
        return "failed", f"{label} is still stopping; try again in a moment"
    if error.status == 400 and "Invalid server_name" in message:
        return "failed", f"“{server}” is not a valid server name"
    if error.status == 404:
        return "failed", f"there is no user called {user}"
    if error.status == 429:
        return "failed", "the hub is starting too many servers at once; try again shortly"
    return "failed", f"the hub refused: {message}"
