"""A group's class roster: one page of its members, each with their servers, as the hub has them.

Named steps, each O(page) whatever the group's size: the group's member names (one call,
which the group page makes too), the page of names (filtered by the person's words), those
members' models (one small call each, a few at a time; never the hub's user count), and,
for the stopped servers among them that were ever used, whether their last start failed
(``mark_failures``).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..servers.model import Server, mark_failures, servers_of

SIZES = (25, 50, 100, 200)


@dataclass
class Row:
    """One line of the roster: a member and one of their servers (None: they have none)."""

    user: str
    server: Server | None
    first: bool  # the member's first line (their name is shown once)
    visible: bool  # False: the hub does not let this person see the member


@dataclass
class Roster:
    rows: list[Row]
    members: list[str]  # the page's members, in order
    found: int  # members matching the filter
    total: int  # members of the group

    def counts(self) -> dict[str, int]:
        """How many of the page's servers are in each state."""
        counts: dict[str, int] = {}
        for row in self.rows:
            if row.server is not None:
                counts[row.server.state] = counts.get(row.server.state, 0) + 1
        return counts


def matching(members: list[str], query: str) -> list[str]:
    """The members whose name holds ``query`` (ignoring case), by name ignoring case."""
    ordered = sorted(members)
    ordered.sort(key=str.casefold)  # two C-level sorts: see groups.views.show
    needle = query.strip().casefold()
    return [m for m in ordered if needle in m.casefold()] if needle else ordered


def read(
    client, members: list[str], *, query: str, offset: int, limit: int, profiles, host: str = ""
) -> Roster:
    """The roster's page: ``members`` filtered, one page of them, their servers, failures
    (``host``: the hub's public host, where the servers open)."""
    found = matching(members, query)
    shown = found[offset : offset + limit]
    models = client.user_models(shown, params={"include_stopped_servers": "1"}, by_name=True)
    rows: list[Row] = []
    servers: list[Server] = []
    for name in shown:
        model = models.get(name)
        mine = servers_of(model, profiles, host=host) if model else []
        servers += mine
        if not mine:
            rows.append(Row(name, None, True, model is not None))
        rows += [Row(name, s, i == 0, True) for i, s in enumerate(mine)]
    mark_failures(servers, client)
    return Roster(rows=rows, members=shown, found=len(found), total=len(members))


def parse_selection(values: list[str], members: set[str]) -> tuple[dict[str, list[str]], list]:
    """Ticked rows ("user/server") -> {member: [servers]}, and the values that name no member.

    A hub user name has no "/" (it is a path segment), so the first "/" splits.
    """
    chosen: dict[str, list[str]] = {}
    strays = []
    for value in values[:1000]:
        user, slash, server = value.partition("/")
        if not slash or user not in members:
            strays.append(value)
            continue
        servers = chosen.setdefault(user, [])
        if server not in servers:
            servers.append(server)
    return chosen, strays
