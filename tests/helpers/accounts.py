"""People's accounts in tests: whether one exists at the hub, fresh ones that go away
afterwards, and the fields of a page's confirmation form (to post it back as a person would)."""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterator

from hubdesk.hub import HubAPIError

from helpers.stack import unique


def exists(stack, name: str) -> bool:
    """Whether the hub has an account called ``name`` (asked with the service token)."""
    try:
        stack.api.get_user(name)
    except HubAPIError as e:
        assert e.status == 404
        return False
    return True


def fresh_users(stack) -> Iterator[Callable[..., list[str]]]:
    """A maker of fresh accounts (``make(n, prefix)``), each deleted afterwards unless a test
    deleted it itself: a fixture's body (``yield from fresh_users(stack)``)."""
    made: list[str] = []

    def make(n: int, prefix: str = "u") -> list[str]:
        names = [unique(prefix) for _ in range(n)]
        stack.api.create_users(names)
        made.extend(names)
        return names

    yield make
    for name in made:
        try:
            stack.api.delete_user(name)
        except HubAPIError:
            pass


def form_fields(page: str, *, index: int = -1, many: bool = False) -> dict:
    """The fields of one of the page's POST forms (the last, its confirmation, unless told):
    {name: value}, or {name: [values]} with ``many`` (a field that repeats, such as ``user``)."""
    form = re.findall(r'<form method="post"[^>]*>(.*?)</form>', page, re.S)[index]
    found: dict[str, list[str]] = {}
    for name, value in re.findall(r'<input [^>]*name="([^"]+)"[^>]*value="([^"]*)"', form):
        found.setdefault(name, []).append(html.unescape(value))
    return found if many else {name: values[-1] for name, values in found.items()}
