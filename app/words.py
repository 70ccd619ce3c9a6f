"""How hubdesk says things: counts, servers, times and durations, the same in Python and in
templates.

Registered as Jinja filters and globals by ``init_app``: ``{{ n|plural("member") }}``,
``{{ server_words(name) }}``, ``{{ when(t) }}``, ``{{ seconds|duration }}``.

Times show in the person's time zone: their browser names it in a cookie (``ZONE_COOKIE``,
set by static/hubdesk.js), read and checked once per request (``person_zone``). Until it is
known, and without JavaScript, times are in UTC, and the page says so (templates/base.html).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from functools import cache
from zoneinfo import ZoneInfo, available_timezones

from flask import g, has_request_context, request
from markupsafe import Markup

ZONE_COOKIE = "hubdesk-zone"
# what an IANA zone name is made of; anything else in the cookie is not even looked up
_ZONE_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_+\-]*(?:/[A-Za-z0-9_+\-]+){0,2}")
# names zoneinfo finds that are not places (the machine's own clock, tzdata's placeholder)
_NOT_ZONES = frozenset({"localtime", "Factory", "posixrules"})
# old names browsers still give (ICU keeps CLDR's), shown by the name tzdata has now
RENAMED = {
    "Asia/Calcutta": "Asia/Kolkata",
    "Asia/Katmandu": "Asia/Kathmandu",
    "Asia/Saigon": "Asia/Ho_Chi_Minh",
    "Asia/Rangoon": "Asia/Yangon",
    "Europe/Kiev": "Europe/Kyiv",
    "Atlantic/Faeroe": "Atlantic/Faroe",
    "America/Godthab": "America/Nuuk",
    "Pacific/Truk": "Pacific/Chuuk",
    "Pacific/Ponape": "Pacific/Pohnpei",
    "Pacific/Enderbury": "Pacific/Kanton",
    "America/Buenos_Aires": "America/Argentina/Buenos_Aires",
    "America/Indianapolis": "America/Indiana/Indianapolis",
    "America/Louisville": "America/Kentucky/Louisville",
}


# a <wbr> after each of these in a name (``breakable``)
AFTER_SEPARATOR = re.compile(r"(?<=[-_./@])")


def breakable(name) -> Markup:
    """A name that wraps where a reader would break it: escaped, with a ``<wbr>`` after each
    ``-``, ``_``, ``.``, ``/`` or ``@`` (none at its end). The element holding it keeps
    ``word-break: normal`` (``.name-breaks`` in hubdesk.css), so a line breaks there first and
    mid-word only when one part is wider than the whole line (``.text-break`` breaks anywhere).
    """
    parts = [part for part in AFTER_SEPARATOR.split(str(name)) if part]
    return Markup("<wbr>").join(parts)


def plural(n: int, word: str, words: str | None = None) -> str:
    """ "1 member", "2 members", "1,204 people" (``plural(n, "person", "people")``)."""
    return f"{n:,} {word if n == 1 else (words or word + 's')}"


def server_words(name: str, user: str | None = None, *, start: bool = False) -> str:
    """A server in words: "the default server", "“labs”", "“labs” of ana".

    ``start``: the first word capitalised, for the start of a sentence.
    """
    said = f"“{name}”" if name else "the default server"
    if user:
        said += f" of {user}"
    return said[0].upper() + said[1:] if start else said


# -- durations ---------------------------------------------------------------------------

_UNITS = (("day", 86400), ("hour", 3600), ("minute", 60), ("second", 1))


def duration_words(seconds, *, parts: int = 2) -> str:
    """A duration in words, its ``parts`` largest units, rounded to the last one shown:
    "1 minute", "1 minute 30 seconds", "2 hours 5 minutes", "3 days" (an empty string for
    no number)."""
    try:
        total = abs(float(seconds))
    except (TypeError, ValueError):
        return ""
    if not math.isfinite(total):
        return ""
    first = next((i for i, (_, size) in enumerate(_UNITS) if total >= size), len(_UNITS) - 1)
    step = _UNITS[min(first + parts - 1, len(_UNITS) - 1)][1]
    total = round(total / step) * step  # may carry into a larger unit: 59.7 s → "1 minute"
    first = next((i for i, (_, size) in enumerate(_UNITS) if total >= size), len(_UNITS) - 1)
    said = []
    for word, size in _UNITS[first : first + parts]:
        n, total = divmod(total, size)
        if n or not said:
            said.append(plural(int(n), word))
    return " ".join(said)


# -- the person's time zone --------------------------------------------------------------


@dataclass(frozen=True)
class Zone:
    """The zone a page shows times in: ``known`` when it is the browser's own (``given``: the
    name the browser gave, ``name``: the one shown, tzdata's current name for it)."""

    name: str
    info: tzinfo
    known: bool
    given: str = ""


