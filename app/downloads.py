"""CSV downloads, streamed: every usage table (hubdesk.usage) and the Activity page's current
filter (hubdesk.activity_csv).

Rows are written as they are read (``stream_with_context``), so a 5,000-row download holds
one row at a time. Times are ISO 8601 in the person's zone, with its offset
(``2026-12-07T09:27:00+01:00``), and the header names the zone. A cell that a spreadsheet
would run as a formula (text that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage
return: a user or group name can) gets a leading ``'``, as OWASP advises.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Sequence
from datetime import datetime

from flask import Response, stream_with_context

from .words import as_time, person_zone

FORMULA = ("=", "+", "-", "@", "\t", "\r")
_SAFE_FILENAME = re.compile(r"[^A-Za-z0-9._-]+")


def iso(value) -> str:
    """A time (epoch seconds, datetime or ISO text) as ISO 8601 in the person's zone; "" if none."""
    t: datetime | None = as_time(value)
    if t is None:
        return ""
    return t.astimezone(person_zone().info).isoformat(timespec="seconds")


def zone_name() -> str:
    """The zone the download's times are in (for its header: "started (Europe/Paris)")."""
    return person_zone().name


def cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):  # a number, never a formula (a change may be negative)
        return f"{value:.2f}".rstrip("0").rstrip(".") if value % 1 else str(int(value))
    text = str(value)
    return "'" + text if text.startswith(FORMULA) else text


def filename(*parts: str) -> str:
    """A download's file name from its parts (``usage``, the group's name, the range)."""
    name = "-".join(_SAFE_FILENAME.sub("_", p).strip("_") for p in parts if p)
    return (name or "hubdesk")[:120] + ".csv"


def csv_response(name: str, header: Sequence[str], rows: Iterable[Sequence]) -> Response:
    """A streamed CSV download named ``name`` (see :func:`filename`)."""

    def lines():
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow([cell(h) for h in header])
        for row in rows:
            writer.writerow([cell(v) for v in row])
            if buffer.tell() > 16_384:
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
        yield buffer.getvalue()

    response = Response(stream_with_context(lines()), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return response
