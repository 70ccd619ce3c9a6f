"""The usage record's writes: each sweep's changes, and pruning (``HUBDESK_USAGE_KEEP_DAYS``).

(Groundwork: filled in by the recording part of issue 23.)
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from ..db import Database


class UsageRecorder:
    """Writes hubdesk's usage record; one per app, shared by its requests and job runner."""

    def __init__(self, database: Database, *, sample_seconds: float, keep_days: float, zone: str):
        self.database = database
        self.sample_seconds = sample_seconds
        self.keep_days = keep_days
        self.zone = ZoneInfo(zone)

    def sample_if_due(self, hub, *, owner: str) -> bool:
        """At each look of the job runner (every worker): sweep if one is due and no other
        worker holds the sampler's lease; whether this worker swept."""
        return False

    def prune(self) -> int:
        """Forget what is older than ``keep_days``; how many rows went."""
        return 0
