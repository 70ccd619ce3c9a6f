"""Lists of user names that staff paste or upload to manage group membership.

Pure logic, no Flask and no HTTP: reading a pasted list or a CSV upload into
names, checking a group name before it is sent to the hub, cutting big changes
into parts, and working out what syncing a group to a roster would change.
Names are kept exactly as given (no lowercasing, no unquoting): the hub decides
what a name means, and the templates escape whatever they show.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

MAX_NAMES = 20_000
MAX_GROUP_NAME = 255

# commas, semicolons and any whitespace (non-breaking spaces from a web page too)
_SEPARATORS = re.compile(r"[\s,;]+")
_HEADER = "username"
# in the order of preference
_DELIMITERS = ",;\t"
_BOM = "\ufeff"
# the sniffer is slow on big input and a sample is enough to see the delimiter
_SNIFF_CHARS = 16_384


class NamesError(ValueError):
    """The input cannot be read as a list of names; the message says why, in words for a person."""


def _unique(names: Iterable[str], too_many: str) -> list[str]:
    """Names in first-seen order without duplicates; NamesError(too_many) past MAX_NAMES."""
    seen: dict[str, None] = {}
    for name in names:
        seen[name] = None
        # stop early so a huge list costs no more than MAX_NAMES + 1 entries
        if len(seen) > MAX_NAMES:
            raise NamesError(too_many)
    return list(seen)


def _too_many(what: str) -> str:
    return f"{what} more than {MAX_NAMES:,} names; split it into smaller lists."


def parse_names(text: str) -> list[str]:
    """Names separated by newlines, commas, semicolons, tabs or spaces.

    Order is kept, duplicates are dropped (the first one stays) and blanks are
    skipped. Any other character is part of a name. More than ``MAX_NAMES``
    different names raise :class:`NamesError`.
    """
    tokens = (token for token in _SEPARATORS.split(text) if token)
    return _unique(tokens, _too_many("The list has"))


def _decode(data: bytes) -> str:
    """UTF-8 text with any BOM removed, or NamesError saying where it stops being UTF-8."""
    try:
        # decode with "utf-8" (not "utf-8-sig") so error offsets count from the file's first byte
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise NamesError(
            f"The file is not UTF-8 text (line {line}, byte {exc.start + 1}). "
            "Save it as “CSV UTF-8” and upload it again."
        ) from None
    text = text.removeprefix(_BOM)
    if "\x00" in text:
        # UTF-16 files and spreadsheets decode as "UTF-8" full of NULs
        raise NamesError(
            "The file contains NUL characters, so it is not a plain text CSV. "
            "Save it as “CSV UTF-8” and upload it again."
        )
    return text


def _delimiter(text: str) -> str:
    """Comma, semicolon or tab as sniffed, else the first of them in the file, else comma."""
    sample = text[:_SNIFF_CHARS]
    if len(text) > _SNIFF_CHARS:
        # a row cut in half would look inconsistent to the sniffer
        end = max(sample.rfind("\n"), sample.rfind("\r"))
        if end > 0:
            sample = sample[:end]
    try:
        return csv.Sniffer().sniff(sample, delimiters=_DELIMITERS).delimiter
    except csv.Error:
        # one column has no delimiter to find; but a stray ";" or tab should split, not join, a name
        return next((char for char in _DELIMITERS if char in sample), ",")


def _rows(text: str) -> list[list[str]]:
    """The file's rows with stripped cells, blank rows left out."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(text))
    try:
        rows = [[cell.strip() for cell in row] for row in reader]
    except csv.Error as exc:
        raise NamesError(
            f"The file cannot be read as CSV (line {reader.line_num}: {exc})."
        ) from None
    return [row for row in rows if any(row)]


def _header_column(row: list[str]) -> int | None:
    """Where the ``username`` cell is in a row, or None."""
    for index, cell in enumerate(row):
        if cell.casefold() == _HEADER:
            return index
    return None


def parse_csv(data: bytes) -> list[str]:
    """The names in an uploaded CSV file.

    The file is UTF-8 (a BOM is fine) with comma, semicolon or tab delimiters;
    when the sniffer cannot tell, the first of them found in the file is used
    (so a stray tab splits a row rather than ends up inside a name), else comma.
    If a cell of the first non-blank row is ``username`` (any case), that row
    is a header and the names are that column, rows without a value there being
    skipped. Otherwise every row must have a single non-empty cell, which is a
    name (the first row too). Cells are stripped, duplicates dropped and blank
    rows skipped; an empty file gives ``[]``. Raises :class:`NamesError` for
    text that is not UTF-8, NUL characters, several columns without a
    ``username`` header, or more than ``MAX_NAMES`` names.
    """
    rows = _rows(_decode(data))
    if not rows:
        return []
    too_many = _too_many("The file has")
    column = _header_column(rows[0])
    if column is not None:
        cells = (row[column] for row in rows[1:] if column < len(row))
        return _unique((cell for cell in cells if cell), too_many)
    names = []
    for row in rows:
        filled = [cell for cell in row if cell]
        if len(filled) > 1:
            raise NamesError("The CSV has several columns but none is headed “username”.")
        names.append(filled[0])
    return _unique(names, too_many)


