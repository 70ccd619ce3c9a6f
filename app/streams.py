"""Progress-stream slots: each open progress stream holds a gunicorn thread.

At most ``HUBDESK_MAX_STREAMS`` streams per process, so that pages always find
a thread; and at most ``HUBDESK_MAX_STREAMS_PER_PERSON`` of them held by one
person, so that one person (or one script with their cookie) cannot keep
everybody else's progress pages waiting. A refused stream is asked to retry
(EventSource reconnects by itself).
"""

from __future__ import annotations

import threading


class StreamSlots:
    def __init__(self, total: int, per_person: int):
        self.total = total
        self.per_person = per_person
        self._held: dict[str, int] = {}
        self._lock = threading.Lock()

    def acquire(self, person: str) -> str | None:
        """Take a slot for ``person``; None when taken, else why not ("busy", "yours")."""
        with self._lock:
            if sum(self._held.values()) >= self.total:
                return "busy"
            if self._held.get(person, 0) >= self.per_person:
                return "yours"
            self._held[person] = self._held.get(person, 0) + 1
            return None

    def release(self, person: str) -> None:
        with self._lock:
            left = self._held.get(person, 0) - 1
            if left > 0:
                self._held[person] = left
            else:
                self._held.pop(person, None)

    def free(self) -> int:
        with self._lock:
            return self.total - sum(self._held.values())
