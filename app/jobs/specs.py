"""What each kind of job asks for: a dataclass per job type, kept in its row as JSON.

The JSON keys are those earlier versions wrote (plain dicts then), so a row written by
one of them reads the same way. ``from_json`` takes any mapping: a missing key takes its
default, a key it does not know is ignored (the request id, say, came later), and a value
of the wrong type raises ``ValueError`` (the store then calls the record damaged).

The classes are the record format, so they live together, away from the work that reads
them (:mod:`hubdesk.groups.membership`, :mod:`hubdesk.roster.actions`,
:mod:`hubdesk.servers.stops`): whoever changes one sees what older rows hold.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Self


def _text(value: Any, default: str = "") -> str:
    if value is None:
        return default
    if not isinstance(value, str):
        raise ValueError(f"expected text, not {type(value).__name__}")
    return value


def _maybe_text(value: Any) -> str | None:
    return None if value is None else _text(value)


def _number(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"expected a number, not {type(value).__name__}")
    return float(value)


def _mapping(value: Any) -> dict | None:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise ValueError(f"expected an object, not {type(value).__name__}")
    return dict(value)


def _names_by(value: Any) -> dict[str, list[str]] | None:
    """{key: [name, ...]} (ticked servers by member, skipped names by reason)."""
    found = _mapping(value)
    if found is None:
        return None
    return {_text(k): [_text(n) for n in names] for k, names in found.items()}


@dataclass(frozen=True, kw_only=True)
class Spec:
    """What every job keeps: the request that asked for it (the logs name it)."""

    request_id: str = ""

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping) -> Self:
        if not isinstance(data, Mapping):
            raise ValueError("a job's spec is not an object")
        return cls(**cls._fields(data))

    @classmethod
    def _fields(cls, data: Mapping) -> dict:
        return {"request_id": _text(data.get("request_id"))}


@dataclass(frozen=True, kw_only=True)
class RawSpec(Spec):
    """The spec of a kind that no job type was registered for: kept as it was written."""

    data: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        return dict(self.data, request_id=self.request_id) if self.request_id else dict(self.data)

    @classmethod
    def _fields(cls, data: Mapping) -> dict:
        return dict(super()._fields(data), data=dict(data))


@dataclass(frozen=True, kw_only=True)
class MembersSpec(Spec):
    """A change of a group's members ("members"); its items are the names, each with its op."""

    verb: str = "add"  # add, remove or sync
    chunk: int = 500  # names per hub request
    create_missing: bool = False  # create the names the hub does not have (an add)
    skipped: dict[str, list[str]] = field(default_factory=dict)  # reason -> names left out

    @classmethod
    def _fields(cls, data: Mapping) -> dict:
        chunk = _number(data.get("chunk")) or 500
        return dict(
            super()._fields(data),
            verb=_text(data.get("verb"), "add"),
            chunk=int(chunk),
            create_missing=bool(data.get("create_missing")),
            skipped=_names_by(data.get("skipped")) or {},
        )


@dataclass(frozen=True, kw_only=True)
class GroupActionSpec(Spec):
    """What a group's start and stop share: the server, and the lesson run that made it."""

    server: str | None = None
    ticked: bool = False  # for the ticked members (or servers), not the whole group
    lesson: str | None = None  # the lesson whose run this is
    occurrence: float | None = None  # which of its occurrences (seconds since the epoch)
    late: bool = False  # made late (hubdesk was down when it was due)

    @classmethod
    def _fields(cls, data: Mapping) -> dict:
        return dict(
            super()._fields(data),
            server=_maybe_text(data.get("server")),
            ticked=bool(data.get("ticked")),
            lesson=_maybe_text(data.get("lesson")),
            occurrence=_number(data.get("occurrence")),
            late=bool(data.get("late")),
        )


