"""Page windows over a list: the query arguments and what the pagination macro shows."""

from __future__ import annotations

from flask import request

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
