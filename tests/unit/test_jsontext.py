"""The one JSON reader for what people type and forms carry back (plain unit tests)."""

from __future__ import annotations

import json

import pytest
from hubdesk.jsontext import JSONTextError, loads


@pytest.mark.parametrize(
    "text",
    ['{"a": [1, 2.5, "x", null, true]}', "[]", '"text"', "0", "-1e308", '"é\\u00e9"'],
)
def test_json_is_read_as_json(text):
    assert loads(text) == json.loads(text)


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("NaN", "NaN is not a JSON value"),
        ('{"a": Infinity}', "Infinity is not a JSON value"),
        ("[-Infinity]", "-Infinity is not a JSON value"),
        ("1e309", "the number 1e309 is too large"),
        ("1" * 5000, "a number in it is too long"),
        ("[" * 100_000, "it is nested too deeply"),
        ('"\\ud800"', "it has a broken \\u escape (a lone surrogate)"),
        ('{"a": 1', "Expecting ',' delimiter at character 8"),
        ("", "Expecting value at character 1"),
    ],
)
def test_what_no_json_can_carry_is_refused_in_words(text, why):
    with pytest.raises(JSONTextError) as caught:
        loads(text)
    assert str(caught.value) == why
    assert isinstance(caught.value, ValueError)  # callers may still catch ValueError


@pytest.mark.parametrize(
    ("text", "hint"),
    [
        ("['lab', 'intro']", 'JSON needs double quotes ("lab"), not single quotes'),
        ("{'profile': 'small'}", 'JSON needs double quotes ("profile"), not single quotes'),
        ("{\"image\": 'lab'}", 'JSON needs double quotes ("lab"), not single quotes'),
        ("[1, 2,]", "JSON allows no comma before the closing ]"),
        ('{"a": 1, }', "JSON allows no comma before the closing }"),
        ('{"gpu": True}', "JSON writes true, false and null in lower case (true, not True)"),
        ("[False]", "JSON writes true, false and null in lower case (false, not False)"),
        ('{"a": None}', "JSON writes true, false and null in lower case (null, not None)"),
        ('{"a": 1', ""),  # no hint where none fits
        ('{"a": Nonesuch}', ""),
        ("[1 2]", ""),
    ],
)
def test_the_common_slips_get_a_hint(text, hint):
    """What Python writes is not JSON: the message says what to write instead (after where
    JSON's reading stopped, whose words vary with Python's version)."""
    with pytest.raises(JSONTextError) as caught:
        loads(text)
    said = str(caught.value)
    assert said.endswith(f" — {hint}") if hint else " — " not in said
