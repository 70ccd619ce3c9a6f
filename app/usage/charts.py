"""Charts drawn on the server as SVG, with pygal (https://www.pygal.org).

Why pygal: a maintained pure-Python library (no browser, no Node, no native code: hubs run
air-gapped, on slim images) that builds SVG from data on the server, so every chart is in
the page when it arrives and reads without JavaScript. Its SVG names its parts with classes
(``.axis``, ``.guides``, ``.series.color-0`` …), so hubdesk's own stylesheet colours it for
light and dark pages alike. pygal also writes a ``<script>`` (its tooltips) and a
``<style>`` into every chart: both are taken out here, so the page's strict CSP
(``script-src 'self'``, ``style-src 'self'``) holds, with no inline code at all.

Every chart is drawn with its numbers beside it as a table (``templates/usage/_chart.html``):
the table is what a screen reader reads and what a person copies; the SVG is ``role="img"``,
named by its title.
"""

from __future__ import annotations

from collections.abc import Sequence

import pygal
from markupsafe import Markup
from pygal.etree import etree

WIDTH, HEIGHT = 800, 320

_BASE = dict(
    js=[],  # no script (taken out below as well: pygal writes its config as one)
    css=[],
    no_prefix=True,
    disable_xml_declaration=True,
    width=WIDTH,
    height=HEIGHT,
    legend_at_bottom=True,
    legend_at_bottom_columns=4,
    show_y_guides=True,
    print_values=False,
    margin=12,
    spacing=8,
    truncate_label=-1,
    x_label_rotation=0,
)


def _svg(chart, title: str) -> Markup:
    """The chart as inline SVG without script, style or style attributes, named ``title``."""
    root = chart.render_tree()
    for parent in list(root.iter()):
        for child in list(parent):
            tag = child.tag if isinstance(child.tag, str) else ""  # comments: not a str
            if not tag or tag.rpartition("}")[2] in ("script", "style"):
                parent.remove(child)
    for node in root.iter():
        node.attrib.pop("style", None)
    root.attrib.pop("id", None)
    root.set("role", "img")
    root.set("aria-label", title)
    root.set("class", "pygal-chart hd-chart")
    root.set("preserveAspectRatio", "xMinYMin meet")
    # etree escapes every label and title it serializes: the SVG is markup, safely built
    return Markup(etree.tostring(root, encoding="unicode"))  # noqa: S704


def _labels(chart, labels: Sequence[str]) -> None:
    chart.x_labels = list(labels)
    if len(labels) > 14:  # one label a week or so: never a wall of dates
        step = max(1, len(labels) // 8)
        chart.x_labels_major = list(labels)[::step]
        chart.show_minor_x_labels = False


def bars(
    title: str,
    labels: Sequence[str],
    series: Sequence[tuple[str, Sequence[float | None]]],
    *,
    stacked: bool = False,
    y_title: str = "",
) -> Markup:
    """A bar chart: one bar (or stack) per label; ``None`` values are unknown (not drawn)."""
    kind = pygal.StackedBar if stacked else pygal.Bar
    chart = kind(title=title, y_title=y_title or None, show_legend=len(series) > 1, **_BASE)
    _labels(chart, labels)
    for name, values in series:
        chart.add(name, list(values))
    return _svg(chart, title)


def lines(
    title: str,
    labels: Sequence[str],
    series: Sequence[tuple[str, Sequence[float | None]]],
    *,
    stacked: bool = False,
    y_title: str = "",
) -> Markup:
    """A line chart (stacked: areas); ``None`` values are unknown: the line breaks there."""
    kind = pygal.StackedLine if stacked else pygal.Line
    chart = kind(
        title=title,
        y_title=y_title or None,
        show_legend=len(series) > 1,
        allow_interruptions=True,
        fill=stacked,
        show_dots=False,
        **_BASE,
    )
    _labels(chart, labels)
    for name, values in series:
        chart.add(name, list(values))
    return _svg(chart, title)


def timeline(
    title: str,
    rows: Sequence[tuple[str, Sequence[tuple[float, float]]]],
    *,
    x_labels: Sequence[tuple[float, str]] = (),
) -> Markup:
    """Spans on a time axis, one row each (a person's sessions per server and profile):
    ``rows`` is [(label, [(start, end), ...])], times in any one unit (hours, epoch seconds);
    ``x_labels`` the ticks [(position, words)]."""
    chart = pygal.XY(
        title=title,
        show_legend=True,
        allow_interruptions=True,
        show_dots=False,
        stroke_style={"width": 10, "linecap": "butt"},
        range=(0, len(rows) + 1),
        show_y_labels=False,
        **_BASE,
    )
    if x_labels:
        chart.x_labels = [pos for pos, _ in x_labels]
        words = dict(x_labels)
        chart.x_value_formatter = lambda pos: words.get(pos, "")
    for i, (label, spans) in enumerate(rows):
        y = len(rows) - i
        points: list = []
        for start, end in spans:
            points += [(start, y), (end, y), None]
        chart.add(label, points or [None])
    return _svg(chart, title)
