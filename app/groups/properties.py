"""A group's properties as a person edits them (pure logic): rows of text or JSON values,
what changed, and a digest that tells whether someone else changed them meanwhile."""

from __future__ import annotations

import hashlib
import json

from .. import jsontext
from ..jsontext import JSONTextError


def shown(value) -> str:
    """A property value as a person reads it: text as it is, anything else as JSON."""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def digest(properties: dict) -> str:
    canonical = json.dumps(properties, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def rows_of(properties: dict, extra: int = 3) -> list[dict]:
    rows = []
    for key, value in properties.items():
        if isinstance(value, str):
            rows.append({"key": key, "kind": "text", "value": value})
        else:
            rows.append(
                {"key": key, "kind": "json", "value": json.dumps(value, ensure_ascii=False)}
            )
    return rows + [{"key": "", "kind": "text", "value": ""} for _ in range(extra)]


def parse_rows(keys, kinds, values) -> tuple[dict, list[str]]:
    """The properties a person typed: each value is text, or JSON when marked so."""
    properties, errors = {}, []
    for key, kind, value in zip(keys, kinds, values, strict=False):
        key = key.strip()
        if not key:
            if value.strip():
                errors.append(f"The value “{value[:40]}” has no key.")
            continue
        if key in properties:
            errors.append(f"The key “{key}” appears twice.")
            continue
        if kind == "json":
            try:
                properties[key] = jsontext.loads(value)
            except JSONTextError as e:
                errors.append(
                    f"The value of “{key}” is not valid JSON ({e}). For plain text, choose “text”."
                )
        else:
            properties[key] = value
    return properties, errors


def property_changes(old: dict, new: dict) -> list[tuple[str, str, str | None, str | None]]:
    """(key, what, old JSON, new JSON) for every key that differs."""
    changes = []
    for key in sorted(old.keys() | new.keys()):
        before = json.dumps(old[key], ensure_ascii=False) if key in old else None
        after = json.dumps(new[key], ensure_ascii=False) if key in new else None
        if key not in new:
            changes.append((key, "removed", before, None))
        elif key not in old:
            changes.append((key, "added", None, after))
        elif old[key] != new[key] or type(old[key]) is not type(new[key]):
            changes.append((key, "changed", before, after))
    return changes
