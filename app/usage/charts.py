"""Charts drawn on the server as SVG, with pygal (https://www.pygal.org).

Why pygal: a maintained pure-Python library (no browser, no Node, no native code: hubs run
air-gapped, on slim images) that builds SVG from data on the server, so every chart is in
the page when it arrives and reads without JavaScript. Its SVG names its parts with classes
(``.axis``, ``.guides``, ``.series.color-0`` …), so hubdesk's own stylesheet colours it for
light and dark pages alike. pygal also writes a ``<script>`` (its tooltips) and a
``<style>`` into every chart: both are taken out here, so the page's strict CSP
(``script-src 'self'``, ``style-src 'self'``) holds, with no inline code at all.
Instead of its tooltips, each bar and dot gets its own ``<title>`` ("22 Nov, started: 3"),
which the browser shows on hover without any script.

Every chart is drawn with its numbers beside it as a table (``templates/usage/_chart.html``):
the table is what a screen reader reads and what a person copies; the SVG is ``role="img"``,
named by its title.

The look is hubdesk's stylesheet's (``static/hubdesk.css``, "charts"): text and guides in the
page's colours (Bootstrap's variables, light and dark alike), series in a palette of their own
(``.color-0`` … ``.color-7``: blues, purples, browns; never the green, red, yellow or cyan that
mean states elsewhere). The SVG scales to its box (``viewBox``, width 100%), and its fonts are
sized for a phone's 390 px as well as a desktop. A value not recorded (hubdesk was not
sampling) is *unknown*: ``unknown=`` marks those labels with a grey hatched band behind the
plot, so that a gap never looks like a zero (a zero is no bar at all, an unknown a band).
"""

from __future__ import annotations

import itertools
import math
import re
import sys
from collections.abc import Sequence

import pygal
from markupsafe import Markup
from pygal.etree import etree
from pygal.style import Style

# the drawing's own units (the viewBox): it scales to its box, so these set its proportions and
# how big its text is beside its plot (FONT units of WIDTH: readable on a phone's 390 px)
WIDTH, HEIGHT = 640, 300
FONT = 18
MAX_MAJOR_LABELS = 6  # labels on the x axis at most: a phone has room for about this many
# pygal lays out its text with these sizes; static/hubdesk.css draws it with the same ones
_STYLE = Style(
    font_family="inherit",
    label_font_size=FONT,
    major_label_font_size=FONT,
    legend_font_size=FONT,
    title_font_size=FONT + 2,
    value_font_size=FONT,
    tooltip_font_size=FONT,
    no_data_font_size=FONT + 2,
    legend_box_size=FONT - 3,
)
# pygal appends to sys.meta_path a finder for its map plugins (pygal.maps.*, not used here)
# that has no find_spec: Python 3.11 then warns (ImportWarning) on every import that reaches
# it, an error under the test suite's warnings-as-errors. Taken out once, on import.
sys.meta_path[:] = [f for f in sys.meta_path if not isinstance(f, pygal.PluginImportFixer)]
_serial = itertools.count(1)  # the hatch pattern's id: unique within a page

_BASE = dict(
    js=[],  # no script (taken out below as well: pygal writes its config as one)
    css=[],
    no_prefix=True,
    disable_xml_declaration=True,
    width=WIDTH,
    height=HEIGHT,
    style=_STYLE,
    legend_at_bottom=True,
    legend_at_bottom_columns=3,
    no_data_text="Nothing recorded",
    show_y_guides=True,
    print_values=False,
    margin=12,
    margin_right=40,  # room for the last label, centred on the plot's right edge
    spacing=8,
    truncate_label=-1,
    x_label_rotation=0,
)


def _tag(node) -> str:
    return node.tag.rpartition("}")[2] if isinstance(node.tag, str) else ""  # comments: ""


def _classes(node) -> list[str]:
    return (node.get("class") or "").split()


