"""The Activity page's CSV: every audit record its filter matches, as the page says them.

Read newest first, as the page orders them, ``BATCH`` records at a time by id (the trail's
own keyset, :meth:`hubdesk.audit.AuditTrail.page`): a download holds one batch in memory,
whatever the history. Times are ISO 8601 in the person's zone (the header names it).
"""

from __future__ import annotations

from collections.abc import Iterator

from .audit import AuditTrail, Record
from .audit_words import Link, say
from .downloads import iso, zone_name

BATCH = 500


def header() -> list[str]:
    return [
        f"time ({zone_name()})",
        "who",
        "action",
        "what",
        "group",
        "users",
        "outcome",
        "hub's answer",
        "request id",
    ]


def words(parts) -> str:
    """A sentence of :mod:`hubdesk.audit_words` as plain text (as the page shows it)."""
    said = []
    for p in parts:
        if isinstance(p, Link) and not p.name:
            said.append("a group" if p.kind == "group" else "someone")
        else:
            said.append(str(p))
    return "".join(said)


def row(r: Record) -> list:
    said = say(r.action, r.target, r.hub)
    target = r.target
    users = target.get("users") or ([target["user"]] if target.get("user") else [])
    return [
        iso(r.time),
        "hubdesk itself" if r.person == "-" else r.person,
        r.action,
        words(said.sentence),
        str(target.get("group") or ""),
        " ".join(str(u) for u in users),
        said.answer,
        r.hub,
        "" if r.request_id == "-" else r.request_id,
    ]


def rows(trail: AuditTrail, filters: dict[str, str]) -> Iterator[list]:
    """Every record ``filters`` match (the page's: person, group, user, action), newest first.
    The first batch is read now: a database that fails is the page's error (a 503 in words),
    not a download cut short."""
    records, before = trail.page(limit=BATCH, **filters)

    def rest(records, before):
        yield from map(row, records)
        while before is not None:
            records, before = trail.page(before=before, limit=BATCH, **filters)
            yield from map(row, records)

    return rest(records, before)