UNKNOWN = Zone("UTC", UTC, known=False)


@cache
def _zone_names() -> frozenset[str]:
    return frozenset(
        z
        for z in available_timezones()
        if z not in _NOT_ZONES and not z.startswith(("posix/", "right/"))
    ) | {"UTC"}


def zone_named(name) -> Zone:
    """The zone a browser named (``Intl`` gives IANA names); anything else is UTC, unknown."""
    if not isinstance(name, str) or len(name) > 64 or not _ZONE_NAME.fullmatch(name):
        return UNKNOWN
    if name not in _zone_names():
        return UNKNOWN
    shown = RENAMED.get(name, name) if RENAMED.get(name) in _zone_names() else name
    try:
        return Zone(shown, ZoneInfo(shown), known=True, given=name)
    except (ValueError, OSError):  # a zone file gone since the list was read
        return UNKNOWN


def person_zone() -> Zone:
    """The zone of the person this request is for, from their browser's cookie (read once
    a request); UTC, not known, outside a request or without the cookie."""
    if not has_request_context():
        return UNKNOWN
    zone = g.get("time_zone")
    if zone is None:
        zone = g.time_zone = zone_named(request.cookies.get(ZONE_COOKIE))
    return zone


def mark_times_shown() -> None:
    """This page shows a time: its footer names the zone (templates/base.html)."""
    if has_request_context():
        g.times_shown = True


# -- times ---------------------------------------------------------------------------------


def as_time(value) -> datetime | None:
    """A datetime from what hubdesk keeps: a datetime, seconds since the epoch, or ISO 8601."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC)
    try:
        t = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return t if t.tzinfo else t.replace(tzinfo=UTC)


def local(value) -> datetime | None:
    """A time in the person's zone (None when there is none)."""
    t = as_time(value)
    if t is None:
        return None
    mark_times_shown()
    return t.astimezone(person_zone().info)


def local_text(value, *, seconds: bool = False) -> str:
    """A time as plain text in the person's zone, "2026-12-07 09:27" (the page names the zone)."""
    t = local(value)
    return t.strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M") if t else "—"


NO_TIME = Markup('<span class="text-muted">—</span>')


def _time_element(t: datetime, shown: str) -> Markup:
    """``<time datetime="ISO (UTC)" title="the time, its zone">shown</time>``."""
    full = t.strftime("%Y-%m-%d %H:%M:%S" if t.second else "%Y-%m-%d %H:%M")
    return Markup('<time datetime="{}" title="{} {}">{}</time>').format(
        t.astimezone(UTC).isoformat(), full, person_zone().name, shown
    )


def when(value, *, seconds: bool = False) -> Markup:
    """A time for a page, in the person's zone, as a <time> element (a dash when there is none)."""
    t = local(value)
    if t is None:
        return NO_TIME
    return _time_element(t, t.strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M"))


def lesson_next(start, end, lesson_zone: str) -> Markup:
    """A lesson's next holding in the person's zone: "2026-12-07 13:30–15:00" (the end's date
    too when it falls on another day), then "your time" when the lesson's own zone, named
    beside it, is another: never two unnamed zones side by side."""
    begins, ends = local(start), local(end)
    if begins is None:
        return NO_TIME
    shown = _time_element(begins, begins.strftime("%Y-%m-%d %H:%M"))
    if ends is not None:
        same_day = ends.date() == begins.date()
        shown += Markup("–") + _time_element(
            ends, ends.strftime("%H:%M" if same_day else "%Y-%m-%d %H:%M")
        )
    zone = person_zone()
    if RENAMED.get(lesson_zone, lesson_zone) != zone.name:
        shown += Markup(" your time") if zone.known else Markup(" UTC")
    return shown


def zone_words() -> str:
    """The page's one line about its times' zone (templates/base.html)."""
    zone = person_zone()
    if zone.known:
        return f"Times in {zone.name} (your browser's time zone)."
    return "Times in UTC: your browser's time zone is not known yet."


def init_app(app) -> None:
    app.jinja_env.filters["plural"] = plural
    app.jinja_env.filters["duration"] = duration_words
    app.jinja_env.filters["breakable"] = breakable
    app.jinja_env.globals["server_words"] = server_words
    app.jinja_env.globals["when"] = when
    app.jinja_env.globals["lesson_next"] = lesson_next
    app.jinja_env.globals["local_text"] = local_text
    app.jinja_env.globals["person_zone"] = person_zone
    app.jinja_env.globals["zone_words"] = zone_words
