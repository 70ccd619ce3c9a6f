"""How hubdesk says things: counts, servers and times, the same in Python and in templates.

Registered as Jinja filters and globals by ``init_app``: ``{{ n|plural("member") }}``,
``{{ server_words(name) }}``, ``{{ when(t) }}``.
"""

from __future__ import annotations

from datetime import UTC, datetime

from markupsafe import Markup, escape


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


def when(value, *, seconds: bool = False) -> Markup:
    """A time for a page, in UTC, as a <time> element (a dash when there is none)."""
    t = as_time(value)
    if t is None:
        return Markup('<span class="text-muted">—</span>')
    t = t.astimezone(UTC)
    shown = t.strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")
    return Markup('<time datetime="{}" title="{} UTC">{}</time>').format(
        escape(t.isoformat()), shown, shown
    )


def init_app(app) -> None:
    app.jinja_env.filters["plural"] = plural
    app.jinja_env.globals["server_words"] = server_words
    app.jinja_env.globals["when"] = when