def names_from(text: str = "", upload: bytes | None = None) -> list[str]:
    """Names from pasted text and an uploaded CSV together: the text's first, then the file's.

    Duplicates across the two are dropped. Raises :class:`NamesError` when
    either cannot be read or when together they have more than ``MAX_NAMES``.
    """
    names = parse_names(text)
    if upload:
        names += parse_csv(upload)
    return _unique(names, _too_many("Together, the pasted list and the file have"))


def check_group_name(name: str) -> str:
    """A JupyterHub group name without surrounding whitespace, or :class:`NamesError`.

    The name must not be empty, must not contain ``/`` or control characters,
    and can have at most ``MAX_GROUP_NAME`` characters (characters, not bytes).
    """
    # ASCII blanks around a pasted name go; other control characters are refused, not stripped
    if any(unicodedata.category(char) == "Cc" for char in name.strip(" \t\r\n")):
        raise NamesError("A group name cannot contain control characters.")
    name = name.strip()
    if not name:
        raise NamesError("A group name cannot be empty.")
    if name in (".", ".."):
        raise NamesError(
            f"A group cannot be called “{name}”: web addresses read it as a step in the path."
        )
    if "/" in name:
        raise NamesError("A group name cannot contain “/”.")
    if len(name) > MAX_GROUP_NAME:
        raise NamesError(
            f"A group name can be at most {MAX_GROUP_NAME} characters (this one has {len(name)})."
        )
    return name


SERVER_NAME_RULES = (
    "1–30 characters: lowercase letters, digits and single hyphens, "
    "starting with a letter and ending with a letter or digit"
)
_SERVER_NAME = re.compile(r"[a-z](?:[a-z0-9]|-(?=[a-z0-9])){0,29}")


def check_server_name(name: str, *, hub_major: int = 6) -> str:
    """A named server's name as the hub will take it, or :class:`NamesError`.

    JupyterHub 6 takes only "safe slugs" for new servers (``SERVER_NAME_RULES``);
    5.x took anything without ``/``.
    """
    name = name.strip()
    if not name:
        raise NamesError("A server name cannot be empty.")
    if len(name) > 255:
        raise NamesError(f"A server name has at most 255 characters, not {len(name):,}.")
    if hub_major >= 6:
        if not _SERVER_NAME.fullmatch(name):
            raise NamesError(f"“{name}” is not a valid server name: use {SERVER_NAME_RULES}.")
    elif "/" in name or any(unicodedata.category(char) == "Cc" for char in name):
        raise NamesError("A server name cannot contain “/” or control characters.")
    elif name in (".", ".."):
        # 5.x takes them, and every link to such a server then means another page
        raise NamesError(f"“{name}” cannot be a server name: links to it would not work.")
    return name


def chunks(items: list, size: int) -> list[list]:
    """Consecutive parts of at most ``size`` items, for sending big membership changes in parts."""
    if size < 1:
        raise ValueError(f"chunk size must be at least 1, not {size}")
    return [items[start : start + size] for start in range(0, len(items), size)]


@dataclass(frozen=True)
class RosterDiff:
    """What syncing a group to a roster would change."""

    to_add: list[str]  # in the roster, existing users, not members yet (roster order)
    to_remove: list[str]  # members not in the roster (sorted)
    unchanged: list[str]  # in the roster and already members (roster order)
    unknown: list[str]  # in the roster but no such user on the hub (roster order)


def roster_diff(roster: list[str], members: list[str], existing: set[str]) -> RosterDiff:
    """What syncing a group to ``roster`` would change, given its current ``members``.

    ``existing`` holds the roster names that are users on the hub. A member is
    never unknown, even if missing from ``existing``: being a member, it exists.
    """
    wanted = list(dict.fromkeys(roster))
    current = set(members)
    listed = set(wanted)
    return RosterDiff(
        to_add=[name for name in wanted if name not in current and name in existing],
        to_remove=sorted(current - listed),
        unchanged=[name for name in wanted if name in current],
        unknown=[name for name in wanted if name not in current and name not in existing],
    )
