"""No hub token in any page, header, redirect or log line: the session-end check.

``no_token_anywhere`` runs when the session's ``stack`` fixture is torn down (tests/conftest.py),
so it sees every page and log line of the session, whatever ran and in which order; under
pytest-xdist each worker checks its own stack. A leak fails the run (an error at teardown).
"""

import base64
import zlib
from pathlib import Path

from hubdesk import db
from hubdesk.extensions import shared
from sqlalchemy import select

from helpers.stack import csrf_token


def cookie_payload(cookie):
    """What a browser could read from the session cookie without the key."""
    body = cookie.lstrip(".").split(".")[0]
    raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    return zlib.decompress(raw) if cookie.startswith(".") else raw


def no_token_anywhere(stack):
    tokens = {"service": stack.token}
    for name in ("admin", "helpdesk", "teacher"):
        s = stack.signin(name)
        cookie = s.cookies["hubdesk-session"]
        token = stack.person_token(cookie)
        tokens[name] = token
        assert token.encode() not in cookie_payload(cookie)  # not in the cookie at all
        for path in (
            "",
            "groups/",
            "groups/?limit=25&offset=9999",
            "groups/?q=class",
            "groups/class-a",
            "groups/class-a/properties",
            "groups/class-a/sync",
            "groups/class-a/delete",
            "groups/no-such-group",
            "users/student",
            "users/no-such-user",
            "status",
            "health",
            "nope",
        ):
            s.get(stack.url(path))
        s.post(stack.url("groups/"), data={"name": "x"})  # CSRF failure page
        s.post(
            stack.url("groups/"),
            data={"name": "a/b", "csrf_token": csrf_token(s.get(stack.url()).text)},
        )
        s.post(stack.url("logout"), data={"csrf_token": csrf_token(s.get(stack.url()).text)})

    # and every lesson token hubdesk made this session (tests/test_lesson_authority.py)
    lessons = shared(stack.app).lessons
    with lessons.database.read() as conn:
        owners = [row.person for row in conn.execute(select(db.lesson_tokens.c.person))]
    for person in owners:
        kept = lessons.lesson_token(person)
        if kept and kept.token:
            tokens[f"lesson token of {person}"] = kept.token

    assert len(stack.pages) > 50 and len(stack.log.lines) > 50
    for who, token in tokens.items():
        for url, status, headers, text in stack.pages:
            assert token not in text, (who, url, status)
            assert token not in url and token not in str(headers), (who, url)
        for line in stack.log.lines:
            assert token not in line, (who, line)
    # nor in hubdesk's database, where the person's token is kept sealed
    database = shared(stack.app).database
    files = [Path(database.url.database + suffix) for suffix in ("", "-wal")]
    stored = b"".join(f.read_bytes() for f in files if f.exists())
    assert len(stored) > 10_000
    for who, token in tokens.items():
        assert token.encode() not in stored, who
