"""Every audit code hubdesk writes has words for people (hubdesk.audit_words), and the hub's
answers read as words, not HTTP codes.

The codes are found in the source, where records are written: every string ``describe``
(the hub client's changes) can give, and the first argument of every ``.record(...)`` call.
A new code without words fails here; so does a code made in a way this test cannot read
(say how in ``EXPANSIONS``).
"""

from __future__ import annotations

import ast
import itertools
import re
from pathlib import Path

import pytest
from hubdesk import audit_words
from hubdesk.audit import describe
from hubdesk.audit_words import ACTIONS, Link, answer, details, said, say

PACKAGE = Path(__file__).resolve().parents[2] / "app"
CODE = re.compile(r"[a-z]+(\.[a-z-]+)+")
# what each expression inside an f-string code can be
EXPANSIONS = {
    "method.lower()": ("post", "put", "patch", "delete"),
    "due.kind": ("start", "stop"),
    "record.kind": ("start", "stop"),
}


def _strings(node) -> set[str]:
    """The codes an expression can be: a literal, an f-string over EXPANSIONS, or (a name)
    whatever code-shaped literals its function assigns."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return {node.value}
    if isinstance(node, ast.JoinedStr):
        pieces = []
        for part in node.values:
            if isinstance(part, ast.Constant):
                pieces.append((part.value,))
            else:
                expression = ast.unparse(part.value)
                assert expression in EXPANSIONS, f"say what {{{expression}}} can be: EXPANSIONS"
                pieces.append(EXPANSIONS[expression])
        return {"".join(p) for p in itertools.product(*pieces)}
    raise AssertionError(f"an audit code this test cannot read: {ast.unparse(node)}")


def _codes_in(function) -> set[str]:
    found = set()
    for node in ast.walk(function):
        if isinstance(node, ast.Constant | ast.JoinedStr):
            try:
                found |= {s for s in _strings(node) if CODE.fullmatch(s)}
            except AssertionError:
                continue
    return found


def written_codes() -> dict[str, str]:
    """Every audit code the package writes, and where."""
    codes = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        functions = [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)]
        for function in functions:
            where = f"{path.relative_to(PACKAGE)}:{function.name}"
            if path.name == "audit.py" and function.name == "describe":
                codes.update(dict.fromkeys(_codes_in(function), where))
                continue
            for call in ast.walk(function):
                is_record = (
                    isinstance(call, ast.Call)
                    and isinstance(call.func, ast.Attribute)
                    and call.func.attr == "record"
                    and call.args
                )
                if not is_record:
                    continue
                first = call.args[0]
                if isinstance(first, ast.Name):  # chosen above in the function
                    found = _codes_in(function)
                else:
                    found = _strings(first)
                codes.update(dict.fromkeys(found, where))
    return codes


def test_the_source_writes_the_codes_we_know_of():
    codes = written_codes()
    # a sanity check of the finder itself: each way of writing a record is seen
    assert {"group.members.add", "server.remove", "hub.post"} <= set(codes)  # describe
    assert {"lesson.schedule", "lesson.change"} <= set(codes)  # a name chosen above
    assert {"group.stop.cancel", "lesson.start", "group.start.pause"} <= set(codes)


def test_every_code_written_has_words():
    missing = {code: where for code, where in written_codes().items() if code not in ACTIONS}
    assert not missing, f"audit codes without words in hubdesk.audit_words.ACTIONS: {missing}"


@pytest.mark.parametrize("code", sorted(ACTIONS))
def test_every_code_says_a_sentence_of_its_own(code):
    target = {"group": "class-a", "user": "ana", "server": "labs", "users": ["ana"], "count": 1}
    sentence = "".join(map(str, said(code, target)))
    assert sentence and sentence != code and "." not in sentence.replace("…", "")
    assert "".join(map(str, said(code, {})))  # an empty (damaged) target is no error


def test_what_the_hub_client_records_reads_as_a_person_would_say_it():
    def sentence(method, *segments, body=None):
        action, target = describe(method, segments, body)
        return "".join(map(str, said(action, target)))

    assert sentence("POST", "groups", "class-a", "users", body={"users": ["a", "b", "c"]}) == (
        "added 3 members to class-a"
    )
    assert sentence("DELETE", "groups", "class-a", "users", body={"users": ["bo"]}) == (
        "removed bo from class-a"
    )
    assert sentence("POST", "users", "ana", "servers", "labs") == "started “labs” for ana"
    assert sentence("DELETE", "users", "ana", "server") == "stopped the default server of ana"
    assert sentence("DELETE", "users", "ana", "servers", "x", body={"remove": True}) == (
        "removed “x” of ana"
    )
    assert (
        sentence("PATCH", "users", "ana", "servers", "x")
        == "asked the hub: PATCH /users/ana/servers/x"
    )
    assert sentence("POST", "users", "ana") == "created the hub account ana"
    assert sentence("POST", "users", "ana", body={"admin": True}) == (
        "created the hub account ana as a hub admin"
    )
    assert sentence("POST", "users", body={"usernames": ["a", "b"], "admin": True}) == (
        "created 2 hub accounts as hub admins"
    )
    assert sentence("PATCH", "users", "ana", body={"name": "ana2"}) == (
        "renamed the hub account ana to ana2"
    )
    assert sentence("PATCH", "users", "ana", body={"admin": True}) == "made ana a hub admin"
    assert sentence("PATCH", "users", "ana", body={"admin": False}) == (
        "took hub admin away from ana"
    )
    assert sentence("DELETE", "users", "ana") == "deleted the hub account ana"
    parts = said(*describe("POST", ("groups", "class-a", "users"), {"users": ["a"]}))
    assert Link("user", "a") in parts and Link("group", "class-a") in parts


def test_details_are_words_not_json():
    action, target = describe(
        "POST", ("users", "ana", "servers", "labs"), {"profile": "small", "cpu": 2}
    )
    assert details(action, target) == [("Options", "profile small · cpu 2", False)]
    many = {"group": "g", "users": [f"u{n}" for n in range(50)], "count": 120}
    (members,) = details("group.members.add", many)
    assert members[0] == "Members" and members[1].endswith("u49 … and 70 more")
    lesson = {"group": "g", "job": "0" * 16, "due": "2026-12-07T09:00:00+00:00", "late": False}
    assert details("lesson.start", lesson) == [
        ("Group action", Link("job", "0" * 16, "g"), False),
        ("Due", "2026-12-07T09:00:00+00:00", True),
    ]
    assert details("group.create", {"damaged": True}) == [
        ("Damaged", "this record could not be read", False)
    ]


@pytest.mark.parametrize(
    ("hub", "kind", "words"),
    [
        ("204", "done", "done"),
        ("201", "done", "done"),
        ("200", "done", "done"),
        ("202", "under-way", "accepted"),
        ("404 Not Found", "not-found", "not found"),
        ("400 No such user: x", "refused", "refused: No such user: x"),
        ("409", "refused", "refused: the hub said 409"),
        ("503 Service Unavailable", "error", "hub error: Service Unavailable"),
        ("no answer: the connection timed out", "no-answer", "no answer: the connection timed out"),
        (None, "unanswered", "sent; no answer recorded"),
        (
            "refused: ana may no longer start servers",
            "refused",
            "refused: ana may no longer start servers",
        ),
        ("saved", "said", "saved"),
    ],
)
def test_the_hubs_answers_in_words(hub, kind, words):
    assert answer(hub) == (kind, words)


def test_a_change_the_hub_refused_is_said_as_tried():
    target = {"group": "g"}
    assert say("group.create", target, "201").sentence == ["Created the group ", Link("group", "g")]
    refused = say("group.create", target, "409 Group g already exists")
    assert refused.sentence[0] == "Tried to create the group "
    assert refused.answer == "refused: Group g already exists"
    assert say("server.stop", {"user": "a"}, None).sentence[0].startswith("Tried to stop ")
    saved = say("lesson.schedule", target, "saved")
    assert saved.sentence[0] == "Scheduled a lesson of " and not saved.by_hub  # hubdesk's own
    assert refused.by_hub and say("group.create", target, None).by_hub


def test_the_answer_is_a_badge_of_the_shared_tones_then_its_detail():
    refused = say("group.create", {"group": "g"}, "400 No such user: x")
    assert (refused.answer_term.words, refused.answer_term.tone) == ("refused", "warn")
    assert refused.answer_detail == "No such user: x"
    done = say("group.create", {"group": "g"}, "204")
    assert (done.answer_term.words, done.answer_term.tone, done.answer_detail) == (
        "done",
        "good",
        "",
    )
    assert say("server.stop", {}, "503 Service Unavailable").answer_term.tone == "bad"
    assert say("server.stop", {}, None).answer_term.words == "sent; no answer recorded"
    own = say("lesson.start", {}, "job started")
    assert own.answer_term is None and own.answer_detail == "job started"


def test_the_words_module_is_pure():
    """No Flask, no HTTP: the template makes the links."""
    source = Path(audit_words.__file__).read_text(encoding="utf-8")
    assert "flask" not in source and "requests" not in source
