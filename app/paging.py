"""Page windows over a list: the query arguments and what the pagination macro shows."""

from __future__ import annotations

from urllib.parse import urlencode

from flask import request, url_for

# far past any real list, and within what the hub's database takes (a 64-bit OFFSET)
MAX_OFFSET = 2**31 - 1


def int_arg(name: str, default: int, *, allowed=None) -> int:
    """A whole number 0 … MAX_OFFSET from the query string, else ``default``."""
    try:
        value = int(request.args.get(name, default))
    except ValueError:
        return default
    if allowed is not None and value not in allowed:
        return default
    return min(max(0, value), MAX_OFFSET)


def window(offset: int, limit: int, total: int, next_offset: int | None = None) -> dict:
    """What templates/_macros.html's pagination() takes; ``next_offset`` when the hub said it."""
    if next_offset is None and offset + limit < total:
        next_offset = offset + limit
    return {
        "offset": offset,
        "limit": limit,
        "total": total,
        "prev": max(0, offset - limit) if offset > 0 else None,
        "next": next_offset,
    }


def page_url(endpoint: str, **changes) -> str:
    """This page's address with some query arguments changed (``None``: left out).

    The query string is built here, never passed to ``url_for`` as keywords: there a
    ``_method``, ``_external``, ``_anchor``, ``_scheme`` or a route's own argument name
    would change the link itself (or raise).
    """
    args = request.args.to_dict(flat=False)
    for key, value in changes.items():
        if value is None:
            args.pop(key, None)
        else:
            args[key] = [str(value)]
    base = url_for(endpoint, **(request.view_args or {}))
    query = urlencode([(k, v) for k, values in args.items() for v in values])
    return f"{base}?{query}" if query else base
