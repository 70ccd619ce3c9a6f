"""Lists of names that staff paste or upload, and group names (no hub, no Flask)."""

from __future__ import annotations

import pytest
from hubdesk.names import (
    MAX_GROUP_NAME,
    MAX_NAMES,
    NamesError,
    RosterDiff,
    check_group_name,
    check_server_name,
    chunks,
    names_from,
    parse_csv,
    parse_names,
    roster_diff,
)

TOO_MANY = r"20,000|20000"


def many(count: int, separator: str = "\n") -> str:
    """``count`` different names, one after the other."""
    return separator.join(f"user{number}" for number in range(count))


# pasted lists


@pytest.mark.parametrize(
    "text",
    [
        "alice\nbob\ncarol",
        "alice\r\nbob\r\ncarol\r\n",
        "alice,bob,carol",
        "alice;bob;carol",
        "alice\tbob\tcarol",
        "alice bob carol",
        "alice, bob; carol",
        "  alice ,\n\tbob ;; carol\n\n",
        "alice\u00a0bob\u00a0carol",  # non-breaking spaces, pasted from a web page
    ],
)
def test_every_separator_and_any_mixture_splits_names(text):
    assert parse_names(text) == ["alice", "bob", "carol"]


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("carol alice bob", ["carol", "alice", "bob"]),
        ("bob alice bob carol alice", ["bob", "alice", "carol"]),
        ("Alice alice ALICE", ["Alice", "alice", "ALICE"]),
    ],
)
def test_order_is_kept_and_the_first_of_duplicates_stays(text, names):
    assert parse_names(text) == names


@pytest.mark.parametrize("text", ["", "   ", "\n\n", ",;,\t;", " , \n ; "])
def test_blanks_give_no_names(text):
    assert parse_names(text) == []


@pytest.mark.parametrize(
    "name",
    ["José", "Zoë", "Łukasz", "Müller", "佐藤", "Иван", "أحمد", "o'brien", '"quoted"', "<script>"],
)
def test_any_other_character_is_part_of_a_name(name):
    assert parse_names(f"alice\n{name}\nbob") == ["alice", name, "bob"]


def test_a_list_can_have_max_names_but_not_one_more():
    assert len(parse_names(many(MAX_NAMES))) == MAX_NAMES
    with pytest.raises(NamesError, match=TOO_MANY):
        parse_names(many(MAX_NAMES + 1))


def test_duplicates_do_not_count_towards_the_limit():
    assert len(parse_names(many(MAX_NAMES) + "\nuser0\nuser1")) == MAX_NAMES


# CSV uploads


@pytest.mark.parametrize(
    "data",
    [
        b"alice\nbob\n",
        b"alice\r\nbob\r\n",
        b"\xef\xbb\xbfalice\nbob\n",
        b"  alice  \n\n\nbob\n",
        b'"alice"\n"bob"\n',
        b"alice,\nbob,\n",
        b"alice\nbob\nalice\n",
    ],
)
def test_a_one_column_file_has_a_name_on_each_row(data):
    assert parse_csv(data) == ["alice", "bob"]


@pytest.mark.parametrize(
    "data",
    [
        b"email,Username,first\na@x.org,alice,Alice\nb@x.org,bob,Bob\n",
        b"email;Username;first\na@x.org;alice;Alice\nb@x.org;bob;Bob\n",
        b"email\tUsername\tfirst\na@x.org\talice\tAlice\nb@x.org\tbob\tBob\n",
        b"\xef\xbb\xbfemail,USERNAME ,first\r\na@x.org,alice,Alice\r\nb@x.org,bob,Bob\r\n",
        b"username\nalice\nbob\n",
        b"email,username\na@x.org,alice\nc@x.org,\nd@x.org\n\nb@x.org,bob\ne@x.org,alice\n",
    ],
)
def test_a_username_column_is_found_among_others(data):
    assert parse_csv(data) == ["alice", "bob"]