def _svg(chart, title: str, unknown: Sequence[int] = (), names: Sequence[str] = ()) -> Markup:
    """The chart as inline SVG without script, style or style attributes, named ``title``;
    the labels at the indexes ``unknown`` get a band that says "not recorded"."""
    root = chart.render_tree()
    for parent in list(root.iter()):
        for child in list(parent):
            if not _tag(child) or _tag(child) in ("script", "style"):
                parent.remove(child)
            elif "tooltip-overlay" in _classes(child):  # pygal's tooltips need its script
                parent.remove(child)
    for node in root.iter():
        node.attrib.pop("style", None)
        node.attrib.pop("id", None)  # pygal's legends have ids: twice on a page with 2 charts
    if unknown:
        _unknown_bands(root, chart, sorted(set(unknown)))
    _fit_legend(root)
    _hover_titles(root, names)
    # pygal draws no title (the figure's caption says it, above): the SVG is named by it
    for old in [n for n in root if _tag(n) == "title"]:  # "Pygal", untitled
        root.remove(old)
    name = etree.Element("title")
    name.text = title
    root.insert(0, name)
    root.set("role", "img")
    root.set("aria-label", title)
    root.set("class", "pygal-chart hd-chart")
    root.set("preserveAspectRatio", "xMinYMin meet")
    # etree escapes every label and title it serializes: the SVG is markup, safely built
    return Markup(etree.tostring(root, encoding="unicode"))  # noqa: S704


def _unknown_bands(root, chart, unknown: list[int]) -> None:
    """Hatched bands behind the plot at the labels not recorded, placed from the x axis'
    guides that pygal drew (one per shown label, evenly spaced)."""
    plot = next((n for n in root.iter() if _classes(n) == ["plot"]), None)
    axis = next((n for n in root.iter() if {"axis", "x"} <= set(_classes(n))), None)
    if plot is None or axis is None or not chart.x_labels:
        return
    xs = []
    for guide in axis:
        path = next((p for p in guide if _tag(p) == "path"), None)
        if "guides" in _classes(guide) and path is not None:
            xs.append(float(path.get("d", "M0").split()[0][1:]))
    shown = _major_indexes(len(chart.x_labels))
    if not xs or len(xs) != len(shown):
        return
    background = next(n for n in plot if _tag(n) == "rect")
    width, height = float(background.get("width")), float(background.get("height"))
    step = (xs[-1] - xs[0]) / (shown[-1] - shown[0]) if len(xs) > 1 else width
    hatch = f"hd-hatch-{next(_serial)}"
    defs = next((n for n in root if _tag(n) == "defs"), None)
    if defs is None:
        defs = etree.SubElement(root, "defs")
    pattern = etree.SubElement(
        defs,
        "pattern",
        id=hatch,
        width="8",
        height="8",
        patternUnits="userSpaceOnUse",
        patternTransform="rotate(45)",
    )
    etree.SubElement(pattern, "rect", width="8", height="8", attrib={"class": "hd-hatch-bg"})
    etree.SubElement(pattern, "path", d="M0 0 v8", attrib={"class": "hd-hatch-line"})
    where = list(plot).index(background) + 1
    for run in _runs(unknown):
        left = xs[0] + (run[0] - shown[0] - 0.5) * step
        right = xs[0] + (run[-1] - shown[0] + 0.5) * step
        left, right = max(0.0, left), min(width, right)
        band = etree.Element(
            "rect",
            x=f"{left:.2f}",
            y="0",
            width=f"{max(0.0, right - left):.2f}",
            height=f"{height:.2f}",
            fill=f"url(#{hatch})",
            attrib={"class": "hd-unknown"},
        )
        plot.insert(where, band)
        where += 1  # in the labels' order


def _hover_titles(root, names: Sequence[str]) -> None:
    """A bar's or dot's own <title> ("22 Nov, started: 3"): the browser shows it on hover,
    with no script (pygal's tooltips need its JavaScript); the table under the chart says it
    too."""
    for series in root.iter():
        number = next((c[6:] for c in _classes(series) if c.startswith("serie-")), "")
        if not number.isdigit() or int(number) >= len(names):
            continue
        for group in series.iter():
            if not {"bar", "dots"} & set(_classes(group)):
                continue
            said = {(d.get("class") or ""): d.text or "" for d in group if _tag(d) == "desc"}
            if said.get("value"):
                where = ", ".join(w for w in (said.get("x_label"), names[int(number)]) if w)
                etree.SubElement(group, "title").text = f"{where}: {said['value']}"


def _fit_legend(root) -> None:
    """Make room for every row of the legend: pygal leaves one row's height under the plot,
    so a second row would be cut off by the viewBox."""
    legends = next((n for n in root.iter() if _classes(n) == ["legends"]), None)
    if legends is None:
        return
    moved = re.match(r"translate\(([\d.]+),\s*([\d.]+)\)", legends.get("transform", ""))
    boxes = [float(r.get("y", 0)) for r in legends.iter() if _tag(r) == "rect"]
    if not moved or not boxes:
        return
    bottom = float(moved.group(2)) + max(boxes) + FONT + 6
    if bottom > HEIGHT:
        root.set("viewBox", f"0 0 {WIDTH} {math.ceil(bottom)}")


