"""One way to read JSON that a person typed or a form carried back: never a 500.

``json.loads`` alone lets through what no JSON document can carry (``NaN``,
``Infinity``, numbers that overflow to infinity: ``requests`` later refuses to
send them) and fails in ways that are not ``JSONDecodeError`` (``RecursionError``
on deep nesting, a bare ``ValueError`` past Python's 4,300-digit limit).
:func:`loads` turns all of these into :class:`JSONTextError`, in words, with a hint for
the slips people make most (what Python writes is not JSON): single quotes, a comma
before ``]`` or ``}``, ``True``/``False``/``None``.
"""

from __future__ import annotations

import json
import math
import re

PYTHON_WORDS = {"True": "true", "False": "false", "None": "null"}
QUOTED = re.compile(r"'([^'\n]{0,40})'")
WORD = re.compile(r"[A-Za-z]+")


class JSONTextError(ValueError):
    """Text that is not JSON hubdesk can send on; ``str()`` says why, for a person."""


def _no_constant(name: str):
    raise JSONTextError(f"{name} is not a JSON value")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise JSONTextError(f"the number {text[:20]} is too large")
    return value


def hint(text: str, pos: int) -> str:
    """What probably went wrong where JSON's reading stopped (``pos``), or ""."""
    if text.startswith("'", pos):
        quoted = QUOTED.match(text, pos)
        example = json.dumps(quoted.group(1) if quoted else "lab", ensure_ascii=False)
        return f"JSON needs double quotes ({example}), not single quotes"
    closer = ""  # a comma before ] or }: Python 3.13 stops at the comma, older ones after it
    if text.startswith(",", pos):
        closer = text[pos + 1 :].lstrip()[:1]
    elif text[:pos].rstrip().endswith(","):
        closer = text[pos : pos + 1]
    if closer in ("]", "}"):
        return f"JSON allows no comma before the closing {closer}"
    word = WORD.match(text, pos)
    if word and word.group(0) in PYTHON_WORDS:
        found = word.group(0)
        lower = PYTHON_WORDS[found]
        return f"JSON writes true, false and null in lower case ({lower}, not {found})"
    return ""


def _decode_error(text: str, e: json.JSONDecodeError) -> JSONTextError:
    why = f"{e.msg} at character {e.pos + 1}"
    found = hint(text, e.pos)
    return JSONTextError(f"{why} — {found}" if found else why)


def loads(text: str):
    """``json.loads`` for untrusted text: only values that JSON can carry, else JSONTextError."""
    try:
        value = json.loads(text, parse_constant=_no_constant, parse_float=_finite)
        # a lone surrogate (\ud800) reads fine but can be neither shown nor sent as UTF-8
        json.dumps(value, ensure_ascii=False).encode("utf-8")
        return value
    except JSONTextError:
        raise
    except json.JSONDecodeError as e:
        raise _decode_error(text, e) from None
    except RecursionError:
        raise JSONTextError("it is nested too deeply") from None
    except UnicodeEncodeError:
        raise JSONTextError("it has a broken \\u escape (a lone surrogate)") from None
    except ValueError:  # e.g. an integer past Python's digit limit
        raise JSONTextError("a number in it is too long") from None
