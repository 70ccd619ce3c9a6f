"""Start or stop servers for a whole group, in the background.

A group action can take minutes (each spawn is followed until it is ready or
has failed), so it runs in a background thread pool of the worker that took
the request, with at most ``HUBDESK_BULK_CONCURRENCY`` hub calls at once. Its
record is a JSON file in ``HUBDESK_STATE_DIR``: every worker on the host (and
every replica that shares the folder) can show it, and a person can leave the
page and come back. A record not updated for a while although unfinished was
interrupted (its worker restarted): the page says so, item by item.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

from .. import audit, logs, metrics, permissions
from ..hub import HubAPIError, HubClient, HubUnreachable, while_away
from .model import server_in, state_of

log = logging.getLogger(__name__)

STALE_SECONDS = 120  # a running job not touched for this long was interrupted
KEEP_DAYS = 30  # records of finished actions are kept this long
HEARTBEAT_SECONDS = 30  # a job following a long spawn touches its record this often
HUB_WAIT_SECONDS = 120  # how long an item waits for a hub that went away (e.g. restarting)
OUTAGES = 5  # an item rides out this many outages, then says what it knows
_JOB_ID = "0123456789abcdef"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class JobStore:
    """Job records as JSON files, written atomically (write, then rename)."""

    def __init__(self, root: str | Path):
        self.root = Path(root) / "jobs"
        self._lock = threading.Lock()

    def _path(self, job_id: str) -> Path:
        if len(job_id) != 16 or any(c not in _JOB_ID for c in job_id):
            raise KeyError(job_id)
        return self.root / f"{job_id}.json"

    def create(self, record: dict) -> str:
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._prune()
        job_id = secrets.token_hex(8)
        record = dict(record, id=job_id, created=_now(), updated=_now(), done=False)
        self._write(job_id, record)
        return job_id

    def _prune(self) -> None:
        """Forget records older than KEEP_DAYS (a file per action would pile up for ever)."""
        cutoff = time.time() - KEEP_DAYS * 86400
        for path in self.root.glob("*.json"):
            try:
                if path.stat().st_mtime < cutoff:
                    path.unlink()
            except OSError:
                pass  # another worker pruned it first

    def get(self, job_id: str) -> dict | None:
        try:
            record = json.loads(self._path(job_id).read_text(encoding="utf-8"))
        except (KeyError, OSError, ValueError):
            return None
        if not record.get("done"):
            updated = datetime.fromisoformat(record["updated"])
            record["interrupted"] = (datetime.now(UTC) - updated).total_seconds() > STALE_SECONDS
        return record

    def recent(self, group: str, limit: int = 5, kinds=("start", "stop")) -> list[dict]:
        """The latest jobs of these kinds for a group (newest first)."""
        if not self.root.is_dir():
            return []
        files = sorted(self.root.glob("*.json"), key=lambda p: p.stat().st_mtime, reverse=True)
        found = []
        for path in files[:200]:
            record = self.get(path.stem)
            if record and record.get("group") == group and record.get("kind") in kinds:
                found.append(record)
                if len(found) >= limit:
                    break
        return found

    def update(self, job_id: str, change) -> None:
        """Apply ``change(record)`` and write it back (one writer at a time in this process)."""
        with self._lock:
            record = json.loads(self._path(job_id).read_text(encoding="utf-8"))
            change(record)
            record["updated"] = _now()
            self._write(job_id, record)

    def _write(self, job_id: str, record: dict) -> None:
        path = self._path(job_id)
        tmp = path.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
        tmp.write_text(json.dumps(record, ensure_ascii=False), encoding="utf-8")
        os.replace(tmp, path)


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
}


def explain(error: HubAPIError, user: str, server: str) -> tuple[str, str]:
    """(outcome, words) for a hub error answering a start or stop."""
    message = error.message
    label = f"“{server}”" if server else "the default server"
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


# -- running a job ----------------------------------------------------------------------


class GroupJob:
    """Start (or stop) a server for every member of a group."""

    def __init__(
        self,
        store: JobStore,
        hub: HubClient,
        *,
        concurrency: int,
        person_scopes,
        service_scopes,
        actor: str = "-",
        spawn_seconds: float = 600,
        hub_wait_seconds: float = HUB_WAIT_SECONDS,
    ):
        self.actor = actor
        self.store = store
        self.hub = hub
        self.concurrency = concurrency
        self.person_scopes = frozenset(person_scopes)
        self.service_scopes = frozenset(service_scopes)
        self.spawn_seconds = spawn_seconds
        self.hub_wait_seconds = hub_wait_seconds

    def _may(self, action: str, **target) -> bool:
        return permissions.allowed(self.person_scopes, action, **target) and permissions.allowed(
            self.service_scopes, action, **target
        )

    def launch(self, job_id: str, members: list[str]) -> threading.Thread:
        thread = threading.Thread(
            target=self.run, args=(job_id, members), name=f"hubdesk-job-{job_id}", daemon=True
        )
        thread.start()
        return thread

    def run(self, job_id: str, members: list[str]) -> None:
        record = self.store.get(job_id)
        step = self._start if record["kind"] == "start" else self._stop
        try:
            with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
                for member in members:
                    pool.submit(self._item, job_id, member, step, record)
        finally:
            self.store.update(job_id, lambda r: r.update(done=True, finished=_now()))

    def _item(self, job_id: str, user: str, step, record: dict) -> None:
        # the audit trail and the logs of this thread speak of the person and the job
        audit.background_actor.set(self.actor)
        logs.background_id.set(f"job-{job_id}")

        def note(outcome: str, words: str = "") -> None:
            if outcome not in ("waiting", "starting"):
                metrics.count_bulk(f"group.{record['kind']}", outcome)
            self.store.update(
                job_id, lambda r: r["items"].__setitem__(user, {"outcome": outcome, "words": words})
            )

        # whether a start or stop may have reached the hub: after an outage, the item is
        # then settled by what the hub has, never by sending it a second time
        sent = {"maybe": False}
        reason = ""
        try:
            for _ in range(OUTAGES):
                try:
                    return step(user, record, note, sent)
                except HubUnreachable as e:
                    sent["maybe"] = sent["maybe"] or e.maybe_applied
                    reason = e.reason
                    if not self._wait_for_hub(user, reason, note):
                        break
            if sent["maybe"]:
                return note(
                    "unknown",
                    f"the hub stopped answering ({reason}) after the request was sent: "
                    "check this user's servers",
                )
            note("failed", f"not done: the hub did not answer ({reason})")
        except HubAPIError as e:
            note(*explain(e, user, record.get("server", "")))
        except Exception:  # one user's trouble must not stop the others
            log.exception("group job %s: %s failed", job_id, user)
            note("failed", "hubdesk hit an unexpected error (logged)")

    def _wait_for_hub(self, user: str, reason: str, note) -> bool:
        """Wait (saying so) until the hub answers again; False after ``hub_wait_seconds``."""

        def answers():
            try:
                self.hub.get_user(user)
            except HubAPIError:
                pass  # it answers: the step will say what it says

        def waiting():
            note("waiting", f"the hub is not answering ({reason}); waiting for it")

        waiting()
        try:
            while_away(answers, seconds=self.hub_wait_seconds, waiting=waiting)
        except HubUnreachable:
            return False
        return True

    def _start(self, user: str, record: dict, note, sent: dict) -> None:
        server = record["server"]
        model = self.hub.get_user(user)
        if not self._may(
            "start_server", user=user, server=server, user_groups=model.get("groups") or ()
        ):
            return note("forbidden", "your hub scopes do not let you start this server")
        current = server_in(model, server)
        state = state_of(current)
        if sent["maybe"]:  # our start may have reached the hub before it went away
            if state == "running":
                return note("started", "ready (checked after the hub answered again)")
            if state == "starting":
                return self._follow(user, server, note)
            return note(
                "failed",
                "not started: the hub's answer to the start was lost, and it has no such "
                f"server {state if current else 'at all'} now",
            )
        if state in ("running", "starting"):
            return note("running", f"already {state}")
        for attempt in range(5):
            try:
                status = self.hub.start_server(user, server, record.get("user_options") or None)
                break
            except HubAPIError as e:
                if e.status != 429 or attempt == 4:
                    raise
                time.sleep(2 * (attempt + 1))  # the hub's concurrent_spawn_limit: wait our turn
        sent["maybe"] = True
        if status == 201:
            return note("started", "ready")
        return self._follow(user, server, note)

    def _follow(self, user: str, server: str, note) -> None:
        """Follow a spawn to its end; the record is touched now and then, so it never looks
        interrupted while a slow spawn is still coming up."""
        note("starting", "coming up")
        last, touched = {}, time.monotonic()
        for event in self.hub.progress(user, server, seconds=self.spawn_seconds, keepalive=True):
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
            state = state_of(server_in(self.hub.get_user(user), server))
            if state == "running":
                note("started", "ready")
            elif state == "starting":
                note("unknown", "still starting when hubdesk stopped following it: check it")
            else:
                note("failed", "the spawn did not finish")

    def _stop(self, user: str, record: dict, note, sent: dict) -> None:
        only = record.get("server")
        model = self.hub.get_user(user)
        groups = model.get("groups") or ()
        targets = [
            name
            for name, s in (model.get("servers") or {}).items()
            if state_of(s) != "stopped" and (only is None or name == only)
        ]
        if not targets:
            if sent["maybe"]:  # our stop reached the hub before it went away
                return note("stopped", "stopped (checked after the hub answered again)")
            return note("nothing", "no running server" if only is None else "not running")
        words, outcome = [], "stopped"
        for name in targets:
            label = name or "default"
            if not self._may("stop_server", user=user, server=name, user_groups=groups):
                outcome = "forbidden"
                words.append(f"{label}: not allowed")
                continue
            sent["maybe"] = True  # if the hub goes away now, what it has will tell
            status = self.hub.stop_server(user, name)
            if status == 202 and outcome == "stopped":
                outcome = "stopping"
            words.append(f"{label}: {'stopping' if status == 202 else 'stopped'}")
        note(outcome, ", ".join(words))
