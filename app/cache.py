"""A small thread-safe cache whose entries expire (per process, never required)."""

from __future__ import annotations

import threading
import time


class TTLCache:
    def __init__(self, seconds: float, max_entries: int = 2048):
        self.seconds = seconds
        self.max_entries = max_entries
        self._data: dict = {}
        self._lock = threading.Lock()

    def get(self, key):
        with self._lock:
            hit = self._data.get(key)
            if hit and hit[0] > time.monotonic():
                return hit[1]
            self._data.pop(key, None)
            return None

    def set(self, key, value):
        now = time.monotonic()
        with self._lock:
            if len(self._data) >= self.max_entries:
                self._data = {k: v for k, v in self._data.items() if v[0] > now}
                if len(self._data) >= self.max_entries:
                    self._data.clear()
            self._data[key] = (now + self.seconds, value)

    def pop(self, key):
        with self._lock:
            self._data.pop(key, None)
