#!/usr/bin/env python
"""hubdesk's claims against the measured anchors, on a big hub, in one run.

Starts a real JupyterHub on loopback (``hubdesk.devhub.LocalHub``) and hubdesk under
gunicorn as the production image runs it, registered with the hub as an external
service. The hub is made big by writing its SQLite database directly (the hub
stopped), in steps, so that the same run also shows how page costs grow:

  1. seeding: users, ``bench-0001``… groups with 0–5 random members, and ``bench-big``
     inserted with SQLAlchemy into the hub's own tables, one transaction a step; the
     totals are checked through the API afterwards
  2. server side: each hubdesk page (via the proxy and direct to gunicorn) against the
     very hub calls that page makes (recorded in this process), timed interleaved
  3. Chromium, the click → rows painted (measured by bench_rows.py): hubdesk's users
     and groups pages against the hub's own admin page (users tab and ``#/groups``),
     signed in through the hub's login form and OAuth
  4. actions: adding ``bench-big``'s size of members to an empty group through
     hubdesk's form against the raw API, and starting servers for a 50-member group
  5. scaling: the server time of the list, search and group pages at each size

Every number is a wall-clock time seen by a client on the same machine. Nothing is
asserted about the timings: this is a measurement, not a test.

    python benchmarks/bench_anchors.py             # 10,000 users, 2,000 groups
    python benchmarks/bench_anchors.py --quick     # 1,000 users, 200 groups

See benchmarks/README.md for how to read the output.
"""

from __future__ import annotations

import argparse
import datetime as dt
import html
import json
import os
import random
import re
import signal
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import requests
from _common import (
    HERE,
    PREFIX,
    REQUEST_TIMEOUT,
    SEED_TIMEOUT,
    WARMUP,
    Series,
    Stack,
    bench_root,
    breakdown_markdown,
    breakdown_pages,
    csrf_token,
    fmt,
    gunicorn_settings,
    hub_and_hubdesk,
    machine_info,
    machine_line,
    measure,
    say,
    session_cookie,
    sign_in,
)
from hubdesk.devhub import PROFILES_FILE
from hubdesk.hub import PAGINATION_ACCEPT, HubAPIError, HubClient

BIG = "bench-big"
BULK = "bench-bulk"  # bench-bulk-<how>: the empty groups of the bulk add
USER_SEARCH = "user-12"  # unpadded names: user-12, -120…129, -1200…1299 (111 at 10,000)


def group_search(groups: int) -> str:
    """bench-19 (bench-1900…1999: 100 of 2,000); on smaller hubs bench-01 (bench-0100…0199)."""
    return "bench-19" if groups >= 2000 else "bench-01"


SCALE_STEPS = (100, 1000, 10000)
API_SEED_USERS = 100  # created through the API on a fresh hub, to time that way too
RUNNING = 20  # default servers started for the servers/ page (unless --no-spawn)
RAW_CHUNK = 500  # the raw bulk add in chunks: as many names a call as hubdesk's default
HUB_START_TIMEOUT = 600  # s: a hub with 10,000 users takes a while to start
SERVER_TARGET = 1.2  # hubdesk within 1.2x the raw hub calls (server side)
BROWSER_TARGET = 0.5  # hubdesk at most half the hub admin page's time to rows
ANCHORS = {  # DESIGN.md, 2 cores, JupyterHub 6.1.1, 10,000 users, 2,000 groups
    "GET /hub/api/groups?limit=50": 13,
    "GET /hub/api/users?limit=50": 48,
    "GET /hub/api/groups/{g} (5,000 members)": 14,
    "hub admin page, groups shown (Chromium)": 234,
    "hub admin page, users shown (Chromium)": 465,
}

# -- names ---------------------------------------------------------------------------


def user_names(n: int) -> list[str]:
    # unpadded, as bench_servers.py: a search for "user-12" finds 111 of 10,000
    return [f"bench-user-{i}" for i in range(1, n + 1)]


def group_names(n: int) -> list[str]:
    width = max(4, len(str(n)))
    return [f"bench-{i:0{width}d}" for i in range(1, n + 1)]


