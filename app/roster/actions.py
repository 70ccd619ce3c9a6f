"""Start or stop servers for a whole group: the work of the job kinds "start" and "stop".

The job runner (:mod:`hubdesk.jobs`) holds the job and its items; this module says
what one member's item does, in named steps. Each item is settled by what the
hub has before anything is sent (running: started; pending: followed; absent:
started now), and is marked *sent* in the database before its request goes
out, so a worker that takes the job over from a dead one never starts a server
twice. If the hub goes away meanwhile (a restart), an item waits for it (its
row says so), then is settled the same way.

Every bulk start (a group's, the ticked members', a lesson's) goes through the
circuit breaker (:mod:`.breaker`): one start first, more at once only while they
succeed, and after ``HUBDESK_BULK_FAILURE_LIMIT`` spawn failures in a row nothing
more is sent and the job is paused, so that a broken profile never brings the hub
to its own ``consecutive_failure_limit`` (at which it shuts itself down).
"""

from __future__ import annotations

import logging
import time

from .. import metrics
from ..hub import HubAPIError, HubUnreachable, while_away
from ..jobs import PAUSED, PENDING, Context, Item, Job, StartSpec, StopSpec, pool_map
from ..servers.breaker import FAILURE, FORGET_SECONDS, PROCESS, Breaker, HubWide, verdict
from ..servers.model import explain, parse_time, server_in, state_of
from ..states import OUTCOME_WORDS

log = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 30  # a long spawn's item says how it goes this often
HUB_WAIT_SECONDS = 120  # how long an item waits for a hub that went away (e.g. restarting)
OUTAGES = 5  # an item rides out this many outages, then says what it knows
SPAWN_SECONDS = 600  # a spawn is followed this long at most


# -- the outcomes, in words ----------------------------------------------------------

OUTCOMES = OUTCOME_WORDS  # one vocabulary for every job page (states.py)
NOT_SENT_PAUSED = "not started: the action is paused"


def run_group_action(context: Context) -> None:
    """Every member's item not settled yet, a few at a time (starts: as the breaker lets)."""
    if context.job.kind == "stop":
        pool_map(
            context, lambda item: settle_member(context, item, stop_member), context.job.pending()
        )
        return
    breaker = start_breaker(context)

    def start(context: Context, item: Item, set_outcome) -> None:
        start_member(context, item, set_outcome, breaker)

    pool_map(
        context,
        lambda item: settle_member(context, item, start, breaker),
        context.job.pending(),
    )
    if breaker.tripped:
        pause(context, breaker.reason)


def start_breaker(context: Context) -> Breaker:
    """The job's breaker, going on from the count in its record (kept there as it changes:
    a worker that takes the job over, or a resume, goes on from it)."""
    kept = context.job.result.get("breaker") or {}

    def keep(failures: int, message: str) -> None:
        context.set_result(
            dict(context.job.result, breaker={"failures": failures, "message": message[:500]})
        )

    store = context.store
    return Breaker(
        context.runner.failure_limit,
        context.runner.concurrency,
        failures=int(kept.get("failures") or 0),
        message=str(kept.get("message") or ""),
        on_count=keep,
        # every bulk start's failures, hub-wide, and this process's starts in flight
        hub=HubWide(
            lambda: store.spawn_failures(FORGET_SECONDS),
            lambda failed, words: store.count_spawn(failed, words, FORGET_SECONDS),
        ),
        process=PROCESS,
    )


def pause(context: Context, reason: str) -> None:
    """Nothing more is sent: the job waits for someone to resume or cancel it, on record.

    If it was cancelled meanwhile, its items not sent are cancelled instead.
    """
    job = context.job
    if not context.pause(reason):
        who = context.store.cancelled_by(job.id)
        held = [i.name for i in job.items.values() if i.outcome == PAUSED]
        if who and held:
            context.set_outcome(held, "cancelled", f"cancelled by {who} before it was sent")
        return
    log.warning("group start %s of %s paused: %s", job.id, job.group, reason)
    metrics.count_paused()
    if context.runner.audit is not None:
        context.runner.audit.record("group.start.pause", job_target(job), outcome=reason)


