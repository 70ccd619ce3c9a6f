"""The users list's question (sort, filters, page) and the hub calls that answer it.

The hub sorts (``name``, ``-name``, ``last_activity``, ``-last_activity``: ascending activity
puts the never-active first) and filters by name and server state; a page of the list is a
page of the hub's list. Two filters the hub does not have:

- **inactive since a date**: in the hub's ascending ``last_activity`` order the accounts with
  no activity since then (never active, then the longest idle) are the first ones, so a page
  of them is a page of that list, cut where activity reaches the date. That filter therefore
  always lists by last activity, oldest first (any other order would need every account
  read); the page says so. How many there are is known once their end is on the page.
- **hub admins (or not)**: the hub cannot filter by admin, so the listing (with the hub's own
  filters applied, and with "inactive since" only the inactive accounts) is read whole, in
  pages of 200 a few at a time, and kept for :data:`SCAN_SECONDS` for this person and
  question: paging through it costs nothing more. At 10,000 users that read is about 50
  pages (benchmarks/results/users_list.md).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, datetime, time

from ..cache import TTLCache
from ..hub import MAX_PAGE, HubClient
from ..words import as_time, person_zone

PAGE_SIZES = (25, 50, 100, 200)
STATES = {"": "all users", "active": "with a running server", "inactive": "with no running server"}
SORTS = {
    "name": "by name, A to Z",
    "-name": "by name, Z to A",
    "last_activity": "by last activity, the longest inactive first (never active first)",
    "-last_activity": "by last activity, the most recent first",
}
ADMINS = {"": "admins or not", "yes": "hub admins only", "no": "not hub admins"}
SCAN_SECONDS = 30
SCAN_WORKERS = 8
# the admin filter's readings, per process: a few people's questions at once
scans = TTLCache(SCAN_SECONDS, max_entries=16)


@dataclass(frozen=True)
class Question:
    """What the person asked for, from the query string (anything unknown: the default)."""

    query: str = ""
    state: str = ""
    sort: str = "name"
    admin: str = ""
    since: date | None = None
    since_error: str = ""
    offset: int = 0
    limit: int = 50

    @property
    def hub_sort(self) -> str:
        return "last_activity" if self.since else self.sort

    @property
    def filtered(self) -> bool:
        return bool(self.query or self.state or self.admin or self.since)


def question(args, *, offset: int, limit: int) -> Question:
    """The question in a request's arguments (``args``: ``request.args``)."""
    state = args.get("state", "")
    sort = args.get("sort", "name")
    admin = args.get("admin", "")
    raw = args.get("inactive_since", "").strip()[:32]
    since, error = None, ""
    if raw:
        try:
            since = date.fromisoformat(raw)
        except ValueError:
            error = f"“{raw}” is not a date (YYYY-MM-DD): the inactivity filter was left out."
    return Question(
        query=args.get("q", "")[:255].strip(),
        state=state if state in STATES else "",
        sort=sort if sort in SORTS else "name",
        admin=admin if admin in ADMINS else "",
        since=since,
        since_error=error,
        offset=offset,
        limit=limit,
    )


@dataclass
class Answer:
    """A page of users: ``total`` None when not known yet (more inactive accounts follow)."""

    users: list
    total: int | None
    more: bool
    scanned: int | None = None  # users read to filter by admin (None: no scan)


def hub_params(q: Question) -> dict:
    params = {"sort": q.hub_sort, "include_stopped_servers": "1"}
    if q.query:
        params["name_filter"] = q.query
    if q.state:
        params["state"] = q.state
    return params


def since_cutoff(q: Question) -> datetime | None:
    """The start of the chosen day in the person's zone."""
    if q.since is None:
        return None
    return datetime.combine(q.since, time(), tzinfo=person_zone().info)


def inactive_test(q: Question) -> Callable[[dict], bool]:
    """Whether a user had no activity since the chosen day (never active: none)."""
    cutoff = since_cutoff(q)

    def inactive(user: dict) -> bool:
        seen = as_time(user.get("last_activity"))
        return seen is None or seen < cutoff

    return inactive


def answer(client: HubClient, q: Question, *, person: str) -> Answer:
    """One page of the list, in as few hub calls as the question allows (see the module)."""
    if q.admin:
        return _from_scan(client, q, person)
    params = hub_params(q)
    if not q.since:
        page = client.list_users(offset=q.offset, limit=q.limit, **params)
        total = page.total if page.total is not None else q.offset + len(page.items)
        return Answer(page.items, total, page.next_offset is not None)
    return _inactive_page(client, q, params)


def _inactive_page(client: HubClient, q: Question, params: dict) -> Answer:
    """A page of the inactive prefix: one more row asked to know whether more follow (a
    second, one-row call when the page is the hub's largest)."""
    inactive = inactive_test(q)
    asked = min(q.limit + 1, MAX_PAGE)
    page = client.list_users(offset=q.offset, limit=asked, **params)
    items = page.items
    if len(items) <= q.limit and page.next_offset is not None:
        items = items + client.list_users(offset=q.offset + len(items), limit=1, **params).items
    kept = []
    for user in items:
        if not inactive(user):
            break
        kept.append(user)
    if len(kept) > q.limit:
        return Answer(kept[: q.limit], None, True)
    # their end is on this page (an active account follows, or nobody does)
    return Answer(kept, q.offset + len(kept) if kept or not q.offset else None, False)


def _from_scan(client: HubClient, q: Question, person: str) -> Answer:
    key = (person, tuple(sorted(hub_params(q).items())), q.since, q.admin)
    found = scans.get(key)
    if found is None:
        found = scan(client, q)
        scans.set(key, found)
    users, scanned = found
    window = users[q.offset : q.offset + q.limit]
    return Answer(window, len(users), q.offset + q.limit < len(users), scanned)


def scan(client: HubClient, q: Question) -> tuple[list[dict], int]:
    """Every user the question's other filters admit, kept by the admin filter: (them, how
    many were read). The inactive prefix is read page after page until its end."""
    params = hub_params(q)
    wanted = q.admin == "yes"
    if q.since:
        inactive = inactive_test(q)
        read, offset = [], 0
        while True:
            page = client.list_users(offset=offset, limit=MAX_PAGE, **params)
            cut = [u for u in page.items if inactive(u)]
            read.extend(cut)
            if len(cut) < len(page.items) or page.next_offset is None or not page.items:
                break
            offset = page.next_offset
    else:
        total = client.count("users", params=params) or 0
        offsets = range(0, total, MAX_PAGE)
        with ThreadPoolExecutor(max_workers=max(1, min(SCAN_WORKERS, len(offsets)))) as pool:
            pages = pool.map(
                lambda o: client.list_users(offset=o, limit=MAX_PAGE, **params), offsets
            )
            read = [u for p in pages for u in p.items]
    return [u for u in read if bool(u.get("admin")) == wanted], len(read)


def person_key(token: str) -> str:
    """Whose reading a scan is (the hub filters what a person may see): not the token itself."""
    return hashlib.sha256(token.encode()).hexdigest()[:24]
