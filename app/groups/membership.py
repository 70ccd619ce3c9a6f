"""Membership changes as jobs: the work of the job kind "members".

Every change of a group's members (add, remove, sync to a roster) is a job
whose items are the names, each with the operation it needs. The work sends
the names still open in chunks (:mod:`.ops`), marking each chunk *sent* in the
database before it goes out, then reads the group back and gives every name
its outcome. A worker that takes over a change from a dead one sends only what
is still open, and counts a name found a member (or gone) that an earlier
worker sent as done.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..hub import HubAPIError, HubUnreachable
from ..jobs import Context, Item, Job, MembersSpec
from ..words import plural
from . import ops

VERBS = {"add": "added", "remove": "removed"}
# an item's outcome for each part of a MembershipResult
DONE, UNCHANGED, FAILED, UNKNOWN = "done", "unchanged", "failed", "unknown"
SHORT = 25  # names per part in a flash message; the job's page lists every one


@dataclass
class Summary:
    """What a membership job did, in words, from its items."""

    short: str  # at most SHORT names per part: for a flash message (its page has them all)
    ok: bool
    cut: bool  # the short one leaves names out ("and N more")


def run_membership_change(context: Context) -> None:
    """Send what is still open, then settle every name by what the hub says."""
    job = context.job
    pending = job.pending()
    if not context.may("edit_members", group=job.group):
        context.set_outcome([i.name for i in pending], FAILED, "your hub scopes no longer allow it")
        return _finish(context, None)
    size = None
    for op in ("add", "remove"):
        names = [i.name for i in pending if i.op == op]
        if names:
            size = _apply(context, op, names, {i.name for i in pending if i.sent})
    _finish(context, size)


def _apply(context: Context, op: str, names: list[str], sent_before: set[str]) -> int | None:
    job = context.job
    spec: MembersSpec = job.spec

    def before_send(part):
        context.check()  # a worker shutting down sends no new chunk
        context.mark_sent(part)

    def progress(sent):
        if sent is None:  # the final read waits for the hub
            context.set_result(dict(context.job.result, waiting=True))

    options = {
        "chunk_size": spec.chunk,
        "progress": progress,
        "wait": ops.HUB_WAIT_SECONDS,
        "sent_before": sent_before,
        "before_send": before_send,
    }
    try:
        if op == "add":
            create = spec.create_missing and context.may("create_users")
            result = ops.add_members(
                context.hub, job.group, names, create_missing=create, **options
            )
        else:
            result = ops.remove_members(context.hub, job.group, names, **options)
    except (HubAPIError, HubUnreachable) as e:
        # nothing read back: what was sent is not known, the rest was not done
        words = (
            f"the hub refused: {e.message}"
            if isinstance(e, HubAPIError)
            else (f"the hub did not answer ({e.reason})")
        )
        sent = [n for n in names if context.job.items[n].sent]
        context.set_outcome([n for n in names if n not in sent], FAILED, words)
        context.set_outcome(sent, UNKNOWN, f"sent, then {words}")
        return None
    context.set_outcome(result.done, DONE)
    context.set_outcome(result.unchanged, UNCHANGED)
    for outcome, reasons in ((FAILED, result.failed), (UNKNOWN, result.unknown)):
        by_reason: dict[str, list[str]] = {}
        for name, reason in reasons.items():
            by_reason.setdefault(reason, []).append(name)
        for reason, which in by_reason.items():
            context.set_outcome(which, outcome, reason)
    if result.created:
        context.set_result(
            dict(
                context.job.result,
                created=context.job.result.get("created", 0) + len(result.created),
            )
        )
    return result.size


def _finish(context: Context, size: int | None) -> None:
    job = context.job
    summary = summarize(job)
    context.set_result(
        dict(
            job.result,
            waiting=False,
            short=summary.short,
            cut=summary.cut,
            ok=summary.ok,
            size=size,
        )
    )
    if size is not None:
        context.runner.on_group_change(job.group, size)


def results_of(job: Job, op: str) -> ops.MembershipResult:
    """The items of one operation of a job, as a MembershipResult."""
    result = ops.MembershipResult(VERBS[op])
    for item in sorted(job.items.values(), key=_position):
        if item.op != op:
            continue
        if item.outcome == DONE:
            result.done.append(item.name)
        elif item.outcome == UNCHANGED:
            result.unchanged.append(item.name)
        elif item.outcome == UNKNOWN:
            result.unknown[item.name] = item.words
        elif item.outcome == "cancelled":
            result.failed[item.name] = item.words or "cancelled"
        elif item.finished:
            result.failed[item.name] = item.words or "failed"
    return result


def _position(item: Item) -> int:
    return item.position


def parts_of(job: Job) -> list[ops.Part]:
    """The job's outcome, part by part: who was added or removed, who was already as asked,
    who was skipped before anything was sent (``spec.skipped``: reason -> names), who
    failed and why."""
    verb = job.spec.verb
    ops_ = ("add", "remove") if verb == "sync" else (verb,)
    asked = {i.op for i in job.items.values()}
    found: list[ops.Part] = []
    created = int(job.result.get("created") or 0)
    if created:
        found.append(ops.Part("created", f"Created {plural(created, 'new user')}", []))
    for op in ops_:
        if verb == "sync" and op not in asked:
            continue  # a sync that only adds says nothing of removing, and the other way
        found += results_of(job, op).parts(job.group)
    for reason, names in job.spec.skipped.items():
        found.append(ops.Part("skipped", f"Skipped {plural(len(names), 'name')} ({reason})", names))
    return found


def summarize(job: Job) -> Summary:
    """The job's outcome in words, from its items."""
    parts = parts_of(job)
    results_ok = all(p.key not in ("failed", "unknown") for p in parts)
    lead = f"Synced “{job.group}” to the roster. " if job.spec.verb == "sync" else ""
    return Summary(
        short=lead + ops.said(parts, most=SHORT),
        ok=results_ok,
        cut=any(p.cut(SHORT) for p in parts),
    )
