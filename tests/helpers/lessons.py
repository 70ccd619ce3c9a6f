"""Lessons through hubdesk's pages: a lesson's form and scheduling one."""

import re
from datetime import UTC, datetime, timedelta

from helpers.servers import post
from helpers.stack import alert


def at(seconds: float) -> tuple[str, str]:
    """(date, HH:MM:SS) in UTC, ``seconds`` from now."""
    t = datetime.now(UTC) + timedelta(seconds=seconds)
    return t.date().isoformat(), t.strftime("%H:%M:%S")


def lesson_form(server="lab", profile="small", start_in=4, end_in=20, **extra) -> dict:
    day, starts = at(start_in)
    _, ends = at(end_in)
    if ends < starts:  # across midnight (UTC): said explicitly, as the form asks
        extra.setdefault("overnight", "y")
    return {
        "tz": "UTC",
        "day": day,
        "starts": starts,
        "ends": ends,
        "lead": "0",
        "server": server,
        "profile": profile,
        **extra,
    }


def schedule(session, stack, group, data):
    """Schedule through the form; the new lesson's id (the one the roster did not show before:
    the roster lists lessons by their next run, not by when they were saved)."""
    page = f"groups/{group}/lessons/new"
    before = set(
        re.findall(
            r'data-lesson="([0-9a-f]{16})"', session.get(stack.url(f"groups/{group}/servers")).text
        )
    )
    r = post(session, stack, page, data, page)
    assert r.url == stack.url(f"groups/{group}/servers"), alert(r.text)
    ids = [i for i in re.findall(r'data-lesson="([0-9a-f]{16})"', r.text) if i not in before]
    assert len(set(ids)) == 1, r.text
    return ids[0]