def test_unicode_names_survive_an_upload_with_a_bom():
    data = "\ufeffusername;first\nJosé;José\n佐藤;Sato\n".encode()
    assert parse_csv(data) == ["José", "佐藤"]


@pytest.mark.parametrize(
    "data", [b"", b"\xef\xbb\xbf", b"\n\n", b" , \n,,\n", b";;\n\t\n", b"username\n"]
)
def test_an_empty_file_gives_no_names(data):
    assert parse_csv(data) == []


@pytest.mark.parametrize(
    "data",
    [
        b"alice,Alice\nbob,Bob\n",
        b"email;first\na@x.org;Alice\n",
        b"alice\nbob\tBob\n",
    ],
)
def test_several_columns_without_a_username_header_are_refused(data):
    with pytest.raises(NamesError, match="several columns but none is headed “username”"):
        parse_csv(data)


@pytest.mark.parametrize(
    ("data", "where"),
    [
        (b"alice\n\xffbob\n", "line 2, byte 7"),
        ("alice\nJosé\n".encode("latin-1"), "line 2, byte 10"),
        ("username\nalice\n".encode("utf-16"), "line 1, byte 1"),
    ],
)
def test_text_that_is_not_utf8_is_refused_saying_where(data, where):
    with pytest.raises(NamesError, match=f"not UTF-8 text \\({where}\\)"):
        parse_csv(data)


@pytest.mark.parametrize("data", [b"alice\x00\nbob\n", "alice\n".encode("utf-16-le")])
def test_nul_characters_are_refused(data):
    with pytest.raises(NamesError, match="NUL"):
        parse_csv(data)


@pytest.mark.parametrize(
    "data",
    [
        many(MAX_NAMES + 1),
        "username\n" + many(MAX_NAMES + 1),
        "email;username\n" + "\n".join(f"u{n}@x.org;user{n}" for n in range(MAX_NAMES + 1)),
    ],
    ids=["one column", "username header", "among other columns"],
)
def test_a_file_with_too_many_names_is_refused(data):
    with pytest.raises(NamesError, match=TOO_MANY):
        parse_csv(data.encode())


# pasted and uploaded together


@pytest.mark.parametrize(
    ("text", "upload", "names"),
    [
        ("", None, []),
        ("alice bob", None, ["alice", "bob"]),
        ("", b"carol\nalice\n", ["carol", "alice"]),
        ("alice bob", b"carol\nalice\n", ["alice", "bob", "carol"]),
        ("alice", b"username,email\nbob,b@x.org\n", ["alice", "bob"]),
        ("alice", b"", ["alice"]),
    ],
)
def test_the_pasted_names_come_first_then_the_files(text, upload, names):
    assert names_from(text, upload) == names


def test_errors_in_the_upload_are_raised():
    with pytest.raises(NamesError, match="several columns"):
        names_from("alice", b"bob,Bob\n")


def test_together_they_can_be_too_many_even_if_neither_is():
    half = MAX_NAMES // 2 + 1
    text = many(half)
    upload = "\n".join(f"other{number}" for number in range(half)).encode()
    with pytest.raises(NamesError, match=TOO_MANY):
        names_from(text, upload)


def test_the_same_names_in_both_do_not_count_twice():
    assert len(names_from(many(MAX_NAMES), many(MAX_NAMES).encode())) == MAX_NAMES