def job_target(job: Job) -> dict:
    """A group action as its audit records name it (its pause, resume, cancel)."""
    target = {"group": job.group, "job": job.id, "server": job.spec.server or ""}
    if job.spec.lesson:
        target["lesson"] = job.spec.lesson
    return target


def resume_changes(result: dict, limit: int) -> dict:
    """What resuming a paused start changes in its record: the breaker goes on at one
    below its limit, so exactly one start is sent first (a still broken profile pauses
    the action again after that one failure; a success widens it again)."""
    kept = result.get("breaker") or {}
    return {"breaker": {"failures": max(0, limit - 1), "message": kept.get("message") or ""}}


def settle_member(context: Context, item: Item, step, breaker: Breaker | None = None) -> None:
    """One member: the step, riding out hub outages; an outcome in any case.

    With a ``breaker`` (a start), each final outcome also tells it how the spawn went: a
    failure is counted (and kept in the job's record) before the outcome is.
    """
    user, job = item.name, context.job

    def set_outcome(outcome: str, words: str = "", status: int | None = None) -> None:
        final = outcome not in PENDING
        if final:
            metrics.count_bulk(f"group.{job.kind}", outcome)
        result = verdict(outcome, sent=item.sent, status=status) if breaker and final else None
        if result == FAILURE:
            breaker.settle(user, result, words)
        context.set_outcome(user, outcome, words)
        if result and result != FAILURE:
            breaker.settle(user, result)

    reason = ""
    try:
        for _ in range(OUTAGES):
            try:
                return step(context, item, set_outcome)
            except HubUnreachable as e:
                if e.maybe_applied and not item.sent:
                    context.mark_sent(user)
                reason = e.reason
                if not _wait_for_hub(context, user, reason, set_outcome):
                    break
        if item.sent:
            return set_outcome(
                "unknown",
                f"the hub stopped answering ({reason}) after the request was sent: "
                "check this user's servers",
            )
        set_outcome("failed", f"not done: the hub did not answer ({reason})")
    except HubAPIError as e:
        set_outcome(*explain(e, user, job.spec.server or ""), status=e.status)
    finally:
        if breaker is not None:
            breaker.leave(user)  # no longer in flight here, whatever happened


def _wait_for_hub(context: Context, user: str, reason: str, set_outcome) -> bool:
    """Wait (saying so) until the hub answers again; False after HUB_WAIT_SECONDS."""

    def answers():
        try:
            context.hub.get_user(user)
        except HubAPIError:
            pass  # it answers: the step will say what it says

    def waiting():
        set_outcome("waiting", f"the hub is not answering ({reason}); waiting for it")

    waiting()
    try:
        while_away(answers, seconds=HUB_WAIT_SECONDS, waiting=waiting)
    except HubUnreachable:
        return False
    return True


def start_member(context: Context, item: Item, set_outcome, breaker: Breaker | None = None) -> None:
    """Start the job's server for one member, or settle it by what the hub has.

    With a ``breaker``, the start waits for its turn, and is not sent once it tripped.
    """
    user = item.name
    spec: StartSpec = context.job.spec
    server = spec.server
    if breaker is not None and breaker.tripped and not item.sent:
        return set_outcome(PAUSED, NOT_SENT_PAUSED)
    model = context.hub.get_user(user, include_stopped_servers=True)
    if not context.may(
        "start_server", user=user, server=server, user_groups=model.get("groups") or ()
    ):
        return set_outcome("forbidden", "your hub scopes do not let you start this server")
    current = server_in(model, server)
    state = state_of(current)
    if item.sent:  # an earlier try (or worker) may have reached the hub: what does it have?
        if state == "running":
            return set_outcome("started", "ready (checked with the hub after an interruption)")
        if state in ("starting", "stopping"):
            if breaker is not None:
                breaker.follow(user)  # in flight, though sent before this worker had it
            return follow_spawn(context, user, server, set_outcome)
        if current is not None and (server == "" or current.get("started")):
            return set_outcome(
                "failed",
                "not started: the start was sent, and the hub has the server stopped now "
                "(the spawn may have failed): check this user's servers",
            )
        # the hub has no trace of it: the start never got there, so sending it is no repeat
    elif state in ("running", "starting"):
        return set_outcome("running", f"already {state}")
    if breaker is not None:
        why = breaker.take(user, give_up=lambda: _give_up(context))
        if why == PAUSED:
            return set_outcome(PAUSED, NOT_SENT_PAUSED)
        if why:
            return set_outcome("cancelled", why)
    for attempt in range(5):
        try:
            context.mark_sent(user)  # first: if this worker dies now, a resume will know
            status = context.hub.start_server(
                user,
                server,
                spec.user_options or None,
                display_name=spec.display_name,
                hub_major=spec.hub_major,
            )
            break
        except HubAPIError as e:
            if e.status != 429 or attempt == 4:
                raise
            time.sleep(2 * (attempt + 1))  # the hub's concurrent_spawn_limit: wait our turn
    if status == 201:
        return set_outcome("started", "ready")
    return follow_spawn(context, user, server, set_outcome)