def sizes_for(users: int) -> dict:
    """A hub of ``users`` users: a fifth as many small groups, half of them in bench-big."""
    return {"users": users, "groups": max(1, users // 5), "big": max(1, users // 2)}


# -- 1. seeding the hub's database -------------------------------------------------------


def seed_db(db: Path, *, users: int, groups: int, big: int, seed: int) -> dict:
    """Insert what is missing of users, small groups and bench-big, in one transaction.

    The rows are those the hub's API makes for a new user (JupyterHub 6.1.1,
    ``POST /users``: ``users`` row, the default ``user`` role in ``user_role_map``,
    the default server's row in ``spawners``), so the hub starts without writing a
    row per user (``init_role_assignment`` grants the ``user`` role one commit per
    user to any allowed user without it; ``User()`` adds a missing default spawner
    row with a commit). The hub must be stopped.
    """
    from jupyterhub import orm
    from sqlalchemy import create_engine, select

    users_t, groups_t = orm.User.__table__, orm.Group.__table__
    spawners_t, roles_t = orm.Spawner.__table__, orm.Role.__table__
    user_roles_t = orm._role_associations["user"].__table__
    members_t = orm.user_group_map
    names = user_names(users)
    t0 = time.perf_counter()
    engine = create_engine(f"sqlite:///{db}")
    try:
        with engine.begin() as conn:  # one transaction
            have = set(conn.execute(select(users_t.c.name)).scalars())
            new = [n for n in names if n not in have]
            now = dt.datetime.now(dt.UTC).replace(tzinfo=None)  # the hub stores naive UTC
            if new:
                conn.execute(
                    users_t.insert(),
                    [
                        {"name": n, "admin": False, "created": now, "cookie_id": uuid.uuid4().hex}
                        for n in new
                    ],
                )
            ids = dict(conn.execute(select(users_t.c.name, users_t.c.id)).all())
            role = conn.execute(select(roles_t.c.id).where(roles_t.c.name == "user")).scalar_one()
            if new:
                conn.execute(
                    user_roles_t.insert(),
                    [{"user_id": ids[n], "role_id": role, "managed_by_auth": False} for n in new],
                )
                conn.execute(
                    spawners_t.insert(),
                    [{"user_id": ids[n], "name": "", "display_name": ""} for n in new],
                )

            have_groups = dict(conn.execute(select(groups_t.c.name, groups_t.c.id)).all())
            new_groups = [g for g in group_names(groups) if g not in have_groups]
            if BIG in have_groups and new_groups:
                # bench-big stays the last group (highest id), as when it is made after the
                # others through the API: the hub lists groups by id, so the first page of
                # GET /groups stays the small groups', as for the anchors
                conn.execute(members_t.delete().where(members_t.c.group_id == have_groups[BIG]))
                conn.execute(groups_t.delete().where(groups_t.c.id == have_groups[BIG]))
                del have_groups[BIG]
            if BIG not in have_groups:
                new_groups.append(BIG)
            if new_groups:
                conn.execute(groups_t.insert(), [{"name": g, "properties": {}} for g in new_groups])
            gids = dict(conn.execute(select(groups_t.c.name, groups_t.c.id)).all())
            pairs = []
            for g in new_groups:
                if g == BIG:
                    continue
                rng = random.Random(f"{seed}:{g}")  # the same members whatever the steps
                for n in rng.sample(names, rng.randint(0, min(5, len(names)))):
                    pairs.append({"user_id": ids[n], "group_id": gids[g]})
            in_big = set(
                conn.execute(
                    select(members_t.c.user_id).where(members_t.c.group_id == gids[BIG])
                ).scalars()
            )
            big_new = [n for n in names[:big] if ids[n] not in in_big]
            pairs += [{"user_id": ids[n], "group_id": gids[BIG]} for n in big_new]
            if pairs:
                conn.execute(members_t.insert(), pairs)
    finally:
        engine.dispose()
    return {
        "users_inserted": len(new),
        "groups_inserted": len(new_groups),
        "memberships_inserted": len(pairs),
        "seconds": round(time.perf_counter() - t0, 2),
    }


def restart(stack: Stack, log, between=None) -> dict:
    """Stop the hub and gunicorn, run ``between`` (e.g. the seeding), start both again.

    gunicorn restarts too, so that its per-worker group caches start from the new hub.
    """
    stack.hub.stop()
    stack.server.stop()
    out = between() if between else {}
    stack.server.start()
    stack.server.wait_listening()
    t0 = time.perf_counter()
    stack.hub.start(log=log, timeout=HUB_START_TIMEOUT)
    out["hub_start_s"] = round(time.perf_counter() - t0, 2)
    return out


def totals(api: HubClient) -> dict:
    """What the hub says it has (``_pagination.total``) and the size of bench-big."""
    try:
        big = len(api.get_group(BIG).get("users") or ())
    except HubAPIError as e:
        if e.status != 404:
            raise
        big = 0
    return {"users": api.count("users"), "groups": api.count("groups"), "big": big}


def api_seed_users(api: HubClient, names: list[str]) -> dict | None:
    """Create the first users through the API (one call), to extrapolate that way's cost."""
    if (api.count("users") or 0) > 1:
        return None  # a reused hub directory: nothing to time
    t0 = time.perf_counter()
    api.create_users(names)
    s = time.perf_counter() - t0
    return {
        "users": len(names),
        "seconds": round(s, 2),
        "ms_per_user": round(s * 1000 / len(names), 1),
    }


# -- timing --------------------------------------------------------------------------------


@dataclass
class Calls:
    """One series: a sequence of GETs timed as one (the sum of their times)."""

    series: Series
    session: requests.Session
    calls: list  # [(url, headers)]
    status: list = field(default_factory=list)

    def hit(self) -> tuple[float, int, requests.Response]:
        total, size, r = 0.0, 0, None
        for url, headers in self.calls:
            t0 = time.perf_counter()
            r = self.session.get(
                url, headers=headers, timeout=REQUEST_TIMEOUT, allow_redirects=False
            )
            size += len(r.content)
            total += (time.perf_counter() - t0) * 1000
            if r.status_code != 200:
                raise RuntimeError(f"{url}: {r.status_code} {r.text[:300]}")
        return total, size, r


def prewarm(base: str, cookie: str, paths: list[str], connections: int = 8) -> None:
    """Fill every gunicorn worker's caches: each path on several new connections.

    Which worker accepts a connection is a race, so a few fresh connections reach
    both workers (almost surely); the first request of a worker reads every group.
    """
    for _ in range(connections):
        with requests.Session() as s:
            s.cookies.set("hubdesk-session", cookie, domain="127.0.0.1", path=PREFIX)
            for p in paths:
                s.get(f"{base}{PREFIX}{p}", timeout=REQUEST_TIMEOUT)


def sessions(stack: Stack, proxied: requests.Session) -> dict:
    cookie = session_cookie(proxied)
    direct = requests.Session()
    direct.cookies.set("hubdesk-session", cookie, domain="127.0.0.1", path=PREFIX)
    raw = requests.Session()
    raw.headers["Authorization"] = f"token {stack.token}"
    raw_proxy = requests.Session()
    raw_proxy.headers["Authorization"] = f"token {stack.token}"
    return {
        "proxy": proxied,
        "direct": direct,
        "raw": raw,
        "raw_proxy": raw_proxy,
        "cookie": cookie,
    }


# -- 2. which hub calls a page makes (in this process) ------------------------------------------


def record_calls(env: dict, cookie: str, paths: dict) -> dict:
    """The hub calls each page makes on warm caches: the app in this process, no code changed.

    Returns key -> [(method, path and query under /hub/api, Accept header, token)].
    Calls made only now and then (the identity and scope caches, the group cache's
    refresh) do not show here; they are named in the report.
    """
    from hubdesk import create_app
    from hubdesk.groups import directory

    flask_app = create_app(dict(env, HUBDESK_LOG_LEVEL="WARNING"))
    client = flask_app.test_client()
    client.set_cookie("hubdesk-session", cookie, domain="localhost", path=PREFIX)
    service_token = env["JUPYTERHUB_API_TOKEN"]
    seen: list = []
    original = HubClient.request

    def recording(self, method, *segments, **kw):
        response = original(self, method, *segments, **kw)
        url = response.request.url
        rel = url[url.index("/hub/api") + len("/hub/api") :]
        accept = (kw.get("headers") or {}).get("Accept", "")
        who = "service" if self._token == service_token else "person"
        seen.append((method, rel, accept, who))
        return response

    out = {}
    HubClient.request = recording
    try:
        for key, path in paths.items():
            for _ in range(2):
                client.get(PREFIX + path)
            # a refresh of the group cache started by a warm-up must not land in the record
            deadline = time.monotonic() + 60
            dirs = [
                e for e in flask_app.extensions.values() if isinstance(e, directory.GroupDirectory)
            ]
            while any(d.refreshing for d in dirs) and time.monotonic() < deadline:
                time.sleep(0.05)
            seen.clear()
            r = client.get(PREFIX + path)
            if r.status_code != 200:
                raise RuntimeError(f"in-process {path}: {r.status_code}")
            out[key] = list(seen)
    finally:
        HubClient.request = original
    return out


# -- 2. server side: pages vs raw calls ------------------------------------------------------


@dataclass
class Case:
    key: str
    page: str
    path: str
    fallback: list  # [(path under /hub/api, headers)]: when the page makes no hub call
    fallback_why: str = ""
    extras: list = field(default_factory=list)  # [(label, [(path, headers)])]
    expect: str = ""


def server_cases(n: dict, api: HubClient) -> list[Case]:
    paged = {"Accept": PAGINATION_ACCEPT}
    groups_total = api.count("groups") or 0
    all_groups = [(f"/groups?offset={o}&limit=200", paged) for o in range(0, groups_total, 200)]
    user_matches = sum(1 for u in user_names(n["users"]) if USER_SEARCH in u)
    gq = group_search(n["groups"])
    group_matches = sum(1 for g in group_names(n["groups"]) if gq in g)
    return [
        Case(
            "users",
            "users list `users/?limit=50`",
            "users/?limit=50",
            [],
            extras=[("the issue's call `GET /users?limit=50`", [("/users?limit=50", paged)])],
        ),
        Case(
            "users-search",
            f"user search `users/?q={USER_SEARCH}` ({user_matches} matches)",
            f"users/?q={USER_SEARCH}",
            [],
            extras=[
                (
                    f"the issue's call `GET /users?name_filter={USER_SEARCH}&limit=50`",
                    [(f"/users?name_filter={USER_SEARCH}&limit=50", paged)],
                )
            ],
        ),
        Case("user", "a user page `users/bench-user-1`", "users/bench-user-1", []),
        Case(
            "groups",
            "group list `groups/?limit=50`",
            "groups/?limit=50",
            [("/groups?limit=50", paged)],
            "no hub call on a warm cache: compared with the one call the page would need",
            expect=f"{n['groups'] + 1}",
        ),
        Case(
            "groups-search",
            f"group search `groups/?q={gq}` ({group_matches} matches of {groups_total:,})",
            f"groups/?q={gq}",
            [("/groups?limit=50", paged)],
            "no hub call on a warm cache; the hub cannot search groups: compared with one "
            "page of the list",
            extras=[
                (
                    f"every group, as a client-side search needs ({len(all_groups)} calls of 200)",
                    all_groups,
                )
            ],
            expect="groups matching",
        ),
        Case(
            "group-big",
            f"group page `groups/{BIG}` ({n['big']:,} members, 50 shown)",
            f"groups/{BIG}",
            [],
            expect=f'data-testid="member-count">{n["big"]}<',
        ),
        Case("servers", "running servers `servers/?limit=50`", "servers/?limit=50", []),
    ]


def raw_calls(case: Case, recorded: list) -> tuple[list, str]:
    """The raw side of a row: the page's own GETs (same paths and Accept), else the fallback."""
    gets = [
        (rel, {"Accept": accept} if accept else {}) for m, rel, accept, _ in recorded if m == "GET"
    ]
    if gets:
        return gets, "the same calls the page makes"
    return case.fallback, case.fallback_why


def label_calls(calls: list) -> str:
    if len(calls) > 3:
        return f"{len(calls)} × `GET /hub/api/groups?offset=…&limit=200`"
    return " + ".join(f"`GET /hub/api{p}`" for p, _ in calls) or "—"


def server_side(stack: Stack, s: dict, cases: list[Case], recorded: dict, repeat: int) -> list:
    hub, server = stack.hub, stack.server
    results = []
    for case in cases:
        calls, why = raw_calls(case, recorded.get(case.key, []))
        targets = [
            Calls(
                Series("hubdesk via proxy"),
                s["proxy"],
                [(f"{hub.public_url}{PREFIX}{case.path}", {})],
            ),
            Calls(
                Series("hubdesk direct to gunicorn"),
                s["direct"],
                [(f"{server.url}{PREFIX}{case.path}", {})],
            ),
            Calls(Series("raw, hub port"), s["raw"], [(f"{hub.api_url}{p}", h) for p, h in calls]),
            Calls(
                Series("raw via proxy"),
                s["raw_proxy"],
                [(f"{hub.public_url}/hub/api{p}", h) for p, h in calls],
            ),
        ]
        for label, extra in case.extras:
            targets.append(
                Calls(
                    Series(f"raw, hub port: {label}"),
                    s["raw"],
                    [(f"{hub.api_url}{p}", h) for p, h in extra],
                )
            )
        for t in targets:
            t.series.url = " + ".join(u for u, _ in t.calls[:3])
        _, _, r = targets[0].hit()
        if case.expect and case.expect not in r.text:
            say(f"  warning: {case.path} does not show {case.expect!r}: is it the page we think?")
        say(f"{case.key}) {case.page}: {repeat} x {len(targets)} series …")
        measure(targets, repeat)
        summ = [t.series.summary() for t in targets]
        row = {
            "key": case.key,
            "page": case.page,
            "path": case.path,
            "hub_calls_of_the_page": [
                {"method": m, "path": p, "accept": a, "token": w}
                for m, p, a, w in recorded.get(case.key, [])
            ],
            "raw_calls": label_calls(calls),
            "raw_why": why,
            "hubdesk_proxy": summ[0],
            "hubdesk_direct": summ[1],
            "raw": summ[2],
            "raw_proxy": summ[3],
            "extras": summ[4:],
        }
        row["ratio_direct"] = round(summ[1]["median_ms"] / summ[2]["median_ms"], 2)
        row["ratio_proxy"] = round(summ[0]["median_ms"] / summ[3]["median_ms"], 2)
        results.append(row)
        say(
            f"   medians: hubdesk {summ[0]['median_ms']:.1f} (proxy) / {summ[1]['median_ms']:.1f} "
            f"(direct) ms, raw {summ[3]['median_ms']:.1f} (proxy) / {summ[2]['median_ms']:.1f} "
            f"(hub port) ms; ratio direct {row['ratio_direct']:.2f}×"
        )
    return results


# -- 5. scaling --------------------------------------------------------------------------------


def scaling_row(stack: Stack, s: dict, n: dict, repeat: int) -> dict:
    hub, server = stack.hub, stack.server
    paged = {"Accept": PAGINATION_ACCEPT}
    pages = {
        "users list": "users/?limit=50",
        "users search": f"users/?q={USER_SEARCH}",
        "user page": "users/bench-user-1",
        "groups list": "groups/?limit=50",
        "groups search": f"groups/?q={group_search(n['groups'])}",
        "small group page": "groups/bench-0001",
        "big group page": f"groups/{BIG}",
    }
    targets = [
        Calls(
            Series(label, f"{server.url}{PREFIX}{p}"),
            s["direct"],
            [(f"{server.url}{PREFIX}{p}", {})],
        )
        for label, p in pages.items()
    ]
    for label, p, h in (
        ("raw GET /users?limit=50", "/users?limit=50", paged),
        (f"raw GET /groups/{BIG}", f"/groups/{BIG}", {}),
    ):
        targets.append(
            Calls(Series(label, f"{hub.api_url}{p}"), s["raw"], [(f"{hub.api_url}{p}", h)])
        )
    measure(targets, repeat)
    return {"size": n, "series": {t.series.label: t.series.summary() for t in targets}}


# -- 3. Chromium: the click → rows painted -------------------------------------------------------

# bench_rows.py measures it (one way of measuring for both scripts): here a click within
# each app and the address typed in the tab after about:blank
FROM_BLANK = " (from about:blank)"
BROWSER_STARTS = {"within": "", "typed": FROM_BLANK}


def browser_test(stack: Stack, repeat: int) -> dict:
    import bench_rows

    raw = bench_rows.measure(
        stack.hub.public_url, stack.hub.password, repeat=repeat, starts=tuple(BROWSER_STARTS)
    )
    out = {}
    for v in bench_rows.summarise(raw).values():
        out[v["page"] + BROWSER_STARTS[v["start"]]] = {
            "url": v["url"],
            "from": bench_rows.STARTS[v["start"]],
            "selector": v["selector"],
            **{f"{clock}_ms": v[clock] for clock in bench_rows.CLOCKS},
            "samples_wall_ms": v["samples_wall_ms"],
            "resources_last": v["resources_last"],
        }
    return out


# -- 4. actions: bulk add --------------------------------------------------------------------


def fresh_group(api: HubClient, name: str) -> None:
    try:
        api.delete_group(name)
    except HubAPIError as e:
        if e.status != 404:
            raise
    api.create_group(name)


def wait_members(
    api: HubClient, group: str, n: int, t0: float, timeout: float = 900
) -> float | None:
    """Seconds since ``t0`` until the hub says ``group`` has ``n`` members (None: never)."""
    while time.perf_counter() - t0 < timeout:
        if len(api.get_group(group).get("users") or ()) >= n:
            return time.perf_counter() - t0
        time.sleep(0.5)
    return None


def bulk_add_hubdesk(
    stack: Stack, session: requests.Session, base: str, names: list, how: str
) -> dict:
    """Paste the names into the group page's "Add members" form and submit it, as a person.

    The form is multipart (it has a CSV upload too); an empty upload is sent the way
    a browser sends it. If hubdesk shows its preview (some names unknown), the
    preview's confirm button is pressed. Timed from the submit to the first answer, and
    to hubdesk's message: a change that outlasts hubdesk's wait (10 s) is answered with a
    page that follows it, polled (every 0.5 s) until it says done, as the page itself does.
    """
    api = HubClient(stack.hub.api_url, stack.token, timeout=SEED_TIMEOUT)
    group = f"{BULK}-{how}"
    fresh_group(api, group)
    page_url = f"{base}{PREFIX}groups/{quote(group)}"
    page = session.get(page_url, timeout=REQUEST_TIMEOUT)
    page.raise_for_status()
    form = {"csrf_token": csrf_token(page.text), "names": "\n".join(names)}
    steps = []
    t0 = time.perf_counter()
    r = session.post(
        f"{page_url}/add",
        data=form,
        files={"csv": ("", b"", "application/octet-stream")},
        timeout=(5, 900),
    )
    steps.append(
        {"step": "submit", "status": r.status_code, "s": round(time.perf_counter() - t0, 2)}
    )
    if r.status_code == 200 and 'data-testid="unknown"' in r.text:
        # the preview (some names are not users): confirm the known ones, as its button does
        names_json = re.search(r'<input[^>]*name="names"[^>]*value="([^"]*)"', r.text)
        data = {
            "csrf_token": csrf_token(r.text),
            "confirm": "yes",
            "names": html.unescape(names_json.group(1)) if names_json else "[]",
        }
        t1 = time.perf_counter()
        r = session.post(f"{page_url}/add", data=data, timeout=(5, 900))
        steps.append(
            {"step": "confirm", "status": r.status_code, "s": round(time.perf_counter() - t1, 2)}
        )
    answered = time.perf_counter() - t0
    followed = "/members/jobs/" in r.url
    while followed and r.status_code == 200 and 'job-state">done' not in r.text:
        time.sleep(0.5)
        r = session.get(r.url, timeout=REQUEST_TIMEOUT)
    told = time.perf_counter() - t0
    shown = None
    if r.status_code == 200:
        flash = re.search(r'<div class="alert[^"]*" role="alert"[^>]*>([^<]*)</div>', r.text)
        shown = html.unescape(flash.group(1)) if flash else None
    done = wait_members(api, group, len(names), t0)
    members = len(api.get_group(group).get("users") or ())
    return {
        "how": f"hubdesk form, {how}",
        "group": group,
        "answer_status": r.status_code,
        "answer_s": round(answered, 2),
        "followed_on_a_page": followed,
        "message_s": round(told, 2),
        "steps": steps,
        "message": shown,
        "hub_has_all_s": round(done, 2) if done is not None else None,
        "members_after": members,
    }


def bulk_parts(stack: Stack, names: list) -> dict:
    """hubdesk's bulk add without the form: its existence check alone, as the view calls it.

    ``HubClient.existing_users`` (one ``GET /users/{name}`` per name, or the hub's user
    list page by page when that is fewer calls, 8 at a time) is what the add view runs
    before adding anything; the rest of the view is the chunked add and two reads of the
    group (``ops.add_members``).
    """
    client = HubClient(stack.hub.api_url, stack.token, timeout=SEED_TIMEOUT)
    calls = []
    send = client.request
    client.request = lambda *a, **k: calls.append(a[:2]) or send(*a, **k)
    t0 = time.perf_counter()
    known = client.existing_users(names)
    took = time.perf_counter() - t0
    listed = calls.count(("GET", "users"))
    how = (
        f"{len(calls):,} calls: the user count, then {listed - 1} pages of 200 users"
        if listed
        else f"{len(calls):,} × `GET /users/{{name}}`"
    )
    return {
        "existing_users_s": round(took, 2),
        "existing_users_calls": len(calls),
        "existing_users_how": how,
        "known": len(known),
        "ms_per_name": round(took * 1000 / len(names), 2),
    }


def bulk_add_raw(stack: Stack, names: list, chunk: int | None) -> dict:
    api = HubClient(stack.hub.api_url, stack.token, timeout=SEED_TIMEOUT)
    group = f"{BULK}-raw-{'one' if chunk is None else chunk}"
    fresh_group(api, group)
    raw = requests.Session()
    raw.headers["Authorization"] = f"token {stack.token}"
    url = f"{stack.hub.api_url}/groups/{quote(group)}/users"
    parts = (
        [names] if chunk is None else [names[i : i + chunk] for i in range(0, len(names), chunk)]
    )
    t0 = time.perf_counter()
    calls = []
    for part in parts:
        c0 = time.perf_counter()
        r = raw.post(url, json={"users": part}, timeout=(5, 900))
        calls.append(round(time.perf_counter() - c0, 2))
        if r.status_code != 200:
            raise RuntimeError(f"raw bulk add: {r.status_code} {r.text[:200]}")
    answered = time.perf_counter() - t0
    members = len(api.get_group(group).get("users") or ())
    return {
        "how": "raw API, one call" if chunk is None else f"raw API, {len(parts)} calls of {chunk}",
        "group": group,
        "answer_status": 200,
        "answer_s": round(answered, 2),
        "calls_s": calls if len(calls) <= 40 else None,
        "hub_has_all_s": round(answered, 2),
        "members_after": members,
    }


# -- 4. actions: group start (bench_servers.py's, imported) -----------------------------------


def group_start(stack: Stack, proxied: requests.Session, members: list[str]) -> list:
    import bench_servers as bs

    api = HubClient(stack.hub.api_url, stack.token, timeout=SEED_TIMEOUT)
    try:
        api.create_group(bs.CLASS, members)
    except HubAPIError as e:
        if e.status != 409:
            raise
        api.add_group_members(bs.CLASS, members)
    concurrency = int(stack.env.get("HUBDESK_BULK_CONCURRENCY", "5"))
    out = []
    for how in ("hubdesk", concurrency):
        say(f"   starting {bs.LAB!r} for the {len(members)} members of {bs.CLASS}: {how} …")
        before = bs.cpu_snapshot(stack)
        if how == "hubdesk":
            res = bs.group_start_hubdesk(stack, proxied, members)
        else:
            res = bs.group_start_api(api, members, how)
        res["cpu_percent"] = bs.cpu_share(before, bs.cpu_snapshot(stack))
        res["running_after"] = bs.running_count(api, members, bs.LAB)
        res["cleanup_s"] = round(bs.stop_servers(api, [(m, bs.LAB) for m in members]), 2)
        out.append(res)
        say(
            f"   {res['total_s']:.1f} s, outcomes {res['outcomes']}, {res['running_after']} running"
        )
    return out


def start_running(stack: Stack, users: list[str]) -> float:
    import bench_servers as bs

    api = HubClient(stack.hub.api_url, stack.token, timeout=SEED_TIMEOUT)
    t0 = time.perf_counter()
    with ThreadPoolExecutor(max_workers=5) as pool:
        started = list(pool.map(lambda u: bs.api_start(api, u, "", bs.SMALL), users))
    bad = [u for u, r in zip(users, started, strict=True) if not r["ok"]]
    if bad:
        raise RuntimeError(f"default servers did not start for {bad}")
    return round(time.perf_counter() - t0, 2)


# -- breakdown of the server-side pages ------------------------------------------------------------


def breakdown(env: dict, cookie: str, paths: dict, repeat: int, profile_keys) -> dict:
    from hubdesk import auth, users
    from hubdesk.groups import directory as directory_mod
    from hubdesk.groups import views as group_views
    from hubdesk.servers import views as server_views

    parts = [
        (HubClient, "request", "hub API calls"),
        (auth, "_identify", "identity (_identify)"),
        (directory_mod.GroupDirectory, "entries", "group cache (entries)"),
        (group_views, "search", "search()"),
        (users, "servers_of", "servers_of()"),
        (server_views, "servers_of", "servers_of()"),
        (users, "render_template", "render_template()"),
        (group_views, "render_template", "render_template()"),
        (server_views, "render_template", "render_template()"),
    ]
    return breakdown_pages(env, cookie, paths, repeat, parts, profile_keys=tuple(profile_keys))


# -- reporting -------------------------------------------------------------------------------------


def met(ratio: float | None, target: float) -> str:
    if ratio is None:
        return "—"
    return "MET" if ratio <= target else "MISSED"


def summary_rows(report: dict) -> list:
    """(what, hubdesk, compared with, ratio, target, met) for the summary table."""
    rows = []
    for r in report["server_side"]:
        rows.append(
            (
                f"{r['page']}: server side, direct to gunicorn",
                f"{fmt(r['hubdesk_direct']['median_ms'])} ms",
                f"{fmt(r['raw']['median_ms'])} ms: {r['raw_calls']}, hub port",
                r["ratio_direct"],
                f"≤ {SERVER_TARGET}×",
                met(r["ratio_direct"], SERVER_TARGET),
            )
        )
    b = report.get("browser") or {}
    for suffix, start in (("", "a click within the app"), (FROM_BLANK, "typed after about:blank")):
        for what in ("users", "groups"):
            h, a = b.get(f"hubdesk {what}{suffix}"), b.get(f"hub admin {what}{suffix}")
            if not (h and a):
                continue
            ratio = round(h["wall_ms"]["median_ms"] / a["wall_ms"]["median_ms"], 2)
            rows.append(
                (
                    f"{what} page in Chromium, {start} → rows painted (wall clock)",
                    f"{fmt(h['wall_ms']['median_ms'])} ms (`{h['url']}`; in-page "
                    f"{fmt(h['in_page_ms']['median_ms'])})",
                    f"{fmt(a['wall_ms']['median_ms'])} ms: hub admin page `{a['url']}` "
                    f"(in-page {fmt(a['in_page_ms']['median_ms'])})",
                    ratio,
                    f"≤ {BROWSER_TARGET}×",
                    met(ratio, BROWSER_TARGET),
                )
            )
    bulk = report.get("bulk_add") or []
    person = next((x for x in bulk if x["how"].endswith("via proxy")), None)
    one = next((x for x in bulk if x["how"] == "raw API, one call"), None)
    if person and one and person["hub_has_all_s"] and one["hub_has_all_s"]:
        ratio = round(person["hub_has_all_s"] / one["hub_has_all_s"], 2)
        seen = (
            f"answer {person['answer_status']} after {person['answer_s']:.1f} s"
            + (" (a page following the change)" if person.get("followed_on_a_page") else "")
            + f", all in the hub after {person['hub_has_all_s']:.1f} s"
            + (
                f", hubdesk's message after {person['message_s']:.1f} s"
                if person.get("message")
                else ""
            )
        )
        rows.append(
            (
                f"bulk add of {report['params']['big']:,} members "
                "(form via the proxy, as a person)",
                seen,
                f"{one['hub_has_all_s']:.1f} s: `POST /groups/{{g}}/users`, one call",
                ratio,
                f"≤ {SERVER_TARGET}× (applied to actions)",
                met(ratio, SERVER_TARGET),
            )
        )
    gs = report.get("group_start") or []
    if len(gs) == 2:
        ratio = round(gs[0]["total_s"] / gs[1]["total_s"], 2)
        rows.append(
            (
                f"start for a {gs[0]['members']}-member group (profile small)",
                f"{gs[0]['total_s']:.1f} s (confirm → job done)",
                f"{gs[1]['total_s']:.1f} s: {gs[1]['how']} (start + progress until ready)",
                ratio,
                f"≤ {SERVER_TARGET}× (applied to actions)",
                met(ratio, SERVER_TARGET),
            )
        )
    return rows


def markdown(report: dict) -> str:
    p, m = report["params"], report["machine"]
    seeding = report["seeding"]
    lines = [
        f"# hubdesk against the anchors ({report['date']})",
        "",
        f"A hub of {p['users']:,} users, {p['groups']:,} groups `bench-…` with 0–5 random "
        f"members each and `{BIG}` with {p['big']:,} members, seeded straight into the "
        "hub's SQLite database. hubdesk under gunicorn "
        f"({p['gunicorn_workers']} gevent workers), signed in as "
        f"the hub admin. Server side: {p['repeat']} timed requests per series after "
        f"{WARMUP} warm-up requests, interleaved; Chromium: {p['browser_repeat']} navigations "
        "per page, interleaved. Times in ms (medians unless said), wall clock at the client.",
        "",
        machine_line(m),
        "",
        "## Summary",
        "",
        "| page | hubdesk | raw hub / hub admin page | ratio | target | met? |",
        "|---|---|---|---:|---|---|",
    ]
    for what, h, raw, ratio, target, ok in summary_rows(report):
        lines.append(f"| {what} | {h} | {raw} | {ratio:.2f}× | {target} | {ok} |")
    lines += [
        "",
        "Server-side ratios compare hubdesk direct to gunicorn with the same hub calls "
        "straight to the hub's port (neither through the proxy); through the proxy both "
        "ways, see *Server side* below.",
        "",
        "### This run against the anchors of DESIGN.md",
        "",
        "| anchor | DESIGN.md | this run |",
        "|---|---:|---:|",
    ]
    for what, value in report["anchors"].items():
        mine = report["anchors_measured"].get(what)
        lines.append(f"| {what} | {value:,} | {fmt(mine) if mine is not None else '—'} |")

    lines += [
        "",
        "## 1. Seeding",
        "",
        "Rows inserted with SQLAlchemy into the hub's own tables (`jupyterhub.orm`), the hub "
        "and gunicorn stopped, one transaction per step: `users`, `user_role_map` (the "
        "default `user` role), `spawners` (the default server's row), `groups`, "
        "`user_group_map`; the hub then started again. `bench-big` is made again after "
        "the small groups at each step, so that it stays last in the hub's id order (the "
        "first page of `GET /groups` holds small groups only, as for the anchors).",
        "",
        "| step: users / groups / big | inserted users / groups / memberships | insert s | "
        "hub start s | hub's totals after (users / groups / big) |",
        "|---|---|---:|---:|---|",
    ]
    for st in seeding["steps"]:
        n, t, ins = st["size"], st["totals"], st["inserted"]
        lines.append(
            f"| {n['users']:,} / {n['groups']:,} / {n['big']:,} | "
            f"{ins.get('users_inserted', 0):,} / "
            f"{ins.get('groups_inserted', 0):,} / {ins.get('memberships_inserted', 0):,} | "
            f"{ins.get('seconds', 0):.2f} | {st['hub_start_s']:.1f} | "
            f"{t['users']:,} / {t['groups']:,} / {t['big']:,} |"
        )
    api = seeding.get("api")
    if api:
        est = api["ms_per_user"] * p["users"] / 1000
        lines += [
            "",
            f"Through the API: {api['users']} users in one `POST /users` took "
            f"{api['seconds']:.2f} s "
            f"({api['ms_per_user']:.1f} ms a user), so {p['users']:,} users would take about "
            f"{est:,.0f} s that way (users only; groups and memberships extra).",
        ]

    lines += [
        "",
        "## 2. Server side: each page against the hub calls it makes",
        "",
        "The hub calls of each page were recorded with the app in this process on warm "
        "caches; the raw side repeats those GETs (same paths, same Accept header) with the "
        "service token. hubdesk also calls `GET /user` (its identity cache, 30 s), "
        "`GET /user` for its own scopes and `GET /` (60 s each) and refreshes its group list "
        "in the background every 30 s: these are not on the raw side.",
        "",
        "| page | hub calls it makes (warm) | hubdesk via proxy | hubdesk direct | raw via proxy "
        "| raw, hub port | ratio proxy | ratio direct | p95 direct / raw |",
        "|---|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in report["server_side"]:
        calls = (
            "; ".join(
                f"{c['method']} {c['path']} ({c['token']} token)"
                for c in r["hub_calls_of_the_page"]
            )
            or "none"
        )
        lines.append(
            f"| {r['page']} | {calls} | {fmt(r['hubdesk_proxy']['median_ms'])} | "
            f"{fmt(r['hubdesk_direct']['median_ms'])} | {fmt(r['raw_proxy']['median_ms'])} | "
            f"{fmt(r['raw']['median_ms'])} | {r['ratio_proxy']:.2f}× | {r['ratio_direct']:.2f}× | "
            f"{fmt(r['hubdesk_direct']['p95_ms'])} / {fmt(r['raw']['p95_ms'])} |"
        )
    extras = [(r, e) for r in report["server_side"] for e in r["extras"]]
    if extras:
        lines += ["", "Other raw calls, for reference:", ""]
        for r, e in extras:
            lines.append(
                f"- {r['key']}: {e['label'].removeprefix('raw, hub port: ')}: median "
                f"{fmt(e['median_ms'])} ms, p95 {fmt(e['p95_ms'])} ms, {e['bytes']:,} bytes"
            )
    for r in report["server_side"]:
        if r["raw_why"] != "the same calls the page makes":
            lines.append(f"- {r['key']}: raw side = {r['raw_calls']}: {r['raw_why']}")

    b = report.get("browser")
    lines += ["", "## 3. Chromium: the click → rows painted", ""]
    if b:
        lines += [
            "Measured as `bench_rows.py` does (see benchmarks/README.md): headless Chromium "
            "signed in through the hub's login form and OAuth; each sample a click on a link "
            "on the app's own home page (hubdesk's home, `/hub/home`), or the address typed in "
            "the tab after about:blank. *wall clock*: from the click to the first row visible "
            "and one animation frame after, on the machine's clock. *in-page*: "
            "`performance.now()` then, i.e. from the new document's navigation start. Medians, "
            "ms (wall clock: min–max).",
            "",
            "| page | selector | wall clock | in-page | first byte | HTML done | DOM ready | "
            "API fetch start–end |",
            "|---|---|---:|---:|---:|---:|---:|---|",
        ]

        def med(x):
            return fmt(x["median_ms"]) if x else "—"

        for key, v in b.items():
            api_span = (
                f"{med(v['api_start_ms'])}–{med(v['api_end_ms'])}" if v.get("api_start_ms") else "—"
            )
            w = v["wall_ms"]
            lines.append(
                f"| {key} `{v['url']}` | `{v['selector']}` | {med(w)} "
                f"({fmt(w['min_ms'])}–{fmt(w['max_ms'])}) | {med(v['in_page_ms'])} | "
                f"{med(v['response_start_ms'])} | {med(v['response_end_ms'])} | "
                f"{med(v['dom_interactive_ms'])} | {api_span} |"
            )
        lines += ["", "What each page loaded on its last navigation (ms since it started):", ""]
        for key, v in b.items():
            loaded = "; ".join(
                f"`{r['name'][:60]}` {fmt(r['start'])}–{fmt(r['end'])}"
                f" ({r['bytes']:,} B over the wire"
                + (", render-blocking" if r.get("blocking") == "blocking" else "")
                + ")"
                for r in v.get("resources_last") or []
            )
            lines.append(f"- {key}: {loaded or 'nothing else'}")
    else:
        lines.append("Skipped (`--no-browser`).")

    lines += ["", "## 4. Actions", ""]
    bulk = report.get("bulk_add") or []
    if bulk:
        lines += [
            f"Adding {p['big']:,} existing users to a fresh empty group. hubdesk: the group "
            "page's *Add members* form, names pasted, submitted (and its preview confirmed if "
            "it shows one); *answer* is the submit → result page (or the error the client "
            "got), *all in the hub* is the submit → the hub listing every name as a member.",
            "",
            "| how | answer | answer s | all in the hub s | members after | message / calls |",
            "|---|---:|---:|---:|---:|---|",
        ]
        for x in bulk:
            note = x.get("message") or ""
            if x.get("calls_s"):
                note = "calls: " + ", ".join(f"{c:.1f}" for c in x["calls_s"]) + " s"
            lines.append(
                f"| {x['how']} | {x['answer_status']} | {x['answer_s']:.1f} | "
                f"{x['hub_has_all_s'] if x['hub_has_all_s'] is not None else 'never'} | "
                f"{x['members_after']:,} | {note[:300]} |"
            )
    parts = report.get("bulk_add_parts")
    if parts:
        lines += [
            "",
            f"Of hubdesk's time: its check that every name is a user (`HubClient."
            f"existing_users`: {parts['existing_users_how']}), timed alone from this process: "
            f"{parts['existing_users_s']:.1f} s. The rest is the add in chunks of "
            "`HUBDESK_MEMBERSHIP_CHUNK` (500) and two reads of the group.",
        ]
    gs = report.get("group_start") or []
    if gs:
        lines += [
            "",
            "Group start (`bench_servers.py`'s `group_start_hubdesk` / `group_start_api`): "
            "server `lab`, profile small, mock single-user servers.",
            "",
            "| how | total s | outcomes | running after | CPU % (hub / mock servers / "
            "gunicorn / machine) |",
            "|---|---:|---|---:|---|",
        ]
        for x in gs:
            c = x.get("cpu_percent") or {}
            cpu = " / ".join(
                str(c.get(k, "—")) for k in ("hub", "servers", "gunicorn", "machine_busy")
            )
            lines.append(
                f"| {x['how']} | {x['total_s']:.1f} | {x['outcomes']} | "
                f"{x['running_after']} | {cpu} |"
            )
    elif p.get("no_spawn"):
        lines.append("\nGroup start skipped (`--no-spawn`).")

    sc = report.get("scaling") or []
    if sc:
        labels = list(sc[0]["series"])
        lines += [
            "",
            "## 5. Scaling: median ms (direct to gunicorn; raw at the hub's port) by hub size",
            "",
            "| users / groups / big | " + " | ".join(labels) + " |",
            "|---|" + "---:|" * len(labels),
        ]
        for row in sc:
            n = row["size"]
            lines.append(
                f"| {n['users']:,} / {n['groups']:,} / {n['big']:,} | "
                + " | ".join(fmt(row["series"][label]["median_ms"]) for label in labels)
                + " |"
            )
        lines += [
            "",
            "The big group grows with the hub (half the users), so its page and its raw call "
            "grow with it; the other pages should stay flat.",
        ]

    if report.get("breakdown"):
        lines += ["", *breakdown_markdown(report["breakdown"], mark="")]
    lines += ["", f"The run took {report['run_seconds'] / 60:.1f} min.", ""]
    return "\n".join(lines)


# -- main ------------------------------------------------------------------------------------------


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--users",
        type=int,
        default=None,
        help="users (default 10000; --quick 1000); groups = users/5, bench-big = users/2",
    )
    ap.add_argument(
        "--repeat", type=int, default=None, help="timed requests per series (30; quick 5)"
    )
    ap.add_argument(
        "--browser-repeat", type=int, default=None, help="navigations per page (15; quick 5)"
    )
    ap.add_argument("--dir", type=Path, default=None, help="the hub's directory (kept afterwards)")
    ap.add_argument("--out", type=Path, default=HERE / "results", help="where results go")
    ap.add_argument("--quick", action="store_true", help="1,000 users, 5 repeats; anchors-quick.*")
    ap.add_argument("--no-browser", action="store_true", help="skip the Chromium part")
    ap.add_argument(
        "--no-spawn", action="store_true", help="no servers: no group start, servers/ empty"
    )
    ap.add_argument("--no-bulk", action="store_true", help="skip the bulk add")
    ap.add_argument("--no-scaling", action="store_true", help="seed the full size at once")
    ap.add_argument("--no-breakdown", action="store_true", help="skip the in-process breakdown")
    ap.add_argument("--seed", type=int, default=1, help="random seed for the small groups")
    args = ap.parse_args(argv)
    quick = {"users": 1000, "repeat": 5, "browser_repeat": 5}
    full = {"users": 10000, "repeat": 30, "browser_repeat": 15}
    for key, value in (quick if args.quick else full).items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    if args.users < 200 or args.repeat < 1 or args.browser_repeat < 1:
        ap.error("--users must be at least 200, --repeat and --browser-repeat at least 1")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    started = time.perf_counter()
    root, keep = bench_root(args.dir)
    env = {
        "HUBDESK_PROFILES": str(PROFILES_FILE),
        "HUBDESK_STATE_DIR": str(root / "hubdesk-state"),
    }
    with (
        hub_and_hubdesk(root, keep=keep, env=env) as stack,
        open(root / "jupyterhub.log", "ab") as hub_log,
    ):
        return run(args, stack, hub_log, started)


def run(args, stack: Stack, hub_log, started: float) -> int:
    hub = stack.hub
    api = HubClient(hub.api_url, stack.token, timeout=SEED_TIMEOUT)
    hub_version = api.version()
    machine = machine_info(hub_version)
    gunicorn = gunicorn_settings(stack.server.env)
    full = sizes_for(args.users)
    steps = [s for s in SCALE_STEPS if s < args.users and not args.no_scaling] + [args.users]
    db = hub.root / "jupyterhub.sqlite"

    seeding: dict = {"steps": [], "api": None}
    api_n = min(API_SEED_USERS, steps[0])
    seeding["api"] = api_seed_users(api, user_names(api_n))
    if seeding["api"]:
        a = seeding["api"]
        say(
            f"through the API: {a['users']} users in {a['seconds']:.2f} s "
            f"({a['ms_per_user']} ms each)"
        )

    proxied = None
    s: dict = {}
    scaling = []
    for size in steps:
        n = sizes_for(size)
        say(f"seeding {n['users']:,} users, {n['groups']:,} groups, {BIG} with {n['big']:,} …")
        holder: dict = {}

        def do_seed(n=n, holder=holder):
            holder.update(seed_db(db, **n, seed=args.seed))
            return {}

        out = restart(stack, hub_log, do_seed)
        got = totals(api)
        step = {"size": n, "inserted": holder, "hub_start_s": out["hub_start_s"], "totals": got}
        seeding["steps"].append(step)
        say(
            f"   inserted {holder['users_inserted']:,} users, {holder['groups_inserted']:,} "
            f"groups, {holder['memberships_inserted']:,} memberships in {holder['seconds']:.2f} s; "
            f"hub up in {out['hub_start_s']:.1f} s; it says {got['users']:,} users, "
            f"{got['groups']:,} groups, "
            f"{BIG} {got['big']:,}"
        )
        if (
            got["users"] < n["users"] + 1
            or got["groups"] < n["groups"] + 1
            or got["big"] != n["big"]
        ):
            say("   warning: the hub's totals are not what was seeded")
        if proxied is None:
            proxied = sign_in(hub, page="users/")
            s = sessions(stack, proxied)
            say("signed in as admin through the hub's login form and OAuth")
        prewarm(stack.server.url, s["cookie"], ["groups/?limit=50", "users/?limit=50"])
        if not args.no_scaling or size == args.users:
            say(f"scaling: {size:,} users, {args.repeat} x 9 series …")
            row = scaling_row(stack, s, n, args.repeat)
            scaling.append(row)
            say(
                "   medians: "
                + ", ".join(f"{k} {v['median_ms']:.1f}" for k, v in row["series"].items())
            )

    running_s = None
    if not args.no_spawn:
        say(f"starting {RUNNING} default servers (profile small) for servers/ …")
        running_s = start_running(stack, user_names(RUNNING))
        say(f"   {running_s:.1f} s")
    seeding["running_servers_s"] = running_s

    cases = server_cases(full, api)
    say("recording the hub calls each page makes (in this process) …")
    recorded = record_calls(stack.env, s["cookie"], {c.key: c.path for c in cases})
    for key, calls in recorded.items():
        say(f"   {key}: " + ("; ".join(f"{m} {p} ({w})" for m, p, _, w in calls) or "no hub call"))
    prewarm(stack.server.url, s["cookie"], [c.path for c in cases])
    server = server_side(stack, s, cases, recorded, args.repeat)

    browser = None
    if not args.no_browser:
        say(f"Chromium: {args.browser_repeat} navigations per page …")
        browser = browser_test(stack, args.browser_repeat)
        for key, v in browser.items():
            say(
                f"   {key}: rows painted {v['wall_ms']['median_ms']:.1f} ms by the wall clock "
                f"(in-page {v['in_page_ms']['median_ms']:.1f})"
            )

    bulk, bulk_breakdown = [], None
    if not args.no_bulk:
        names = user_names(full["big"])
        for how, base in (("via proxy", hub.public_url), ("direct to gunicorn", stack.server.url)):
            say(f"bulk add of {len(names):,} members, hubdesk form {how} …")
            res = bulk_add_hubdesk(stack, proxied, base, names, how.split()[-1])
            res["how"] = f"hubdesk form, {how}"
            bulk.append(res)
            say(
                f"   answer {res['answer_status']} after {res['answer_s']:.1f} s; all in the hub "
                f"after {res['hub_has_all_s']} s; {res['members_after']:,} members"
            )
        say(f"hubdesk's existence check alone for {len(names):,} names …")
        bulk_breakdown = bulk_parts(stack, names)
        say(f"   {bulk_breakdown['existing_users_s']:.1f} s")
        for chunk in (None, RAW_CHUNK):
            say(
                f"bulk add of {len(names):,} members, raw API "
                f"{'one call' if chunk is None else f'in calls of {chunk}'} …"
            )
            res = bulk_add_raw(stack, names, chunk)
            bulk.append(res)
            say(f"   {res['answer_s']:.1f} s; {res['members_after']:,} members")
        for x in bulk:
            try:
                api.delete_group(x["group"])
            except HubAPIError:
                pass

    gstart = []
    if not args.no_spawn:
        import bench_servers as bs

        say(f"group start for {bs.CLASS} ({bs.CLASS_SIZE} members) …")
        members = user_names(full["users"])[100 : 100 + bs.CLASS_SIZE]
        gstart = group_start(stack, proxied, members)

    report_breakdown = None
    if not args.no_breakdown:
        say("breakdown: timing each page's parts in this process …")
        missed = [r["key"] for r in server if r["ratio_direct"] > SERVER_TARGET]
        profile = missed or [max(server, key=lambda r: r["ratio_direct"])["key"]]
        try:
            report_breakdown = breakdown(
                stack.env, s["cookie"], {r["key"]: r["path"] for r in server}, args.repeat, profile
            )
        except Exception as e:  # noqa: BLE001 (never lose the measurements for it)
            say(f"warning: the breakdown failed ({e!r}); the report goes without it")
    machine["loadavg_1_5_15"] = [round(x, 2) for x in os.getloadavg()]

    by_key = {r["key"]: r for r in server}
    measured = {
        "GET /hub/api/groups?limit=50": by_key["groups"]["raw"]["median_ms"],
        "GET /hub/api/users?limit=50": by_key["users"]["extras"][0]["median_ms"],
        "GET /hub/api/groups/{g} (5,000 members)": by_key["group-big"]["raw"]["median_ms"],
    }
    if browser:
        # DESIGN.md's anchors were taken from about:blank
        for what in ("groups", "users"):
            measured[f"hub admin page, {what} shown (Chromium)"] = browser[
                f"hub admin {what}{FROM_BLANK}"
            ]["wall_ms"]["median_ms"]
    report = {
        "benchmark": "anchors",
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": machine,
        "params": {
            **full,
            "scale_steps": steps,
            "repeat": args.repeat,
            "browser_repeat": args.browser_repeat,
            "warmup": WARMUP,
            "quick": args.quick,
            "seed": args.seed,
            "no_spawn": args.no_spawn,
            "gunicorn_workers": gunicorn["workers"],
            "gunicorn_connections": gunicorn["connections"],
            "gunicorn_streams": gunicorn["streams"],
            "server_target": SERVER_TARGET,
            "browser_target": BROWSER_TARGET,
        },
        "anchors": ANCHORS,
        "anchors_measured": measured,
        "seeding": seeding,
        "server_side": server,
        "browser": browser,
        "bulk_add": bulk,
        "bulk_add_parts": bulk_breakdown,
        "group_start": gstart,
        "scaling": scaling,
        "breakdown": report_breakdown,
        "run_seconds": round(time.perf_counter() - started, 1),
    }
    report["summary"] = [
        dict(zip(("page", "hubdesk", "compared_with", "ratio", "target", "met"), row, strict=True))
        for row in summary_rows(report)
    ]
    text = markdown(report)
    say("")
    say(text)
    args.out.mkdir(parents=True, exist_ok=True)
    stem = "anchors-quick" if args.quick else "anchors"
    (args.out / f"{stem}.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    (args.out / f"{stem}.md").write_text(text, encoding="utf-8")
    say(f"wrote {args.out / (stem + '.json')} and {args.out / (stem + '.md')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
