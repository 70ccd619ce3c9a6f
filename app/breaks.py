"""Names that wrap where a reader would break them: after ``-``, ``_``, ``.``, ``/`` or ``@``.

A long server or user name in a narrow table cell otherwise breaks at whatever letter reaches
the edge (``overflow-wrap: anywhere``, Bootstrap's ``.text-break``). ``{{ name|breakable }}``
escapes the name and puts a ``<wbr>`` after each separator; the element holding it keeps
``word-break: normal`` (``.name-breaks`` in hubdesk.css), so that a line breaks there first and
mid-word only when one part is wider than the whole line.
"""

from __future__ import annotations

import re

from markupsafe import Markup

AFTER_SEPARATOR = re.compile(r"(?<=[-_./@])")


def breakable(name) -> Markup:
    """``name`` escaped, with a ``<wbr>`` after each separator (none at its end)."""
    parts = [part for part in AFTER_SEPARATOR.split(str(name)) if part]
    return Markup("<wbr>").join(parts)


def init_app(app) -> None:
    app.jinja_env.filters["breakable"] = breakable
