"""Start or stop servers for a whole group: the work of the job kinds "start" and "stop".

The job runner (:mod:`app.jobs`) holds the job and its items; this module says
what one member's item does, in named steps. Each item is settled by what the
hub has before anything is sent (running: started; pending: followed; absent:
started now), and is marked *sent* in the database before its request goes
out, so a worker that takes the job over from a dead one never starts a server
twice. If the hub goes away meanwhile (a restart), an item waits for it (its
row says so), then is settled the same way.
"""

from __future__ import annotations

import logging
import time

from .. import metrics
from ..hub import HubAPIError, HubUnreachable, while_away
from ..jobs import Context, Item, kind, pool_map
from ..words import server_words
from .model import server_in, state_of

log = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 30  # a long spawn's item says how it goes this often
HUB_WAIT_SECONDS = 120  # how long an item waits for a hub that went away (e.g. restarting)
OUTAGES = 5  # an item rides out this many outages, then says what it knows
SPAWN_SECONDS = 600  # a spawn is followed this long at most


# -- the outcomes, in words ----------------------------------------------------------

OUTCOMES = {
    "waiting": "waiting",
    "started": "started",
    "starting": "starting",
    "running": "already running",
    "stopped": "stopped",
    "stopping": "stopping",
    "nothing": "nothing to stop",
    "forbidden": "not allowed",
    "limit": "server limit reached",
    "failed": "failed",
    "unknown": "unknown: check",
    "cancelled": "cancelled",
}


def explain(error: HubAPIError, user: str, server: str) -> tuple[str, str]:
    """(outcome, words) for a hub error answering a start or stop."""
    message = error.message
    label = server_words(server)
    if error.status == 400 and "already running" in message:
        return "running", f"{label} is already running"
    if error.status == 400 and "maximum" in message:
        return "limit", f"{user} already has the most named servers allowed; remove one first"
    if error.status == 400 and "pending stop" in message:
        return "failed", f"{label} is still stopping; try again in a moment"
    if error.status == 400 and "Invalid server_name" in message:
        return "failed", f"“{server}” is not a valid server name"
    if error.status == 404:
        return "failed", f"there is no user called {user}"
    if error.status == 429:
        return "failed", "the hub is starting too many servers at once; try again shortly"
    return "failed", f"the hub refused: {message}"


@kind("start", "stop")
def run_group_action(context: Context) -> None:
    """Every member's item not settled yet, a few at a time."""
    step = start_member if context.job.kind == "start" else stop_member
    pool_map(context, lambda item: settle_member(context, item, step), context.job.pending())


def settle_member(context: Context, item: Item, step) -> None:
    """One member: the step, riding out hub outages; an outcome in any case."""
    user, job = item.name, context.job

    def note(outcome: str, words: str = "") -> None:
        if outcome not in ("waiting", "starting"):
            metrics.count_bulk(f"group.{job.kind}", outcome)
        context.note(user, outcome, words)

    reason = ""
    try:
        for _ in range(OUTAGES):
            try:
                return step(context, item, note)
            except HubUnreachable as e:
                if e.maybe_applied and not item.sent:
                    context.mark_sent(user)
                reason = e.reason
                if not _wait_for_hub(context, user, reason, note):
                    break
        if item.sent:
            return note(
                "unknown",
                f"the hub stopped answering ({reason}) after the request was sent: "
                "check this user's servers",
            )
        note("failed", f"not done: the hub did not answer ({reason})")
    except HubAPIError as e:
        note(*explain(e, user, job.spec.get("server") or ""))


def _wait_for_hub(context: Context, user: str, reason: str, note) -> bool:
    """Wait (saying so) until the hub answers again; False after HUB_WAIT_SECONDS."""

    def answers():
        try:
            context.hub.get_user(user)
        except HubAPIError:
            pass  # it answers: the step will say what it says

    def waiting():
        note("waiting", f"the hub is not answering ({reason}); waiting for it")

    waiting()
    try:
        while_away(answers, seconds=HUB_WAIT_SECONDS, waiting=waiting)
    except HubUnreachable:
        return False
    return True


def start_member(context: Context, item: Item, note) -> None:
    """Start the job's server for one member, or settle it by what the hub has."""
    user, spec = item.name, context.job.spec
    server = spec["server"]
    model = context.hub.get_user(user, include_stopped_servers=True)
    if not context.may(
        "start_server", user=user, server=server, user_groups=model.get("groups") or ()
    ):
        return note("forbidden", "your hub scopes do not let you start this server")
    current = server_in(model, server)
    state = state_of(current)
    if item.sent:  # an earlier try (or worker) may have reached the hub: what does it have?
        if state == "running":
            return note("started", "ready (checked with the hub after an interruption)")
        if state in ("starting", "stopping"):
            return follow_spawn(context, user, server, note)
        if current is not None and (server == "" or current.get("started")):
            return note(
                "failed",
                "not started: the start was sent, and the hub has the server stopped now "
                "(the spawn may have failed): check this user's servers",
            )
        # the hub has no trace of it: the start never got there, so sending it is no repeat
    elif state in ("running", "starting"):
        return note("running", f"already {state}")
    for attempt in range(5):
        try:
            context.mark_sent(user)  # first: if this worker dies now, a resume will know
            status = context.hub.start_server(
                user,
                server,
                spec.get("user_options") or None,
                display_name=spec.get("display_name") or "",
                hub_major=spec.get("hub_major"),
            )
            break
        except HubAPIError as e:
            if e.status != 429 or attempt == 4:
                raise
            time.sleep(2 * (attempt + 1))  # the hub's concurrent_spawn_limit: wait our turn
    if status == 201:
        return note("started", "ready")
    return follow_spawn(context, user, server, note)


def follow_spawn(context: Context, user: str, server: str, note) -> None:
    """Follow a spawn to its end, saying how it goes now and then."""
    note("starting", "coming up")
    last, touched = {}, time.monotonic()
    for event in context.hub.progress(user, server, seconds=SPAWN_SECONDS, keepalive=True):
        # a worker shutting down leaves the spawn to the next one, which follows it on
        context.check()
        if event is not None:
            last = event
        if time.monotonic() - touched > HEARTBEAT_SECONDS:
            note("starting", (last.get("message") or "coming up")[:200])
            touched = time.monotonic()
    if last.get("ready"):
        note("started", "ready")
    elif last.get("failed"):
        note("failed", last.get("message") or "the spawn failed")
    else:  # the stream ended without an outcome: ask the hub how it is
        state = state_of(server_in(context.hub.get_user(user), server))
        if state == "running":
            note("started", "ready")
        elif state == "starting":
            note("unknown", "still starting when hubdesk stopped following it: check it")
        else:
            note("failed", "the spawn did not finish")


def stop_member(context: Context, item: Item, note) -> None:
    """Stop one member's servers: all of them, the job's one, or the ones ticked for them."""
    user, spec = item.name, context.job.spec
    only = spec.get("server")
    ticked = (spec.get("servers") or {}).get(user)  # a stop of ticked servers: theirs
    model = context.hub.get_user(user)
    groups = model.get("groups") or ()
    targets = [
        name
        for name, s in (model.get("servers") or {}).items()
        if state_of(s) != "stopped"
        and (only is None or name == only)
        and (ticked is None or name in ticked)
    ]
    if not targets:
        if item.sent:  # our stop reached the hub before it (or the worker) went away
            return note("stopped", "stopped (checked with the hub after an interruption)")
        none_running = "no running server" if only is None and ticked is None else "not running"
        return note("nothing", none_running)
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
    note(outcome, ", ".join(words))
