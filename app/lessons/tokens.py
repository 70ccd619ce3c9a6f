"""A person's lesson token: a hub API token of theirs that their lessons' starts run on.

A sign-in (OAuth) token ends 14 days after the sign-in by default, and at sign-out: a
weekly lesson would die with it. So, with the person's own sign-in token (which holds
``tokens!user``: their own tokens only), hubdesk asks the hub for an API token *of that
person*, with no expiry, holding only what a lesson's start needs of their current
scopes. The hub resolves an API token's scopes at every use as the intersection of its
scopes and its owner's *current* roles (``jupyterhub/scopes.py: get_scopes_for``), so a
start never exceeds what the person may do at that moment, and a lost role refuses it.

One per person, renewed at each sign-in (if they own lessons) and whenever they save a
lesson; the one it replaces is revoked. Where the hub refuses (an older configuration
without ``tokens!user``: 403; anything else, e.g. 400), lessons keep running on the sign-in
token, as before, and the pages say until when. (With ``token_expires_in_max_seconds`` the
hub makes the token expire after that: the pages warn a week before, a sign-in renews it.)

A lesson's *stop* needs none of this: it stops what its start started with hubdesk's
own authority (``runs.make_stop``).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from .. import audit, permissions
from ..hub import HubAPIError, HubClient, HubUnreachable
from .store import LessonStore

log = logging.getLogger(__name__)

NOTE = "hubdesk lessons"
# what a lesson's start checks (``runs.make_run``, then each member's item)
START_ACTIONS = ("start_server", "raw_user_options")
# the bases hubdesk keeps of a person's scopes: never tokens, users or groups
START_BASES = frozenset(base for a in START_ACTIONS for base in permissions.ACTIONS[a].scopes)


def start_scopes(scopes) -> list[str]:
    """Of a person's (expanded) scopes, the ones a lesson's start needs, filters kept."""
    return sorted(s for s in set(scopes) if s.partition("!")[0] in START_BASES)


def renew(
    hub: HubClient, lessons: LessonStore, person: str, signin_token: str, scopes
) -> tuple[bool, str]:
    """Make ``person`` a new lesson token with their sign-in token; (made, words).

    ``hub`` is the service's client (``for_token`` acts as the person). Never raises for
    the hub's refusal or absence: lessons then run on the sign-in token, as before.
    """
    wanted = start_scopes(scopes)
    if not wanted:
        return False, "you may not start servers on the hub: no lesson token was made"
    client = hub.for_token(signin_token)
    actor = audit.background_actor.set(person)  # the records name the person, in a request or not
    try:
        try:
            made = client.create_token(person, wanted, note=NOTE, expires_in=None)
        except HubAPIError as e:
            log.warning(
                "the hub refused a lesson token for %s (%s %s): their lessons run on their "
                "sign-in, which ends when it expires or they sign out",
                person,
                e.status,
                e.message,
            )
            why = (
                "hubdesk may not make tokens for you (the hub's configuration lacks tokens!user)"
                if e.status == 403
                else f"the hub refused: {e.message}"
            )
            return False, why
        except HubUnreachable as e:
            log.warning("no lesson token for %s: %s", person, e.reason)
            return False, "the hub could not be reached"
        expires = _epoch(made.get("expires_at"))
        previous = lessons.save_lesson_token(
            person, made["token"], token_id=made.get("id"), scopes=wanted, expires=expires
        )
        if previous:
            try:
                client.revoke_token(person, previous)
            except HubAPIError as e:
                if e.status != 404:  # 404: gone already
                    log.warning("could not revoke %s's previous lesson token: %s", person, e)
            except HubUnreachable as e:
                log.warning("could not revoke %s's previous lesson token: %s", person, e.reason)
        log.info("%s's lessons run on a new lesson token (%s)", person, ", ".join(wanted))
        return True, ""
    finally:
        audit.background_actor.reset(actor)


def at_sign_in(hub: HubClient, lessons: LessonStore, person: str, signin_token: str, scopes):
    """At each sign-in: renew the lesson token of someone who owns lessons; revoke (and
    forget) the one of someone who no longer does, rather than keep a token nobody uses."""
    if lessons.owns_lessons(person):
        renew(hub, lessons, person, signin_token, scopes)
        return
    kept = lessons.lesson_token(person)
    if kept is None:
        return
    actor = audit.background_actor.set(person)
    try:
        if kept.token_id:
            hub.for_token(signin_token).revoke_token(person, kept.token_id)
    except HubAPIError as e:
        if e.status != 404:
            log.warning("could not revoke %s's unused lesson token: %s", person, e)
            return
    except HubUnreachable as e:
        log.warning("could not revoke %s's unused lesson token: %s", person, e.reason)
        return
    finally:
        audit.background_actor.reset(actor)
    lessons.forget_lesson_token(person, kept.token_id)
    log.info("%s owns no lessons any more: their lesson token is revoked", person)


def _epoch(stamp) -> float | None:
    """The hub's ISO 8601 time (``2026-12-20T10:00:00.123456Z``) as epoch seconds."""
    if not stamp:
        return None
    try:
        when = datetime.fromisoformat(str(stamp).replace("Z", "+00:00"))
    except ValueError:
        return None
    return (when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp()
