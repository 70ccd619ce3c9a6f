"""A job and its items as the pages and the work see them (read from the database by
:class:`~hubdesk.jobs.store.JobStore`)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from .specs import Spec

# outcomes an item keeps for good are all but these: "waiting" and "starting" are on the
# way, "paused" waits for someone to resume (or cancel) its paused job
PENDING = frozenset({"waiting", "starting", "paused"})
PAUSED = "paused"


class DamagedRecord(Exception):
    """A job row that cannot be read (edited by hand, or written by a broken version)."""


@dataclass
class Item:
    name: str
    op: str
    position: int
    outcome: str
    words: str
    sent: bool

    @property
    def finished(self) -> bool:
        return self.outcome not in PENDING


@dataclass
class Job:
    """A job as its page shows it."""

    id: str
    kind: str
    group: str
    by: str
    spec: Spec  # the dataclass of its kind (hubdesk.jobs.specs)
    scopes: frozenset
    created: float
    updated: float
    finished: float | None
    state: str
    lease_owner: str | None
    lease_until: float | None
    result: dict
    cancel_by: str | None
    takeovers: int
    items: dict[str, Item] = field(default_factory=dict)

    @property
    def done(self) -> bool:
        return self.state == "done"

    @property
    def paused(self) -> bool:
        """Waiting for someone to resume or cancel it: no worker runs it meanwhile."""
        return self.state == PAUSED

    @property
    def orphaned(self) -> bool:
        """Unfinished, and no worker holds it just now (one takes it over shortly)."""
        return not self.done and not self.paused and (self.lease_until or 0) < time.time()

    @property
    def actor(self) -> str:
        """Whom its hub calls are on record for: who resumed it last, else who asked."""
        return self.result.get("resumed_by") or self.by

    def counts(self) -> dict[str, int]:
        found: dict[str, int] = {}
        for item in self.items.values():
            found[item.outcome] = found.get(item.outcome, 0) + 1
        return found

    def pending(self) -> list[Item]:
        return sorted((i for i in self.items.values() if not i.finished), key=position)

    def in_order(self) -> list[Item]:
        """Every item, in the order they were asked for."""
        return sorted(self.items.values(), key=position)


def position(item: Item) -> int:
    return item.position
