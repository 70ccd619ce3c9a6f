"""Membership changes that may be large: sent in chunks, confirmed by re-reading.

Adding 5,000 users in one call takes ~20 s and can time out at the hub's proxy
while the hub goes on to finish, so a timeout does not mean "not done". Each
operation sends chunks, then reads the group back: what it reports as done is
what the hub says is done. If the hub is away at that moment (restarting), the
read is tried again for a while; if it stays away, what the hub confirmed is
reported as done, what it refused as failed, and the rest as not known.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..hub import HubAPIError, HubClient, HubUnreachable, while_away
from ..names import chunks
from ..words import plural

NO_SUCH_USER = "No such user: "
# how long a change running in the background waits to read back from a hub that went
# away (a page waiting on the answer does not wait: ``wait`` defaults to 0)
HUB_WAIT_SECONDS = 120


@dataclass
class MembershipResult:
    """What a bulk change did, name by name."""

    verb: str  # "added" or "removed"
    done: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)  # already members / were not members
    failed: dict[str, str] = field(default_factory=dict)  # name -> the reason, in words
    # sent, but the hub stopped answering before hubdesk could check: name -> the reason
    unknown: dict[str, str] = field(default_factory=dict)
    created: list[str] = field(default_factory=list)  # users created on the way
    size: int | None = 0  # the group's member count afterwards, as the hub says (None: unknown)

    @property
    def ok(self) -> bool:
        return not self.failed and not self.unknown

    def parts(self, group: str) -> list[Part]:
        """What happened to whom, one part per outcome (and per reason), in order."""
        added = self.verb == "added"
        n = len(self.done)
        found = []
        if self.created:
            found.append(Part("created", f"Created {plural(len(self.created), 'new user')}", []))
        where = f"{'to' if added else 'from'} “{group}”"
        found.append(
            Part(
                "done",
                f"{self.verb.capitalize()} {plural(n, 'member') if n else 'no one'} {where}",
                self.done,
            )
        )
        if self.unchanged:
            n = len(self.unchanged)
            if added:
                what = "was already a member" if n == 1 else "were already members"
            else:
                what = "was not a member" if n == 1 else "were not members"
            found.append(Part("unchanged", f"{n:,} {what}", self.unchanged))
        not_done = (("failed", "Failed", self.failed), ("unknown", "Not known", self.unknown))
        for key, label, items in not_done:
            by_reason: dict[str, list[str]] = {}
            for name, reason in items.items():
                by_reason.setdefault(reason, []).append(name)
            for reason, names in by_reason.items():
                found.append(Part(key, f"{label} for {len(names):,} ({reason})", names, reason))
        return found

    def summary(self, group: str, *, most: int | None = 25) -> str:
        """One message for a person: who was done, who was left as they were, who failed
        and why (grouped by reason). At most ``most`` names per part (then "and N more");
        ``None``: every one."""
        return said(self.parts(group), most=most)


@dataclass
class Part:
    """One part of an outcome: what happened (in words) to these names."""

    key: str  # "created", "done", "unchanged", "skipped", "failed" or "unknown"
    words: str  # "Added 3 members to “g”", "Failed for 2 (no such user)"
    names: list[str]
    reason: str = ""

    def said(self, most: int | None = 25) -> str:
        """The part as a sentence: "Added 3 members to “g”: a, b, c." (names cut at ``most``)."""
        return f"{self.words}: {listed(self.names, most)}." if self.names else f"{self.words}."

    def cut(self, most: int | None) -> bool:
        return most is not None and len(self.names) > most


def listed(names: list[str], most: int | None = 25) -> str:
    """ "a, b, c", or "a, b and 40 more" past ``most`` names (``None``: every one)."""
    if most is None or len(names) <= most:
        return ", ".join(names)
    return f"{', '.join(names[:most])} and {len(names) - most:,} more"


def said(parts: list[Part], *, most: int | None = 25) -> str:
    return " ".join(p.said(most) for p in parts)


def _send(call, group: str, part: list[str], failed: dict[str, str], sure: set[str]) -> None:
    """Send one chunk; an unknown user fails alone and the rest is sent again.

    Names the hub confirmed go into ``sure``; ``failed`` gets the others and why.
    """
    part = list(part)
    while part:
        try:
            call(group, part)
            sure.update(part)
            return
        except HubAPIError as e:
            missing = e.message[len(NO_SUCH_USER) :] if e.message.startswith(NO_SUCH_USER) else None
            if e.status == 400 and missing in part:
                failed[missing] = "no such user"
                sure.add(missing)
                part.remove(missing)
                continue
            for name in part:
                failed[name] = f"the hub refused: {e.message}"
            sure.update(part)
            return
        except HubUnreachable as e:
            # it may still have happened: the re-read below decides
            for name in part:
                failed[name] = f"the hub did not answer ({e.reason})"
            if not e.maybe_applied:
                sure.update(part)  # sure it did not: it never reached the hub
            return


def _members(hub: HubClient, group: str, wait: float, progress) -> set[str] | None:
    """The group's members, asked again while the hub is away; None if it stays away."""
    try:
        return while_away(
            lambda: set(hub.get_group(group).get("users", ())),
            seconds=wait,
            waiting=(lambda: progress(None)) if progress else None,  # "waiting for the hub"
        )
    except HubUnreachable:
        return None


