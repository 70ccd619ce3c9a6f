"""Membership changes that may be large: sent in chunks, confirmed by re-reading.

Adding 5,000 users in one call takes ~20 s and can time out at the hub's proxy
while the hub goes on to finish, so a timeout does not mean "not done". Each
operation sends chunks, then reads the group back: what it reports as done is
what the hub says is done.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..hub import HubAPIError, HubClient, HubUnreachable
from ..names import chunks

NO_SUCH_USER = "No such user: "


@dataclass
class MembershipResult:
    """What a bulk change did, name by name."""

    verb: str  # "added" or "removed"
    done: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)  # already members / were not members
    failed: dict[str, str] = field(default_factory=dict)  # name -> the reason, in words
    created: list[str] = field(default_factory=list)  # users created on the way
    size: int = 0  # the group's member count afterwards, as the hub says

    @property
    def ok(self) -> bool:
        return not self.failed

    def summary(self, group: str, *, most: int = 25) -> str:
        """One message for a person: counts, then failed names grouped by reason."""
        parts = []
        if self.created:
            parts.append(f"Created {len(self.created)} new user{_s(self.created)}.")
        parts.append(
            f"{self.verb.capitalize()} {len(self.done)} member{_s(self.done)} "
            f"{'to' if self.verb == 'added' else 'from'} “{group}”."
        )
        if self.unchanged:
            what = "were already members" if self.verb == "added" else "were not members"
            parts.append(f"{len(self.unchanged)} {what}.")
        by_reason: dict[str, list[str]] = {}
        for name, reason in self.failed.items():
            by_reason.setdefault(reason, []).append(name)
        for reason, names in by_reason.items():
            shown = ", ".join(names[:most]) + (
                f" and {len(names) - most} more" if len(names) > most else ""
            )
            parts.append(f"Failed for {len(names)} ({reason}): {shown}.")
        return " ".join(parts)


def _s(items) -> str:
    return "" if len(items) == 1 else "s"


def _send(call, group: str, part: list[str], failed: dict[str, str]) -> None:
    """Send one chunk; an unknown user fails alone and the rest is sent again."""
    part = list(part)
    while part:
        try:
            call(group, part)
            return
        except HubAPIError as e:
            missing = e.message[len(NO_SUCH_USER) :] if e.message.startswith(NO_SUCH_USER) else None
            if e.status == 400 and missing in part:
                failed[missing] = "no such user"
                part.remove(missing)
                continue
            for name in part:
                failed[name] = f"the hub refused: {e.message}"
            return
        except HubUnreachable as e:
            # it may still have happened: the re-read below decides
            for name in part:
                failed[name] = f"the hub did not answer ({e.reason})"
            return


def add_members(
    hub: HubClient,
    group: str,
    names: list[str],
    *,
    chunk_size: int = 500,
    create_missing: bool = False,
    progress=None,
) -> MembershipResult:
    """Add ``names`` to ``group``; with ``create_missing``, create unknown users first.

    ``progress(n)`` is told after each chunk how many names have been sent.
    """
    result = MembershipResult("added")
    before = set(hub.get_group(group).get("users", ()))
    result.unchanged = [n for n in names if n in before]
    todo = [n for n in names if n not in before]
    failed: dict[str, str] = {}
    if create_missing and todo:
        missing = [n for n in todo if n not in hub.existing_users(todo)]
        for part in chunks(missing, chunk_size):
            try:
                result.created += [u["name"] for u in hub.create_users(part)]
            except HubAPIError as e:
                failed.update({n: f"could not create the user: {e.message}" for n in part})
    sent = 0
    for part in chunks([n for n in todo if n not in failed], chunk_size):
        _send(hub.add_group_members, group, part, failed)
        sent += len(part)
        if progress:
            progress(sent)
    after = set(hub.get_group(group).get("users", ()))
    result.size = len(after)
    result.done = [n for n in todo if n in after]
    result.failed = {n: failed.get(n, "not a member afterwards") for n in todo if n not in after}
    return result


def remove_members(
    hub: HubClient, group: str, names: list[str], *, chunk_size: int = 500, progress=None
) -> MembershipResult:
    """Remove ``names`` from ``group`` (``progress`` as for :func:`add_members`)."""
    result = MembershipResult("removed")
    before = set(hub.get_group(group).get("users", ()))
    result.unchanged = [n for n in names if n not in before]
    todo = [n for n in names if n in before]
    failed: dict[str, str] = {}
    sent = 0
    for part in chunks(todo, chunk_size):
        _send(hub.remove_group_members, group, part, failed)
        sent += len(part)
        if progress:
            progress(sent)
    after = set(hub.get_group(group).get("users", ()))
    result.size = len(after)
    result.done = [n for n in todo if n not in after]
    result.failed = {n: failed.get(n, "still a member afterwards") for n in todo if n in after}
    return result
