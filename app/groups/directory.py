"""Every group's name and member count, kept in each process.

The hub's ``GET /groups`` can neither search by name nor sort by name, and its
``_pagination.total`` counts every group even for a person whose
``list:groups`` is filtered (JupyterHub 6.1). So hubdesk reads the whole list
now and then and pages, sorts and searches it itself: a page then costs
O(page) plus a scan of names in memory, whatever the hub's size.

- The first request of a process reads the list (about 350 ms for 2,000 groups).
- After ``HUBDESK_GROUP_CACHE_SECONDS`` the copy is stale: requests keep being
  served from it while one background thread reads a fresh one, so nobody waits.
- Changes made through hubdesk, by any worker of any replica, show on the next
  page load everywhere: ``changed`` and ``forget`` write them to the database's
  ``group_changes`` log, and each request first applies what is new there (one
  indexed query: O(changes), not O(groups)). Changes made outside hubdesk show
  up within the cache lifetime.
"""

from __future__ import annotations

import bisect
import logging
import threading
import time
from dataclasses import dataclass

from sqlalchemy import delete, func, insert, select

from .. import db
from ..db import Database, StateUnavailable

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class GroupEntry:
    name: str
    members: int

    @property
    def key(self):
        return (self.name.casefold(), self.name)


class GroupDirectory:
    """A per-process copy of the hub's group names and sizes, sorted by name."""

    def __init__(self, seconds: float, database: Database | None = None):
        self.seconds = seconds
        self.database = database
        self._seq = 0  # the last change of the log applied here
        self._entries: list[GroupEntry] | None = None
        self._read_at = 0.0
        self._lock = threading.Lock()  # guards _entries and _refreshing
        self._first = threading.Lock()  # one first read at a time
        self._refreshing = False
        self._edits: list[tuple[str, GroupEntry | None]] = []  # made during a refresh

    def entries(self, client) -> list[GroupEntry]:
        """All groups, sorted by name (case-insensitive); ``client`` reads the hub when needed."""
        entries = self._entries
        if entries is None:
            with self._first:  # the others wait for the one reading
                if self._entries is None:
                    seq = self._last_seq()  # first: changes made during the read come again
                    self._store(self._read(client))
                    self._seq = max(self._seq, seq)
                return self._entries
        self._catch_up()
        if time.monotonic() - self._read_at >= self.seconds:
            self._refresh_in_background(client)
        return self._entries

    def changed(self, name: str, members: int | None) -> None:
        """A group made or changed through hubdesk: shown at once, with its member count,
        here and (through the database) in every other worker.

        ``None``: the count is not known (the hub went away); the next refresh tells.
        """
        if members is not None:
            self._log(name, members)
            self._edit(name, GroupEntry(name, members))

    def forget(self, name: str) -> None:
        """A group deleted through hubdesk."""
        self._log(name, None)
        self._edit(name, None)

    def prune(self, keep_seconds: float = 86400) -> None:
        """Forget changes older than a day (every worker has long applied them)."""
        if self.database is not None:
            with self.database.write() as conn:
                cutoff = time.time() - keep_seconds
                conn.execute(delete(db.group_changes).where(db.group_changes.c.time < cutoff))

    # -- the change log ------------------------------------------------------------

    def _log(self, name: str, members: int | None) -> None:
        if self.database is None:
            return
        try:
            with self.database.write() as conn:
                conn.execute(
                    insert(db.group_changes).values(
                        name=name[: db.NAME], members=members, time=time.time()
                    )
                )
        except StateUnavailable as e:
            log.warning("could not tell the other workers about group %s: %s", name, e)

    def _last_seq(self) -> int:
        if self.database is None:
            return 0
        with self.database.read() as conn:
            return conn.execute(select(func.max(db.group_changes.c.seq))).scalar() or 0

    def _catch_up(self) -> None:
        """Apply the changes other workers made since the last look."""
        if self.database is None:
            return
        c = db.group_changes.c
        with self.database.read() as conn:
            rows = conn.execute(
                select(c.seq, c.name, c.members).where(c.seq > self._seq).order_by(c.seq)
            ).all()
        for seq, name, members in rows:
            self._edit(name, None if members is None else GroupEntry(name, members))
            self._seq = max(self._seq, seq)

    @property
    def refreshing(self) -> bool:
        """Whether a background refresh is under way."""
        return self._refreshing

    def invalidate(self) -> None:
        """Drop the copy: the next request reads the hub again."""
        with self._lock:
            self._entries = None

    # -- inside -----------------------------------------------------------------

    @staticmethod
    def _read(client) -> list[GroupEntry]:
        fresh = [GroupEntry(g["name"], len(g.get("users") or ())) for g in client.iter_groups()]
        fresh.sort(key=lambda e: e.key)
        return fresh

    def _store(self, entries: list[GroupEntry]) -> None:
        with self._lock:
            # edits made while the hub was being read may be missing from what it said
            for name, entry in self._edits:
                entries = _edited(entries, name, entry)
            self._edits.clear()
            self._entries = entries
            self._read_at = time.monotonic()

    def _refresh_in_background(self, client) -> None:
        with self._lock:
            if self._refreshing:
                return
            self._refreshing = True
            self._edits.clear()

        def refresh():
            try:
                self._store(self._read(client))
            except Exception:  # the stale copy keeps serving; try again next time
                log.warning("could not refresh the group list", exc_info=True)
            finally:
                with self._lock:
                    self._refreshing = False

        threading.Thread(target=refresh, name="hubdesk-groups", daemon=True).start()

    def _edit(self, name: str, entry: GroupEntry | None) -> None:
        with self._lock:
            if self._refreshing:
                self._edits.append((name, entry))
            if self._entries is not None:
                self._entries = _edited(self._entries, name, entry)


def _edited(entries: list[GroupEntry], name: str, entry: GroupEntry | None) -> list[GroupEntry]:
    """A new sorted list (readers keep a consistent old one) with ``name`` replaced or gone."""
    entries = [e for e in entries if e.name != name]
    if entry is not None:
        keys = [e.key for e in entries]
        entries.insert(bisect.bisect_left(keys, entry.key), entry)
    return entries


def search(entries: list[GroupEntry], query: str) -> list[GroupEntry]:
    """Groups whose name contains ``query``, ignoring case."""
    needle = query.strip().casefold()
    if not needle:
        return entries
    return [e for e in entries if needle in e.name.casefold()]
