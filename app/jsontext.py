"""One way to read JSON that a person typed or a form carried back: never a 500.

``json.loads`` alone lets through what no JSON document can carry (``NaN``,
``Infinity``, numbers that overflow to infinity: ``requests`` later refuses to
send them) and fails in ways that are not ``JSONDecodeError`` (``RecursionError``
on deep nesting, a bare ``ValueError`` past Python's 4,300-digit limit).
:func:`loads` turns all of these into :class:`JSONTextError`, in words.
"""

from __future__ import annotations

import json
import math


class JSONTextError(ValueError):
    """Text that is not JSON hubdesk can send on; ``str()`` says why, for a person."""


def _no_constant(name: str):
    raise JSONTextError(f"{name} is not a JSON value")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise JSONTextError(f"the number {text[:20]} is too large")
    return value


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
        raise JSONTextError(f"{e.msg} at character {e.pos + 1}") from None
    except RecursionError:
        raise JSONTextError("it is nested too deeply") from None
    except UnicodeEncodeError:
        raise JSONTextError("it has a broken \\u escape (a lone surrogate)") from None
    except ValueError:  # e.g. an integer past Python's digit limit
        raise JSONTextError("a number in it is too long") from None