@dataclass(frozen=True, kw_only=True)
class StartSpec(GroupActionSpec):
    """A group start ("start"): one server for each member (its items), with these options."""

    server: str = ""  # "": the default server
    user_options: dict | None = None
    display_name: str = ""  # JupyterHub 6's display name of a named server
    hub_major: int | None = None  # the hub's major version when it was asked
    profile: str | None = None  # the profile and options in words, for its page

    @classmethod
    def _fields(cls, data: Mapping) -> dict:
        major = _number(data.get("hub_major"))
        return dict(
            super()._fields(data),
            server=_text(data.get("server")),
            user_options=_mapping(data.get("user_options")),
            display_name=_text(data.get("display_name")),
            hub_major=None if major is None else int(major),
            profile=_maybe_text(data.get("profile")),
        )


@dataclass(frozen=True, kw_only=True)
class StopSpec(GroupActionSpec):
    """A group stop ("stop"): each member's servers (its items): ``server`` only when given
    (None: every running one), or the ones ticked for them."""

    servers: dict[str, list[str]] | None = None  # ticked servers: {member: [server, ...]}
    authority: str = ""  # a lesson's stop: hubdesk's own authority, in words
    listed_at: float | None = None  # confirmed then: a server started after it is left alone

    @classmethod
    def _fields(cls, data: Mapping) -> dict:
        return dict(
            super()._fields(data),
            servers=_names_by(data.get("servers")),
            authority=_text(data.get("authority")),
            listed_at=_number(data.get("listed_at")),
        )


@dataclass(frozen=True, kw_only=True)
class HubStopSpec(Spec):
    """A hub-wide stop ("hub-stop"): the ticked servers, or those idle that long.

    Item *n* is ``servers[n]``. With ``idle_amount``, each server is stopped only if, at
    its turn, it is still running and still idle that long.
    """

    servers: tuple[tuple[str, str], ...] = ()  # (user, server), in the order asked
    idle_amount: float | None = None  # "idle for at least" (None: the ticked servers)
    idle_unit: str = "hours"  # minutes or hours

    def to_json(self) -> dict:
        return dict(super().to_json(), servers=[list(pair) for pair in self.servers])

    @classmethod
    def _fields(cls, data: Mapping) -> dict:
        pairs = data.get("servers") or ()
        if not isinstance(pairs, list | tuple):
            raise ValueError("the servers of a stop are not a list")
        servers = []
        for pair in pairs:
            if not isinstance(pair, list | tuple) or len(pair) != 2:
                raise ValueError("a server of a stop is not a (user, server) pair")
            servers.append((_text(pair[0]), _text(pair[1])))
        return dict(
            super()._fields(data),
            servers=tuple(servers),
            idle_amount=_number(data.get("idle_amount")),
            idle_unit=_text(data.get("idle_unit"), "hours"),
        )


@dataclass(frozen=True, kw_only=True)
class DeleteUsersSpec(Spec):
    """The end of term ("delete-users"): the accounts previewed and confirmed, one item each
    (the item's name is the account's). Each is judged again at its turn: an account that
    became a hub admin since is left alone unless it is in ``admins`` (ticked by name).
    """

    group: str = ""  # the group whose members were chosen ("": none): offered for deletion
    inactive_since: str = ""  # YYYY-MM-DD: chosen for no activity since then ("": not so)
    admins: tuple[str, ...] = ()  # hub admins (or the person) ticked by name on the preview
    by_admin: bool = False  # the person was a hub admin (only they may delete an admin)

    def to_json(self) -> dict:
        return dict(super().to_json(), admins=list(self.admins))

    @classmethod
    def _fields(cls, data: Mapping) -> dict:
        admins = data.get("admins") or ()
        if not isinstance(admins, list | tuple):
            raise ValueError("the admins of an end of term are not a list")
        return dict(
            super()._fields(data),
            group=_text(data.get("group")),
            inactive_since=_text(data.get("inactive_since")),
            admins=tuple(_text(a) for a in admins),
            by_admin=bool(data.get("by_admin")),
        )