# group names


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("class-a", "class-a"),
        ("  class a  ", "class a"),
        ("\tclass a\n", "class a"),
        ("Physics 101 (2024)", "Physics 101 (2024)"),
        ("what?", "what?"),
        ("#1", "#1"),
        ("100%", "100%"),
        ("<script>alert(1)", "<script>alert(1)"),
        ("é" * MAX_GROUP_NAME, "é" * MAX_GROUP_NAME),
    ],
)
def test_a_group_name_is_stripped_and_kept(given, kept):
    assert check_group_name(given) == kept


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("", "A group name cannot be empty."),
        ("   ", "A group name cannot be empty."),
        ("\n", "A group name cannot be empty."),
        ("a/b", "A group name cannot contain “/”."),
        ("/", "A group name cannot contain “/”."),
        ("class\na", "A group name cannot contain control characters."),
        ("class\x00a", "A group name cannot contain control characters."),
        ("é" * 256, "A group name can be at most 255 characters (this one has 256)."),
        ("x" * 300, "A group name can be at most 255 characters (this one has 300)."),
        ("\x85a", "A group name cannot contain control characters."),
        ("a\x1f", "A group name cannot contain control characters."),
        (".", "A group cannot be called “.”: web addresses read it as a step in the path."),
        (" .. ", "A group cannot be called “..”: web addresses read it as a step in the path."),
    ],
)
def test_a_bad_group_name_is_refused_saying_why(name, message):
    with pytest.raises(NamesError) as caught:
        check_group_name(name)
    assert str(caught.value) == message


# chunks


@pytest.mark.parametrize(
    ("items", "size", "parts"),
    [
        ([1, 2, 3, 4], 2, [[1, 2], [3, 4]]),
        ([1, 2, 3, 4, 5], 2, [[1, 2], [3, 4], [5]]),
        ([1, 2], 5, [[1, 2]]),
        ([], 3, []),
        (["a", "b", "c"], 1, [["a"], ["b"], ["c"]]),
    ],
)
def test_chunks_are_consecutive_and_at_most_size(items, size, parts):
    assert chunks(items, size) == parts


@pytest.mark.parametrize("size", [0, -1])
def test_a_chunk_has_at_least_one_item(size):
    with pytest.raises(ValueError, match="at least 1"):
        chunks([1, 2], size)


# syncing a group to a roster


def test_a_roster_sorts_names_into_add_remove_unchanged_and_unknown():
    diff = roster_diff(
        roster=["dan", "bob", "ghost", "alice", "eve"],
        members=["carol", "bob", "alice", "zed"],
        existing={"dan", "bob", "alice", "eve"},
    )
    assert diff == RosterDiff(
        to_add=["dan", "eve"],
        to_remove=["carol", "zed"],
        unchanged=["bob", "alice"],
        unknown=["ghost"],
    )


def test_a_member_missing_from_existing_is_still_a_member():
    diff = roster_diff(roster=["alice"], members=["alice"], existing=set())
    assert diff == RosterDiff(to_add=[], to_remove=[], unchanged=["alice"], unknown=[])


@pytest.mark.parametrize(
    ("roster", "members", "diff"),
    [
        ([], [], RosterDiff([], [], [], [])),
        ([], ["bob", "alice"], RosterDiff([], ["alice", "bob"], [], [])),
        (["bob", "alice"], [], RosterDiff(["bob", "alice"], [], [], [])),
        (["bob", "alice", "bob"], ["alice"], RosterDiff(["bob"], [], ["alice"], [])),
        (["Alice"], ["alice"], RosterDiff(["Alice"], ["alice"], [], [])),
    ],
)
def test_roster_order_is_kept_and_nothing_is_counted_twice(roster, members, diff):
    assert roster_diff(roster, members, existing={"alice", "bob", "Alice"}) == diff


@pytest.mark.parametrize("hub_major", [5, 6])
@pytest.mark.parametrize("name", [".", "..", " .. "])
def test_dot_and_dot_dot_are_no_server_names_on_any_hub(name, hub_major):
    with pytest.raises(NamesError, match="cannot be a server name|not a valid server name"):
        check_server_name(name, hub_major=hub_major)


def test_jupyterhub_5_keeps_its_wider_server_names():
    assert check_server_name("My Lab.v2", hub_major=5) == "My Lab.v2"


def test_a_server_name_longer_than_the_hubs_column_is_refused_on_5x_too():
    with pytest.raises(NamesError, match="at most 255"):
        check_server_name("x" * 70_000, hub_major=5)