def _change(
    call, hub, group, result, todo, failed, sure, *, chunk_size, progress, wait, member, before_send
):
    """Send ``todo`` (less what already failed) in chunks, then settle it name by name."""
    sent = 0
    for part in chunks([n for n in todo if n not in failed], chunk_size):
        if before_send:
            before_send(part)  # e.g. written down first, so that a resume knows
        _send(call, group, part, failed, sure)
        sent += len(part)
        if progress:
            progress(sent)
    _settle(result, todo, failed, sure, _members(hub, group, wait, progress), member=member)


def _settle(result, todo, failed, sure, after, *, member: bool) -> None:
    """Who was done, name by name: by the hub's word afterwards, else by its answers."""
    if after is not None:
        result.size = len(after)
        result.done = [n for n in todo if (n in after) == member]
        why = "not a member afterwards" if member else "still a member afterwards"
        result.failed = {n: failed.get(n, why) for n in todo if (n in after) != member}
        return
    result.size = None
    later = "and the hub stopped answering before hubdesk could check"
    result.done = [n for n in todo if n in sure and n not in failed]
    result.failed = {n: failed[n] for n in todo if n in sure and n in failed}
    result.unknown = {
        n: f"{failed[n]}, {later}" if n in failed else f"sent, {later}"
        for n in todo
        if n not in sure
    }


def add_members(
    hub: HubClient,
    group: str,
    names: list[str],
    *,
    chunk_size: int = 500,
    create_missing: bool = False,
    progress=None,
    wait: float = 0,
    sent_before=frozenset(),
    before_send=None,
) -> MembershipResult:
    """Add ``names`` to ``group``; with ``create_missing``, create unknown users first.

    ``progress(n)`` is told after each chunk how many names have been sent, and
    ``progress(None)`` while the final read waits for the hub (at most ``wait`` s; the
    background path passes HUB_WAIT_SECONDS). ``before_send(chunk)`` is called before
    each chunk goes out; ``sent_before`` are names an earlier run may have sent (found
    members now, they were added, not "already members").
    """
    result = MembershipResult("added")
    before = set(hub.get_group(group).get("users", ()))
    result.unchanged = [n for n in names if n in before and n not in sent_before]
    earlier = [n for n in names if n in before and n in sent_before]
    todo = [n for n in names if n not in before]
    failed: dict[str, str] = {}
    sure: set[str] = set()
    if create_missing and todo:
        known = hub.existing_users(todo)  # once: not once per name
        missing = [n for n in todo if n not in known]
        for part in chunks(missing, chunk_size):
            try:
                result.created += [u["name"] for u in hub.create_users(part)]
            except HubAPIError as e:
                failed.update({n: f"could not create the user: {e.message}" for n in part})
                sure.update(part)
    _change(
        hub.add_group_members,
        hub,
        group,
        result,
        todo,
        failed,
        sure,
        chunk_size=chunk_size,
        progress=progress,
        wait=wait,
        member=True,
        before_send=before_send,
    )
    result.done = earlier + result.done
    return result


def remove_members(
    hub: HubClient,
    group: str,
    names: list[str],
    *,
    chunk_size: int = 500,
    progress=None,
    wait: float = 0,
    sent_before=frozenset(),
    before_send=None,
) -> MembershipResult:
    """Remove ``names`` from ``group`` (the other arguments as for :func:`add_members`)."""
    result = MembershipResult("removed")
    before = set(hub.get_group(group).get("users", ()))
    result.unchanged = [n for n in names if n not in before and n not in sent_before]
    earlier = [n for n in names if n not in before and n in sent_before]
    todo = [n for n in names if n in before]
    _change(
        hub.remove_group_members,
        hub,
        group,
        result,
        todo,
        {},
        set(),
        chunk_size=chunk_size,
        progress=progress,
        wait=wait,
        member=False,
        before_send=before_send,
    )
    result.done = earlier + result.done
    return result
