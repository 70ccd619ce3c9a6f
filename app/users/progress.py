"""Watching a spawn: the hub's progress stream, relayed to the browser as server-sent events.

Read server-side with the person's own token; each open stream holds one of this process's
stream slots (``StreamSlots``), and a browser refused a slot is told to retry shortly.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

from ..extensions import settings, shared
from ..hub import HubAPIError, HubClient, HubUnreachable
from ..servers.model import open_url_path, server_in, server_of, state_of

log = logging.getLogger(__name__)
BUSY_RETRY_MS = 3000  # when every progress-stream slot is taken, the browser retries after this


def final_state(hub: HubClient, user: str, server: str) -> dict:
    """The last event, when the server is not starting (any more): how it is."""
    current = server_in(hub.get_user(user), server)
    state = state_of(current)
    if state == "running":
        url = server_of(user, server, current, host=settings().hub_host).open_url
        return {"progress": 100, "ready": True, "message": "The server is running.", "url": url}
    return {"progress": 100, "stopped": True, "message": f"The server is {state}."}


def relay(hub: HubClient, user: str, server: str, *, person: str) -> Iterator[str]:
    """The events of ``user``'s ``server`` starting, as ``data:`` lines, until it is up."""
    slots = shared().streams
    refused = slots.acquire(person)
    if refused:
        # every slot of this process is taken, or this person holds their share: the
        # browser asks again shortly (EventSource reconnects after `retry` ms), and pages
        # keep their workers
        log.info("progress stream of %s/%s asked to retry (%s)", user, server, refused)
        event = {"busy": True, "yours": refused == "yours"}
        yield f"retry: {BUSY_RETRY_MS}\ndata: {json.dumps(event)}\n\n"
        return
    try:
        seconds = settings().read_timeout * 20
        for event in hub.progress(user, server, seconds=seconds, keepalive=True):
            if event is None:
                yield ": keep-alive\n\n"  # so that no proxy on the way closes a quiet stream
                continue
            if event.get("ready"):
                event = dict(event, url=open_url_path(event.get("url", ""), settings().hub_host))
            event.pop("html_message", None)  # plain text only: the page shows it as text
            yield f"data: {json.dumps(event)}\n\n"
    except HubAPIError as e:
        if e.status == 404:
            event = {"progress": 100, "stopped": True, "message": "There is no such server."}
            yield f"data: {json.dumps(event)}\n\n"
        elif e.status == 400:  # not starting (any more): say how it is
            yield f"data: {json.dumps(final_state(hub, user, server))}\n\n"
        else:
            event = {"failed": True, "message": f"The hub refused: {e.message}"}
            yield f"data: {json.dumps(event)}\n\n"
    except HubUnreachable as e:
        event = {"failed": True, "message": f"hubdesk lost contact with the hub ({e.reason})."}
        yield f"data: {json.dumps(event)}\n\n"
    finally:
        slots.release(person)
