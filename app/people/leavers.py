"""Whom the end of term would delete: the accounts chosen, each judged.

Sources (each given one narrows the others: the accounts all of them name):

- a group's members (``group``);
- no activity since a day (``inactive_since``, YYYY-MM-DD, midnight in the person's zone):
  the hub lists users by ``last_activity``, ascending, the never-active first, so the
  inactive accounts are the list's first pages: read until the first account active since
  that day, never the whole hub. An account *made* since that day is left out (a student
  added last week who has not signed in yet is not last term's);
- names ticked on the users list (``user``, repeated; at most :data:`MOST_TICKED`).

Never included: hub admins and the person themselves, unless ticked by name on the preview
(``also``). Left out, and said so: accounts the person may not delete (their ``!group=``
filters resolved by the account's groups); a hub admin, for a person who is not one (the
hub's "Only admins can modify other admins": its rule for changes, which its delete does not
check; hubdesk holds deletions to it, on a person's page too).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime

from ..hub import MAX_PAGE, HubClient
from ..permissions import may_change_account
from ..servers.model import state_of
from ..words import as_time

MOST_TICKED = 500  # names a users list may post at once

May = Callable[[str, Iterable[str]], bool]  # may the person delete this account (its groups)?


class ChoiceError(ValueError):
    """What was asked for cannot be read (a bad date, too many names), in words."""


@dataclass(frozen=True)
class Choice:
    """The accounts asked for, as the preview's address (or form) carries them."""

    group: str = ""
    since: date | None = None
    names: tuple[str, ...] = ()  # ticked on the users list
    also: tuple[str, ...] = ()  # hub admins (or the person) ticked by name on the preview

    @property
    def given(self) -> bool:
        return bool(self.group or self.since or self.names)

    def fields(self) -> list[tuple[str, str]]:
        """(name, value) pairs that carry it: hidden fields of a form, or a query string."""
        found = [("group", self.group)] if self.group else []
        if self.since:
            found.append(("inactive_since", self.since.isoformat()))
        found += [("user", n) for n in self.names]
        return found + [("also", n) for n in self.also]


def parse_choice(values) -> Choice:
    """A Choice from a request's values (a MultiDict); ChoiceError in words when it is wrong."""
    since_text = (values.get("inactive_since") or "").strip()
    since = None
    if since_text:
        try:
            since = date.fromisoformat(since_text)
        except ValueError:
            raise ChoiceError(
                f"“{since_text[:40]}” is not a day: give it as YYYY-MM-DD (2026-06-30)."
            ) from None
    names = tuple(dict.fromkeys(n.strip() for n in values.getlist("user") if n.strip()))
    if len(names) > MOST_TICKED:
        raise ChoiceError(
            f"{len(names):,} names were ticked; at most {MOST_TICKED} can be asked at once."
        )
    also = tuple(dict.fromkeys(n for n in values.getlist("also") if n))[:MOST_TICKED]
    return Choice((values.get("group") or "").strip(), since, names, also)


@dataclass
class Preview:
    """Who would go (models, by name) and who is left out, by reason (names)."""

    going: list[dict] = field(default_factory=list)
    admins: list[str] = field(default_factory=list)  # hub admins not ticked (may be ticked)
    yourself: bool = False  # the person is among those chosen, not ticked
    not_allowed: list[str] = field(default_factory=list)
    made_since: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # ticked names the hub has no user for

    @property
    def names(self) -> list[str]:
        return [m["name"] for m in self.going]

    @property
    def running(self) -> int:
        """How many of those going have a server running (stopped first)."""
        return sum(1 for m in self.going if any_active(m))

    @property
    def digest(self) -> str:
        """What was previewed, in short: the confirmation must match it."""
        return hashlib.sha256("\n".join(self.names).encode()).hexdigest()[:32]


def any_active(model: dict) -> bool:
    servers = model.get("servers") or {}
    return any(state_of(s) != "stopped" for s in servers.values())


def start_of(day: date, zone) -> datetime:
    """Midnight of ``day`` in the person's zone."""
    return datetime(day.year, day.month, day.day, tzinfo=zone)


def inactive_since(client: HubClient, start: datetime) -> list[dict]:
    """Every user with no activity since ``start``: the hub's list by ``last_activity``,
    page after page, until the first user active since then (never-active ones first)."""
    found, offset = [], 0
    while True:
        page = client.list_users(offset=offset, limit=MAX_PAGE, sort="last_activity")
        for model in page.items:
            last = as_time(model.get("last_activity"))
            if last is not None and last >= start:
                return found
            found.append(model)
        if page.next_offset is None or not page.items:
            return found
        offset = page.next_offset


def chosen(
    client: HubClient, choice: Choice, members: list[str] | None, start: datetime | None
) -> tuple[list[dict], list[str]]:
    """The models of the accounts every source names, and the ticked names the hub lacks."""
    models: dict[str, dict] | None = None
    missing: list[str] = []
    if start is not None:
        models = {m["name"]: m for m in inactive_since(client, start)}
    for names in (members, list(choice.names) if choice.names else None):
        if names is None:
            continue
        if models is not None:
            keep = set(names)
            models = {n: m for n, m in models.items() if n in keep}
            continue
        found = client.user_models(names)
        if names is not members:
            missing = [n for n in names if n not in found]
        models = {n: found[n] for n in dict.fromkeys(names) if n in found}
    return list((models or {}).values()), missing


def judge(
    models: list[dict],
    choice: Choice,
    *,
    person: str,
    person_admin: bool,
    start: datetime | None,
    may: May,
) -> Preview:
    """Sort the chosen accounts into those going and those left out (and why)."""
    preview = Preview()
    for model in sorted(models, key=lambda m: m["name"]):
        name = model["name"]
        made = as_time(model.get("created"))
        if start is not None and made is not None and made >= start:
            preview.made_since.append(name)
        elif not may(name, model.get("groups") or ()):
            preview.not_allowed.append(name)
        elif not may_change_account(model, admin=person_admin):
            preview.not_allowed.append(name)  # only admins touch admins (see above)
        elif name in choice.also:
            preview.going.append(model)
        elif model.get("admin"):
            preview.admins.append(name)
        elif name == person:
            preview.yourself = True
        else:
            preview.going.append(model)
    return preview