def _runs(indexes: list[int]) -> list[list[int]]:
    """Consecutive indexes together: [1, 2, 3, 7] -> [[1, 2, 3], [7]] (one band each)."""
    runs: list[list[int]] = []
    for i in indexes:
        if runs and runs[-1][-1] == i - 1:
            runs[-1].append(i)
        else:
            runs.append([i])
    return runs


def _major_indexes(count: int) -> list[int]:
    """The indexes of the labels shown on the x axis (all of them when few)."""
    if count <= MAX_MAJOR_LABELS + 1:
        return list(range(count))
    step = -(-count // MAX_MAJOR_LABELS)  # ceil: at most MAX_MAJOR_LABELS labels
    return list(range(0, count, step))


def _labels(chart, labels: Sequence[str]) -> None:
    chart.x_labels = list(labels)
    shown = _major_indexes(len(labels))
    if len(shown) < len(labels):  # a label every few days: never a wall of dates
        chart.x_labels_major = [labels[i] for i in shown]
        chart.show_minor_x_labels = False


def _whole_ticks(chart, series, stacked: bool) -> None:
    """Whole-number ticks on the y axis (counts of servers: never "0.8 servers")."""
    columns = [[v or 0 for v in values] for _, values in series]
    if stacked:
        top = max((sum(c) for c in zip(*columns, strict=False)), default=0)
    else:
        top = max((max(c, default=0) for c in columns), default=0)
    step = max(1, -(-int(top) // 5))
    chart.y_labels = list(range(0, int(top) + step + 1, step))


def _unknown(series: Sequence[tuple[str, Sequence[float | None]]], unknown) -> list[int]:
    """The indexes not recorded: those given, else those where every series is None."""
    if unknown is not None:
        return [i for i, u in enumerate(unknown) if u]
    values = [list(v) for _, v in series]
    count = max((len(v) for v in values), default=0)
    return [i for i in range(count) if values and all(i >= len(v) or v[i] is None for v in values)]


def bars(
    title: str,
    labels: Sequence[str],
    series: Sequence[tuple[str, Sequence[float | None]]],
    *,
    stacked: bool = False,
    y_title: str = "",
    unknown: Sequence[bool] | None = None,
    whole: bool = False,
) -> Markup:
    """A bar chart: one bar (or stack) per label; ``None`` values are unknown (not drawn).
    ``unknown``: per label, whether it was not recorded (a hatched band); by default the
    labels where every series is ``None``. ``whole``: the values are counts (whole ticks)."""
    kind = pygal.StackedBar if stacked else pygal.Bar
    return _series_chart(kind, title, labels, series, y_title, unknown, whole, stacked)


def lines(
    title: str,
    labels: Sequence[str],
    series: Sequence[tuple[str, Sequence[float | None]]],
    *,
    stacked: bool = False,
    y_title: str = "",
    unknown: Sequence[bool] | None = None,
    whole: bool = False,
    dots: bool = False,
) -> Markup:
    """A line chart (stacked: areas); ``None`` values are unknown: the line breaks there,
    over a hatched band (``unknown`` as for :func:`bars`). ``dots``: a dot at each value
    (a value between two unknowns is a dot, not a line)."""
    kind = pygal.StackedLine if stacked else pygal.Line
    return _series_chart(
        kind,
        title,
        labels,
        series,
        y_title,
        unknown,
        whole,
        stacked,
        allow_interruptions=True,
        fill=stacked,
        show_dots=dots,
        dots_size=3,
    )


def _series_chart(kind, title, labels, series, y_title, unknown, whole, stacked, **options):
    """One value per label and series (bars or lines), drawn and cleaned (:func:`_svg`)."""
    chart = kind(
        y_title=y_title or None,
        show_legend=len(series) > 1,
        min_scale=2,
        max_scale=6,
        **options,
        **_BASE,
    )
    _labels(chart, labels)
    if whole:  # counts: whole-number ticks
        _whole_ticks(chart, series, stacked)
    for name, values in series:
        chart.add(name, list(values))
    return _svg(chart, title, _unknown(series, unknown), [name for name, _ in series])


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
        show_dots=False,
        # pygal writes the stroke as a style attribute, which is taken out: the spans' width is
        # static/hubdesk.css's (.xy-graph .series .line)
        range=(0, len(rows) + 1),
        show_y_labels=False,
        **{
            **_BASE,
            "show_legend": True,
            "allow_interruptions": True,
            "margin_left": 40,  # the first tick's words, centred on the plot's left edge
            "legend_at_bottom_columns": 1,  # a row's name whole: "the default server, Small"
            "truncate_legend": -1,
        },
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
