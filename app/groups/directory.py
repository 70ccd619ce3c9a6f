"""Every group's name and member count, kept briefly in each process.

The hub's ``GET /groups`` can neither search by name nor sort by name, and its
``_pagination.total`` counts every group even for a person whose
``list:groups`` is filtered (JupyterHub 6.1). So hubdesk reads the whole list
now and then, at most once per ``HUBDESK_GROUP_CACHE_SECONDS`` per process
(and again right after a change made through this process), and pages, sorts
and searches it itself. A page then costs O(page), whatever the hub's size.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass


@dataclass(frozen=True)
class GroupEntry:
    name: str
    members: int


class GroupDirectory:
    """A per-process, time-limited copy of the hub's group names and sizes."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self._entries: list[GroupEntry] | None = None
        self._expires = 0.0
        self._lock = threading.Lock()

    def entries(self, client) -> list[GroupEntry]:
        """All groups, sorted by name (case-insensitive), read with ``client`` when stale."""
        entries = self._entries
        if entries is not None and time.monotonic() < self._expires:
            return entries
        with self._lock:  # one refresh at a time; the others wait for it
            if self._entries is not None and time.monotonic() < self._expires:
                return self._entries
            fresh = [GroupEntry(g["name"], len(g.get("users") or ())) for g in client.iter_groups()]
            fresh.sort(key=lambda e: (e.name.casefold(), e.name))
            self._entries, self._expires = fresh, time.monotonic() + self.seconds
            return fresh

    def invalidate(self) -> None:
        """Forget the copy: the next page reads the hub again."""
        self._expires = 0.0


def search(entries: list[GroupEntry], query: str) -> list[GroupEntry]:
    """Groups whose name contains ``query``, ignoring case."""
    needle = query.strip().casefold()
    if not needle:
        return entries
    return [e for e in entries if needle in e.name.casefold()]
