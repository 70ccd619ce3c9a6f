"""When hubdesk was recording: the sampler's spans (``usage_coverage``), read.

A sweep within two sample intervals of the previous one extends the latest span; a later
sweep starts a new one. Between spans hubdesk was not sampling (stopped, or its database
or the hub away): what happened then is *unknown*, and pages say so rather than count it
as zero or as running.
"""

from __future__ import annotations

from sqlalchemy import func, select

from ..db import Database
from . import tables as db


def recording_since(database: Database) -> float | None:
    """The first sweep hubdesk still keeps (None: it has never sampled)."""
    with database.read() as conn:
        return conn.execute(select(func.min(db.usage_coverage.c.started))).scalar()


def latest_sweep(database: Database) -> float | None:
    with database.read() as conn:
        return conn.execute(select(func.max(db.usage_coverage.c.last))).scalar()


def spans(database: Database, start: float, end: float) -> list[tuple[float, float]]:
    """The sampled spans that overlap start..end, clipped to it, in order."""
    c = db.usage_coverage.c
    with database.read() as conn:
        rows = conn.execute(
            select(c.started, c.last).where(c.last >= start, c.started <= end).order_by(c.started)
        ).all()
    return [(max(a, start), min(b, end)) for a, b in rows]


def gaps(database: Database, start: float, end: float) -> list[tuple[float, float]]:
    """The spans within start..end when hubdesk was not recording (usage unknown)."""
    out, at = [], start
    for a, b in spans(database, start, end):
        if a > at:
            out.append((at, a))
        at = max(at, b)
    if at < end:
        out.append((at, end))
    return out
