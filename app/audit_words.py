"""Audit records in words, for people: what was done, and what the hub answered.

The audit trail keeps dotted codes (``group.members.add``) and the hub's raw answer
(``204``, ``400 No such user: x``): exact, and what filters, logs and exports go by. The
Activity page says them as a person would: "added 3 members to class-a", "done",
"refused: No such user: x". Every code hubdesk writes has its words here, in ``ACTIONS``
(``tests/unit/test_audit_words.py`` finds every code the package writes and fails for one
without words); a code from elsewhere (an older version's) is shown as it is.

Pure logic: a sentence is a list of parts, each text or a :class:`Link` to a group, a user
or a group action, which the template turns into links (and escapes).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from .states import Term
from .words import plural, server_words

# every action code hubdesk writes, with what it does in a few words (the filter's choices)
ACTIONS: dict[str, str] = {
    "group.create": "create a group",
    "group.delete": "delete a group",
    "group.members.add": "add members to a group",
    "group.members.remove": "remove members from a group",
    "group.properties.set": "set a group's properties",
    "users.create": "create hub accounts",
    "user.rename": "rename a hub account",
    "user.admin.grant": "make someone a hub admin",
    "user.admin.revoke": "take hub admin away",
    "user.delete": "delete a hub account",
    "token.create": "make an API token (for lessons)",
    "token.revoke": "revoke an API token",
    "server.start": "start a server",
    "server.stop": "stop a server",
    "server.remove": "remove a server",
    "group.start.pause": "pause a group start",
    "group.start.resume": "resume a group start",
    "group.stop.resume": "resume a group stop",
    "group.start.cancel": "cancel a group start",
    "group.stop.cancel": "cancel a group stop",
    "lesson.schedule": "schedule a lesson",
    "lesson.change": "change a lesson",
    "lesson.cancel": "cancel a lesson",
    "lesson.start": "a lesson's start",
    "lesson.stop": "a lesson's stop",
    # any other call that changes something (none today): its method and path
    "hub.post": "another change asked of the hub (POST)",
    "hub.put": "another change asked of the hub (PUT)",
    "hub.patch": "another change asked of the hub (PATCH)",
    "hub.delete": "another change asked of the hub (DELETE)",
}

# the parts of a target that the sentence says (the rest are details)
SAID = frozenset({"group", "user", "server", "count", "path", "new_name", "admin"})


@dataclass(frozen=True)
class Link:
    """A name in a sentence that the page links: ``kind`` is "group", "user" or "job"."""

    kind: str
    name: str
    group: str = ""  # a job's group (its page is under the group's)

    def __str__(self) -> str:
        return self.name


Part = str | Link


def _who(target: dict) -> list[Part]:
    """The users a record names: one by name, several as a count."""
    users, count = target.get("users") or [], target.get("count", 0)
    if count == 1 and users:
        return [Link("user", str(users[0]))]
    return [plural(count or len(users), "member")]


def said(action: str, target: dict) -> list[Part]:
    """What the record's change did, as a sentence's parts (lower case: the page capitalises)."""
    t = target if isinstance(target, dict) else {}
    group = Link("group", str(t.get("group") or ""))
    user = Link("user", str(t.get("user") or ""))
    server = server_words(str(t.get("server") or ""))
    match action:
        case "group.create":
            return ["created the group ", group]
        case "group.delete":
            return ["deleted the group ", group]
        case "group.members.add":
            return ["added ", *_who(t), " to ", group]
        case "group.members.remove":
            return ["removed ", *_who(t), " from ", group]
        case "group.properties.set":
            return ["set the properties of ", group]
        case "users.create":
            admins = [" as hub admins" if t.get("count") != 1 else " as a hub admin"]
            tail = admins if t.get("admin") else []
            if t.get("count") == 1 and t.get("users"):
                return ["created the hub account ", Link("user", str(t["users"][0])), *tail]
            return [f"created {plural(t.get('count', 0), 'hub account')}", *tail]
        case "user.rename":
            # the old name is no one's now: said, not linked
            new = Link("user", str(t.get("new_name") or ""))
            return [f"renamed the hub account {t.get('user') or ''} to ", new]
        case "user.admin.grant":
            return ["made ", user, " a hub admin"]
        case "user.admin.revoke":
            return ["took hub admin away from ", user]
        case "user.delete":
            return [f"deleted the hub account {t.get('user') or ''}"]
        case "token.create":
            return ["made an API token for ", user]
        case "token.revoke":
            return ["revoked an API token of ", user]
        case "server.start":
            return [f"started {server} for ", user]
        case "server.stop":
            return [f"stopped {server} of ", user]
        case "server.remove":
            return [f"removed {server} of ", user]
        case "lesson.schedule" | "lesson.change" | "lesson.cancel":
            verb = {"schedule": "scheduled", "change": "changed", "cancel": "cancelled"}
            return [f"{verb[action.rpartition('.')[2]]} a lesson of ", group, f" ({server})"]
        case "lesson.start":
            return [f"started {server} for the members of ", group, " for a lesson"]
        case "lesson.stop":
            return [f"stopped {server} of ", *_who(t), " of ", group, " at a lesson's end"]
        case "group.start.pause":
            return [f"paused starting {server} for ", group]
        case _ if action.startswith("group.") and action.count(".") == 2:
            _, kind, verb = action.split(".")
            verbs = {"cancel": "cancelled", "resume": "resumed"}
            doing = {"start": "starting", "stop": "stopping"}
            if verb in verbs and kind in doing:
                return [f"{verbs[verb]} {doing[kind]} {server} for ", group]
        case _ if action.startswith("hub."):
            method = action.partition(".")[2].upper()
            return [f"asked the hub: {method} {t.get('path', '')}"]
    return [action]


def details(action: str, target: dict) -> list[tuple[str, str | Link, bool]]:
    """The record's other facts, in words: (label, value, whether the value is a time)."""
    t = target if isinstance(target, dict) else {}
    found: list[tuple[str, str | Link, bool]] = []
    users, count = t.get("users") or [], t.get("count", 0)
    if users and count != 1:  # one is named in the sentence
        more = f" … and {count - len(users):,} more" if count > len(users) else ""
        label = "Names" if action == "users.create" else "Members"
        found.append((label, ", ".join(map(str, users)) + more, False))
    for key, value in t.items():
        if key in SAID or key == "users":
            continue
        if key == "job" and value:
            label = "Group action" if t.get("group") else "Job"
            found.append((label, Link("job", str(value), str(t.get("group") or "")), False))
        elif key == "due":
            found.append(("Due", str(value), True))
        elif key == "late":
            if value:
                found.append(("Late", "yes: made when hubdesk was back", False))
        elif key == "user_options":
            found.append(("Options", _options(value), False))
        elif key == "truncated":
            found.append(("Shortened", "part of this record was too large to keep", False))
        elif key == "damaged":
            found.append(("Damaged", "this record could not be read", False))
        elif value not in (None, "", [], {}):
            found.append((LABELS.get(key, key.replace("_", " ").capitalize()), _text(value), False))
    return found