def _give_up(context: Context) -> str | None:
    """While a start waits for its turn: a worker stopping raises, a cancel says so."""
    context.check()
    who = context.cancelled()
    return f"cancelled by {who} before it was sent" if who else None


def follow_spawn(context: Context, user: str, server: str, set_outcome) -> None:
    """Follow a spawn to its end, saying how it goes now and then."""
    set_outcome("starting", "coming up")
    last, touched = {}, time.monotonic()
    try:
        for event in context.hub.progress(user, server, seconds=SPAWN_SECONDS, keepalive=True):
            # a worker shutting down leaves the spawn to the next one, which follows it on
            context.check()
            if event is not None:
                last = event
            if time.monotonic() - touched > HEARTBEAT_SECONDS:
                set_outcome("starting", (last.get("message") or "coming up")[:200])
                touched = time.monotonic()
    except HubAPIError as e:
        if e.status != 400:
            raise
        # "not starting": the spawn ended before its stream opened; the hub's state tells
    if last.get("ready"):
        set_outcome("started", "ready")
    elif last.get("failed"):
        set_outcome("failed", last.get("message") or "the spawn failed")
    else:  # the stream ended without an outcome: ask the hub how it is
        state = state_of(server_in(context.hub.get_user(user), server))
        if state == "running":
            set_outcome("started", "ready")
        elif state == "starting":
            set_outcome("unknown", "still starting when hubdesk stopped following it: check it")
        else:
            why = context.hub.start_failure(user, server)
            set_outcome("failed", f"the spawn failed: {why}" if why else "the spawn did not finish")


def stop_member(context: Context, item: Item, set_outcome) -> None:
    """Stop one member's servers: all of them, the job's one, or the ones ticked for them."""
    user = item.name
    spec: StopSpec = context.job.spec
    only = spec.server
    ticked = (spec.servers or {}).get(user)  # a stop of ticked servers: theirs
    model = context.hub.get_user(user)
    groups = model.get("groups") or ()
    matched = [
        name
        for name, s in (model.get("servers") or {}).items()
        if state_of(s) != "stopped"
        and (only is None or name == only)
        and (ticked is None or name in ticked)
    ]
    later = [n for n in matched if _started_after(model["servers"][n], spec.listed_at)]
    targets = [n for n in matched if n not in later]
    left = "".join(f", {n or 'default'}: started after you confirmed, left running" for n in later)
    if not targets and later:
        return set_outcome("nothing", left[2:])
    if not targets:
        if item.sent:  # our stop reached the hub before it (or the worker) went away
            return set_outcome("stopped", "stopped (checked with the hub after an interruption)")
        none_running = "no running server" if only is None and ticked is None else "not running"
        return set_outcome("nothing", none_running)
    words, outcome = [], "stopped"
    for name in targets:
        label = name or "default"
        if not context.may("stop_server", user=user, server=name, user_groups=groups):
            outcome = "forbidden"
            words.append(f"{label}: not allowed")
            continue
        context.mark_sent(user)  # if the hub or this worker goes away now, what it has will tell
        status = context.hub.stop_server(user, name)
        if status == 202 and outcome == "stopped":
            outcome = "stopping"
        words.append(f"{label}: {'stopping' if status == 202 else 'stopped'}")
    set_outcome(outcome, ", ".join(words) + left)


def _started_after(server: dict, listed_at: float | None) -> bool:
    """A server started after a group stop was confirmed: not among what its page listed."""
    started = parse_time(server.get("started")) if listed_at else None
    return started is not None and started.timestamp() > listed_at