LABELS = {
    "keys": "Keys",
    "display_name": "Display name",
    "scopes": "Scopes",
    "note": "Note",
    "token_id": "Token",
    "lesson": "Lesson",
    "when": "When",
    "authority": "Stopped with",
    "size": "Size",
    "start": "Start",
}


def _text(value) -> str:
    if isinstance(value, list):
        return ", ".join(_text(v) for v in value)
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def _options(options) -> str:
    """user_options as "profile small · cpu 2" (values that are not text as compact JSON)."""
    if not isinstance(options, dict):
        return _text(options)
    if not options:
        return "none (the defaults)"
    return " · ".join(f"{k} {_text(v)}" for k, v in options.items())


ANSWER = re.compile(r"(\d{3})(?: (.*))?", re.S)


def answer(hub: str | None) -> tuple[str, str]:
    """The hub's answer (or hubdesk's own outcome) in words: (kind, words).

    ``kind`` is one of "done", "under-way", "refused", "not-found", "error", "no-answer",
    "unanswered" (sent; no answer recorded) or "said" (hubdesk's own words, shown as they are).
    """
    if hub is None:
        return "unanswered", "sent; no answer recorded"
    found = ANSWER.fullmatch(hub.strip())
    if found is None:
        if hub.startswith("no answer: "):
            return "no-answer", f"no answer: {hub.removeprefix('no answer: ')}"
        if hub.startswith("refused: "):
            return "refused", hub
        return "said", hub
    status, message = int(found[1]), (found[2] or "").strip()
    if status == 202:
        return "under-way", "accepted"
    if 200 <= status < 300:
        return "done", "done"
    if status == 404:
        return "not-found", "not found"
    if 400 <= status < 500:
        return "refused", f"refused: {message or f'the hub said {status}'}"
    return "error", f"hub error: {message or status}"


@dataclass(frozen=True)
class Said:
    """One audit record as the Activity page says it."""

    sentence: list[Part]  # capitalised
    details: list[tuple[str, str | Link, bool]]
    answer_kind: str
    answer: str
    by_hub: bool = True  # the hub's answer; False: hubdesk's own outcome (a lesson saved)

    @property
    def answer_term(self) -> Term | None:
        """The answer's first words as a term of the shared vocabulary's tones (a badge), the
        rest in :attr:`answer_detail`; None for hubdesk's own words, shown as they are."""
        tone = ANSWER_TONES.get(self.answer_kind)
        if tone is None:
            return None
        return Term(self.answer_kind, self.answer.partition(": ")[0], tone)

    @property
    def answer_detail(self) -> str:
        return self.answer.partition(": ")[2] if self.answer_term else self.answer


# each kind of answer's tone (hubdesk.states.TONES): done is good, under way busy, a change not
# made (or not known to be) is to look at, a hub error failed
ANSWER_TONES = {
    "done": "good",
    "under-way": "busy",
    "refused": "warn",
    "not-found": "warn",
    "no-answer": "warn",
    "unanswered": "warn",
    "error": "bad",
}


# a sentence's first word, for a change that may not have been made ("tried to create …")
BASE = {
    "created": "create",
    "added": "add",
    "removed": "remove",
    "made": "make",
    "revoked": "revoke",
    "started": "start",
    "stopped": "stop",
    "asked": "ask",
}
MADE = frozenset({"done", "under-way", "said"})  # answers that say the change was made


def say(action: str, target: dict, hub: str | None) -> Said:
    """A record in words: its sentence, its details and the hub's answer.

    A change the hub refused, or may not have made, is said as tried ("Tried to create the
    group g"), so that the sentence never claims what the answer denies.
    """
    kind, words = answer(hub)
    sentence = said(action, target)
    first = sentence[0]
    if isinstance(first, str) and first:
        verb, space, rest = first.partition(" ")
        if kind not in MADE and verb in BASE:
            first = f"tried to {BASE[verb]}{space}{rest}"
        sentence = [first[0].upper() + first[1:], *sentence[1:]]
    by_hub = hub is None or bool(ANSWER.fullmatch(hub.strip())) or hub.startswith("no answer: ")
    return Said(sentence, details(action, target), kind, words, by_hub)
