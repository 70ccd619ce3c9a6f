#!/usr/bin/env python
"""Time to rows, as a person waits for it: from the click to the rows painted, in Chromium.

hubdesk's groups and users pages against the hub's own admin page (``/hub/admin#/groups``
and ``/hub/admin``), all through the hub's proxy, both apps warm, signed in as the hub
admin through the hub's login form and OAuth. Each sample starts on a loaded page and
ends when the page's first row is visible and one more animation frame has run (the
frame that painted it is done):

- **a click within the app**: from the app's home page (hubdesk's home, ``/hub/home``);
- **a click from the other app**: from the other one's home page (``/hub/home`` to
  hubdesk, hubdesk's home to the hub's admin page), as a person goes between them;
- **first visit**: a new tab, the address typed (``page.goto``);
- **typed in the tab**: ``about:blank`` in the same tab, then the address typed (what
  bench_anchors.py used to call "from about:blank").

Three clocks are kept for every sample. The **wall clock** starts at the click (the
``click`` event in the page being left; for a first visit, just before ``goto``) and
stops at the rows painted, both read on the machine's clock, so it holds everything a
person waits for: the page being left, a new renderer if the browser starts one, the
request, the parse, style, layout and paint. The **in-page** figure is
``performance.now()`` at the same moment: the time since the new document's navigation
started, which leaves out what came before it (the kind of figure the README used to
give). The third, *driver*, is the script's own: from before the click to Playwright telling
it about the rows (``--methods playwright`` times Playwright's ``wait_for_selector`` and
an animation frame instead, which runs Playwright's injected script in the new page
while it renders).

With ``--trace``, one more sample of each kind is recorded as a Chromium trace and
summarised: where the renderer's main thread spent the time from the click to the rows,
and whether the navigation got a new renderer process.

    python benchmarks/bench_rows.py              # 600 groups, 600 users, 15 samples each (~5 min)
    python benchmarks/bench_rows.py --quick      # 5 samples each (~1.5 min)
    python benchmarks/bench_rows.py --trace      # and a trace of one sample of each kind

See benchmarks/README.md for how to read the output.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from collections import defaultdict

from harness import (
    PREFIX,
    RawHub,
    arguments,
    chromium,
    chromium_version,
    fmt,
    machine_info,
    parse,
    say,
    stack,
    write_report,
)

TARGET = 0.5  # hubdesk's rows in at most half the time of the hub's admin page's
PAGES = {  # key: (path under the public URL, the first row's selector)
    "hubdesk groups": (f"{PREFIX}groups/", "table[data-testid=groups] tbody tr td a"),
    "hubdesk users": (f"{PREFIX}users/", "table[data-testid=users] tbody tr td a"),
    # the hub's admin page is a React app that fetches the hub's API, then renders
    "hub admin groups": (
        "/hub/admin#/groups",
        '#react-admin-hook li.list-group-item a[href="#/group-edit"]',
    ),
    "hub admin users": ("/hub/admin", "#react-admin-hook tr.user-row"),
}
PAIRS = (
    ("groups", "hubdesk groups", "hub admin groups"),
    ("users", "hubdesk users", "hub admin users"),
)
HOMES = {"hubdesk": PREFIX, "hub": "/hub/home"}
STARTS = {  # key: where a sample starts, for a page of "hubdesk" / "hub"
    "within": "a click within the app",
    "across": "a click from the other app",
    "new tab": "first visit: a new tab, the address typed",
    "typed": "the address typed in the tab (from about:blank)",
}
METHODS = {
    "console": "the page's own report of its rows painted (a console message)",
    "playwright": "Playwright's wait_for_selector(visible), then an animation frame",
}
VIEWPORT = {"width": 1280, "height": 900}
WAIT_MS = 30_000

# In every document, before its own scripts. In the page being left: the click on the
# link the script put there. In the page measured: once the first row is in the document
# (a MutationObserver, no layout forced), each animation frame checks whether it has a box
# (what Playwright calls visible); the frame after the one that showed it reports.
INIT_SCRIPT = """
(() => {
  const pages = %s;
  const now = () => performance.timeOrigin + performance.now();
  addEventListener("click", (e) => {
    if (e.target instanceof Element && e.target.closest("a[data-bench-go]")) {
      performance.mark("bench-click");  // for a trace
      console.debug("bench-click " + JSON.stringify({ at: now() }));
    }
  }, true);
  let sel = null;
  for (const [path, hash, s] of pages) {
    if (location.pathname === path && location.hash === hash) sel = s;
  }
  if (!sel) return;
  const visible = () => {
    for (const el of document.querySelectorAll(sel)) {
      const r = el.getBoundingClientRect();
      if (r.width > 0 && r.height > 0 && getComputedStyle(el).visibility !== "hidden") return true;
    }
    return false;
  };
  const report = (shown) => {
    performance.mark("bench-rows-painted");
    const nav = performance.getEntriesByType("navigation")[0] || {};
    const paint = Object.fromEntries(
      performance.getEntriesByType("paint").map((e) => [e.name, e.startTime]));
    const api = performance.getEntriesByType("resource")
      .filter((e) => /\\/hub\\/api\\/(users|groups)/.test(e.name));
    console.debug("bench-rows " + JSON.stringify({
      at: now(), painted: performance.now(), shown, origin: performance.timeOrigin,
      response_start: nav.responseStart, response_end: nav.responseEnd,
      dom_interactive: nav.domInteractive, dom_content_loaded: nav.domContentLoadedEventEnd,
      fcp: paint["first-contentful-paint"] ?? null,
      api_start: api.length ? api[0].startTime : null,
      api_end: api.length ? api[0].responseEnd : null,
      resources: performance.getEntriesByType("resource").map((e) => ({
        name: e.name.replace(location.origin, ""), start: e.startTime, end: e.responseEnd,
        bytes: e.transferSize, blocking: e.renderBlockingStatus || null,
      })),
    }));
  };
  const frame = () => {
    if (!visible()) { requestAnimationFrame(frame); return; }
    const shown = performance.now();
    requestAnimationFrame(() => report(shown));
  };
  const obs = new MutationObserver(() => {
    if (document.querySelector(sel)) { obs.disconnect(); requestAnimationFrame(frame); }
  });
  obs.observe(document, { childList: true, subtree: true });
})();
"""

# a link the sample clicks, top left, above everything: a click on a real <a href>
ADD_LINK = """(url) => {
  const a = document.createElement("a");
  a.href = url; a.textContent = "go"; a.dataset.benchGo = "";
  a.className = "position-fixed top-0 start-0 bg-white p-2";
  a.style.zIndex = 99999;
  document.body.append(a);
  const r = a.getBoundingClientRect();
  return { x: r.left + r.width / 2, y: r.top + r.height / 2 };
}"""
NEXT_FRAME = "() => new Promise((r) => requestAnimationFrame(() => r()))"


# -- seeding ---------------------------------------------------------------------------------


def seed(api: RawHub, users: int, groups: int) -> dict:
    """Users ``rows-user-0001``… and groups ``rows-group-0001``…, one call each."""
    t0 = time.perf_counter()
    have = api.count("users")
    if have < users + 1:
        api.create_users([f"rows-user-{i:04d}" for i in range(have, users + 1)])
    have = api.count("groups")
    if have < groups:
        api.create_groups([f"rows-group-{i:04d}" for i in range(have + 1, groups + 1)])
    return {
        "users": api.count("users"),
        "groups": api.count("groups"),
        "seconds": round(time.perf_counter() - t0, 1),
    }


# -- the browser ------------------------------------------------------------------------------


def app_of(key: str) -> str:
    return "hubdesk" if key.startswith("hubdesk") else "hub"


def start_url(public_url: str, key: str, start: str) -> str | None:
    """Where a sample starts: a page of this app or the other one, about:blank, a new tab."""
    if start in ("typed", "new tab"):
        return "about:blank" if start == "typed" else None
    home = app_of(key) if start == "within" else ("hub" if app_of(key) == "hubdesk" else "hubdesk")
    return public_url + HOMES[home]


class Rows:
    """A signed-in Chromium page and the samples taken with it."""

    def __init__(self, page, public_url: str):
        self.page = page
        self.public_url = public_url
        self.messages: list = []  # (time.time() when the script heard it, text)
        page.on("console", self._heard)

    def _heard(self, msg) -> None:
        if msg.text.startswith("bench-"):
            self.messages.append((time.time(), msg.text))

    def _last(self, kind: str, after: float) -> tuple[float, dict] | None:
        for heard, text in reversed(self.messages):
            if heard >= after and text.startswith(f"bench-{kind} "):
                return heard, json.loads(text.split(" ", 1)[1])
        return None

    def _go(self, page, url: str, where: dict | None) -> None:
        if where is None:  # the address typed
            page.goto(url, wait_until="commit")
        else:  # a real click on a real link (no actionability checks: they take frames)
            page.mouse.click(where["x"], where["y"])

    def sample(self, key: str, start: str, method: str = "console") -> dict:
        path, sel = PAGES[key]
        url = self.public_url + path
        begin = start_url(self.public_url, key, start)
        if begin is None:  # a new tab, its own about:blank, closed afterwards
            page = self.page.context.new_page()
            page.on("console", self._heard)
        else:
            page = self.page
            page.goto(begin)  # waits for its load event
        try:
            return self._sample(page, url, sel, start, method)
        finally:
            if page is not self.page:
                page.close()

    def _sample(self, page, url: str, sel: str, start: str, method: str) -> dict:
        where = page.evaluate(ADD_LINK, url) if start in ("within", "across") else None
        self.messages.clear()
        if method == "console":
            with page.expect_console_message(
                lambda m: m.text.startswith("bench-rows "), timeout=WAIT_MS
            ):
                t0 = time.time()
                self._go(page, url, where)
        else:
            t0 = time.time()
            self._go(page, url, where)
            page.wait_for_selector(sel, state="visible", timeout=WAIT_MS)
            page.evaluate(NEXT_FRAME)
        t1 = time.time()
        got = self._last("rows", t0)
        if method == "playwright" and got is None:  # the page's own report comes too
            page.wait_for_event(
                "console", lambda m: m.text.startswith("bench-rows "), timeout=WAIT_MS
            )
            got = self._last("rows", t0)
        heard, rows = got
        click = self._last("click", t0)
        clicked = click[1]["at"] if click else t0 * 1000
        out = {
            # the clocks (ms)
            "wall": rows["at"] - clicked,
            "in_page": rows["painted"],
            "driver": ((t1 if method == "playwright" else heard) - t0) * 1000,
            # where the time went, from the click
            "navigation_start": rows["origin"] - clicked,
            "dispatch": clicked - t0 * 1000,  # the script's click until the page's click event
        }
        for name in ("response_start", "response_end", "dom_interactive", "dom_content_loaded"):
            out[name] = out["navigation_start"] + rows[name] if rows.get(name) else None
        for name in ("fcp", "api_start", "api_end", "shown"):
            out[name] = out["navigation_start"] + rows[name] if rows.get(name) is not None else None
        out["resources"] = rows["resources"]
        return out


def sign_in(page, public_url: str, password: str) -> None:
    """As a person: hubdesk sends the browser to the hub's login form, then back by OAuth."""
    target = public_url + PAGES["hubdesk users"][0]
    page.goto(target)
    page.wait_for_url(f"{public_url}/hub/login?**")
    page.locator("#username_input").fill("admin")
    page.locator("#password_input").fill(password)
    page.locator("#login_submit").click()
    page.wait_for_url(target + "**")


def launch(p, public_url: str, password: str):
    executable, switches = chromium()
    browser = p.chromium.launch(executable_path=executable, args=switches)
    context = browser.new_context(viewport=VIEWPORT)
    pages = []
    for path, sel in PAGES.values():
        bare, _, hash_ = path.partition("#")
        pages.append([bare, f"#{hash_}" if hash_ else "", sel])
    context.add_init_script(INIT_SCRIPT % json.dumps(pages))
    page = context.new_page()
    page.set_default_timeout(WAIT_MS)
    sign_in(page, public_url, password)
    return browser, Rows(page, public_url)


def measure(
    public_url: str,
    password: str,
    *,
    repeat: int,
    methods=("console",),
    keys=tuple(PAGES),
    starts=tuple(STARTS),
    warmup: int = 2,
    trace: bool = False,
) -> dict:
    """Every (page, start, method) ``repeat`` times, interleaved round-robin; raw samples."""
    from playwright.sync_api import sync_playwright

    runs = [(k, s, m) for m in methods for s in starts for k in keys]
    samples: dict = {run: [] for run in runs}
    traces = {}
    with sync_playwright() as p:
        browser, rows = launch(p, public_url, password)
        try:
            for _ in range(warmup):  # the browser's cache, both apps' caches
                for run in runs:
                    rows.sample(*run)
            for i in range(repeat):
                k = i % len(runs)
                for run in runs[k:] + runs[:k]:
                    samples[run].append(rows.sample(*run))
            if trace:
                for key in keys:
                    for start in starts:
                        traces[(key, start)] = traced(browser, rows, key, start)
        finally:
            browser.close()
    return {"samples": samples, "traces": traces}


# -- a trace of one sample ------------------------------------------------------------------

TRACE_CATEGORIES = [
    "devtools.timeline",
    "disabled-by-default-devtools.timeline",
    "blink",
    "blink.user_timing",
    "rail",
    "loading",
    "navigation",
    "toplevel",
    "v8",
]
# the renderer main thread's work, by the trace event that names it (outermost wins)
WORK = {
    "ParseHTML": "parse HTML",
    "ParseAuthorStyleSheet": "parse stylesheets",
    "UpdateLayoutTree": "style",
    "Layout": "layout",
    "PrePaint": "paint",
    "Paint": "paint",
    "Layerize": "paint",
    "EvaluateScript": "script",
    "v8.compile": "script",
    "v8.compileModule": "script",
    "FunctionCall": "script",
    "v8.evaluateModule": "script",
    "RunMicrotasks": "script",
    "RenderFrameImpl::CommitNavigation": "commit the navigation",
    "AgentSchedulingGroup::CreateFrame": "set up a frame",
    "AgentSchedulingGroup::CreateWebView": "set up a frame",
    "RenderFrameImpl::UnloadFrame": "unload the page left",
}


def traced(browser, rows: Rows, key: str, start: str) -> dict:
    """One more sample with Chromium's tracing on, summarised (tracing slows it down)."""
    browser.start_tracing(categories=TRACE_CATEGORIES)
    try:
        s = rows.sample(key, start)
    finally:
        data = browser.stop_tracing()
    return {"sample_wall": round(s["wall"], 1), **summarise_trace(json.loads(data))}


def summarise_trace(trace) -> dict:
    """The measured page's renderer main thread from the click to the rows painted."""
    events = trace["traceEvents"] if isinstance(trace, dict) else trace
    threads = {
        (e["pid"], e["tid"]): e["args"]["name"]
        for e in events
        if e.get("ph") == "M" and e.get("name") == "thread_name"
    }

    marks = {
        name: [e for e in events if e.get("name") == name]
        for name in ("bench-click", "bench-rows-painted")
    }
    if not marks["bench-rows-painted"]:
        return {"error": "the page's rows are not in the trace"}
    painted = marks["bench-rows-painted"][-1]
    pid, end = painted["pid"], painted["ts"]  # the renderer that committed the page
    if marks["bench-click"]:
        t0, left = marks["bench-click"][-1]["ts"], marks["bench-click"][-1]["pid"]
    else:  # a first visit: from the browser's start of the navigation
        begins = [e for e in events if e.get("name") == "NavigationRequest::BeginNavigation"]
        t0 = begins[-1]["ts"] if begins else min(e["ts"] for e in events if e.get("ts"))
        before = [e for e in events if e.get("name") == "navigationStart" and e["ts"] < t0]
        left = before[-1]["pid"] if before else None
    main = sorted(
        (
            e
            for e in events
            if e.get("ph") == "X"
            and e["pid"] == pid
            and threads.get((e["pid"], e.get("tid"))) == "CrRendererMain"
            and t0 <= e["ts"] <= end
        ),
        key=lambda e: (e["ts"], -e.get("dur", 0)),
    )
    busy = [e for e in main if e["name"] == "RunTask"]
    everywhere = [  # every Chromium thread's tasks: what the navigation cost the machine
        e
        for e in events
        if e.get("ph") == "X" and e.get("name") == "RunTask" and t0 <= e["ts"] <= end
    ]

    def ms(items, field):
        return round(sum(e.get(field, 0) for e in items) / 1000, 1)

    return {
        "click_to_rows_ms": round((end - t0) / 1000, 1),
        "renderer_main_busy_ms": ms(busy, "dur"),
        # thread time: what the CPU did, whatever else the machine was doing meanwhile
        "renderer_main_cpu_ms": ms(busy, "tdur"),
        "chromium_cpu_ms": ms(everywhere, "tdur"),
        "work_ms": own_times(main, "dur"),
        "work_cpu_ms": own_times(main, "tdur"),
        # a renderer process taken for this navigation (the spare one, or one started)
        "new_renderer": (left is not None and left != pid)
        or any(
            e.get("name") == "RenderProcessHostImpl::Init" and t0 <= e["ts"] <= end for e in events
        ),
    }


def own_times(main: list, field: str) -> dict:
    """Each named piece of work by its own time (a layout forced inside a script is layout)."""
    spans: dict = defaultdict(float)
    stack: list = []  # [event, time of named events inside it]

    def close(item):
        spans[WORK[item[0]["name"]]] += max(item[0].get(field, 0) - item[1], 0) / 1000

    for e in (e for e in main if e["name"] in WORK):
        while stack and stack[-1][0]["ts"] + stack[-1][0]["dur"] <= e["ts"]:
            close(stack.pop())
        if stack:
            stack[-1][1] += e.get(field, 0)
        stack.append([e, 0])
    while stack:
        close(stack.pop())
    return {k: round(v, 1) for k, v in sorted(spans.items(), key=lambda kv: -kv[1])}


# -- statistics and the report -----------------------------------------------------------------


def stats(values: list) -> dict | None:
    values = [v for v in values if v is not None]
    if not values:
        return None
    return {
        "n": len(values),
        "median_ms": round(statistics.median(values), 1),
        "min_ms": round(min(values), 1),
        "max_ms": round(max(values), 1),
        "p25_ms": round(statistics.quantiles(values, n=4, method="inclusive")[0], 1)
        if len(values) > 1
        else round(values[0], 1),
        "p75_ms": round(statistics.quantiles(values, n=4, method="inclusive")[2], 1)
        if len(values) > 1
        else round(values[0], 1),
    }


CLOCKS = (
    "wall",
    "in_page",
    "driver",
    "dispatch",
    "navigation_start",
    "response_start",
    "response_end",
    "dom_interactive",
    "dom_content_loaded",
    "fcp",
    "api_start",
    "api_end",
    "shown",
)


def summarise(raw: dict) -> dict:
    out = {}
    for (key, start, method), items in raw["samples"].items():
        out[f"{key} | {start} | {method}"] = {
            "page": key,
            "start": start,
            "method": method,
            "url": PAGES[key][0],
            "selector": PAGES[key][1],
            **{c: stats([it[c] for it in items]) for c in CLOCKS},
            "samples_wall_ms": [round(it["wall"], 1) for it in items],
            "resources_last": [
                {k: (round(v, 1) if isinstance(v, float) else v) for k, v in r.items()}
                for r in (items[-1]["resources"] if items else [])
            ],
        }
    return out


def ratios(summary: dict, methods) -> list:
    """hubdesk / hub admin page, median / median, for each page, start and clock."""
    rows = []
    for method in methods:
        for what, ours, theirs in PAIRS:
            for start in STARTS:
                a = summary.get(f"{ours} | {start} | {method}")
                b = summary.get(f"{theirs} | {start} | {method}")
                if not (a and b):
                    continue
                row = {"page": what, "start": start, "method": method}
                for clock in ("wall", "in_page", "driver"):
                    if a[clock] and b[clock]:
                        row[clock] = {
                            "hubdesk": a[clock],
                            "hub": b[clock],
                            "ratio": round(a[clock]["median_ms"] / b[clock]["median_ms"], 2),
                        }
                rows.append(row)
    return rows


def span(s: dict | None) -> str:
    if not s:
        return "—"
    return f"{fmt(s['median_ms'])} ({fmt(s['min_ms'])}–{fmt(s['max_ms'])})"


def markdown(report: dict) -> list[str]:
    p = report["params"]
    lines = [
        f"A hub with {report['seeding']['users']:,} users and {report['seeding']['groups']:,} "
        "groups; hubdesk under gunicorn with the production image's command; headless "
        f"Chromium {report['chromium']} ({VIEWPORT['width']}×{VIEWPORT['height']}), signed in "
        "as the hub admin, everything through the hub's proxy. "
        f"{p['repeat']} samples of each kind after 2 warm-up rounds, interleaved. "
        "ms, median (min–max).",
        "",
        "## Summary: hubdesk against the hub's admin page",
        "",
        "*wall clock*: from the click (for a first visit, from `goto`) to the first row "
        "visible and one animation frame after, on the machine's clock. *in-page*: "
        "`performance.now()` at that moment, i.e. from the new document's navigation start "
        "(leaves out what happens before it). *driver*: the script's own clock, from before "
        "the click to Playwright telling it.",
        "",
        "| page | start | method | hubdesk wall clock | hub admin wall clock | ratio | "
        "target | in-page ratio (hubdesk / hub) | driver ratio |",
        "|---|---|---|---:|---:|---:|---|---|---|",
    ]
    for r in report["ratios"]:
        w = r.get("wall")
        if not w:
            continue
        ip, dr = r.get("in_page"), r.get("driver")
        met = "met" if w["ratio"] <= TARGET else "missed"
        lines.append(
            f"| {r['page']} | {STARTS[r['start']]} | {r['method']} | {span(w['hubdesk'])} | "
            f"{span(w['hub'])} | **{w['ratio']:.2f}×** | ≤ {TARGET}× {met} | "
            + (
                f"{fmt(ip['hubdesk']['median_ms'])} / {fmt(ip['hub']['median_ms'])} = "
                f"{ip['ratio']:.2f}×"
                if ip
                else "—"
            )
            + " | "
            + (f"{dr['ratio']:.2f}×" if dr else "—")
            + " |"
        )
    lines += [
        "",
        "## Where the time goes (medians, ms from the click)",
        "",
        "*click event*: from the script's click to the page's `click` event. *nav start*: "
        "the new document's time origin. *first byte* / *HTML done*: its response start / end. "
        "*DOM ready*: `domInteractive`. *FCP*: first contentful paint. *API*: the admin page's "
        "fetch of the hub's API. *rows visible*: the frame that showed the first row; *rows "
        "painted*: the frame after (the wall clock).",
        "",
        "| page | start | method | click event | nav start | first byte | HTML done | DOM ready "
        "| FCP | API | rows visible | rows painted | in-page |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|",
    ]

    def med(s):
        return fmt(s["median_ms"]) if s else "—"

    for v in report["pages"].values():
        api = f"{med(v['api_start'])}–{med(v['api_end'])}" if v["api_start"] else "—"
        lines.append(
            f"| {v['page']} | {v['start']} | {v['method']} | {med(v['dispatch'])} | "
            f"{med(v['navigation_start'])} | {med(v['response_start'])} | "
            f"{med(v['response_end'])} | {med(v['dom_interactive'])} | {med(v['fcp'])} | "
            f"{api} | {med(v['shown'])} | {med(v['wall'])} | {med(v['in_page'])} |"
        )
    traces = report.get("traces") or {}
    if traces:
        lines += [
            "",
            "## One traced sample of each kind",
            "",
            "Chromium's trace of one more sample (tracing slows everything down: compare the "
            "parts, not the totals with the tables above), from the click to the rows painted. "
            "*CPU*: thread time, what the processor did whatever else the machine was doing: "
            "the page's renderer main thread, and every Chromium thread (browser, GPU, network, "
            "renderers). *new renderer*: the navigation took another renderer process. *work*: "
            "the main thread's CPU ms by kind.",
            "",
            "| page | start | click → rows | main thread CPU | Chromium CPU | new renderer | "
            "work (CPU ms) |",
            "|---|---|---:|---:|---:|---|---|",
        ]
        for name, t in traces.items():
            if "error" in t:
                lines.append(f"| {name} | | | | | | {t['error']} |")
                continue
            work = ", ".join(f"{k} {v:.1f}" for k, v in t["work_cpu_ms"].items() if v >= 0.5)
            page, start = name.split(" | ")
            lines.append(
                f"| {page} | {start} | {fmt(t['click_to_rows_ms'])} | "
                f"{fmt(t['renderer_main_cpu_ms'])} | {fmt(t['chromium_cpu_ms'])} | "
                f"{'yes' if t['new_renderer'] else 'no'} | {work} |"
            )
    lines += ["", "## What each page loaded (its last sample; ms since its navigation start)", ""]
    for v in report["pages"].values():
        if v["method"] != p["methods"][0] or v["start"] != "within":
            continue
        loaded = "; ".join(
            f"`{r['name'][:70]}` {fmt(r['start'])}–{fmt(r['end'])} ({r['bytes']:,} B"
            + (", render-blocking" if r.get("blocking") == "blocking" else "")
            + ")"
            for r in v["resources_last"]
        )
        lines.append(f"- {v['page']}: {loaded or 'nothing else'}")
    return [*lines, "", f"The run took {report['run_seconds'] / 60:.1f} min."]


# -- main ------------------------------------------------------------------------------------------


def main(argv=None) -> int:
    ap = arguments(__doc__, repeat=15, quick_repeat=5)
    ap.add_argument("--users", type=int, default=600, help="users on the hub (600)")
    ap.add_argument("--groups", type=int, default=600, help="groups on the hub (600)")
    ap.add_argument(
        "--methods",
        default="console",
        help="comma-separated: console (the page reports its rows), playwright "
        "(wait_for_selector); default console",
    )
    ap.add_argument("--trace", action="store_true", help="one traced sample of each kind")
    args = parse(ap, argv)
    args.methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    if not args.methods or any(m not in METHODS for m in args.methods):
        ap.error(f"--methods: some of {', '.join(METHODS)}")
    if args.repeat < 1 or args.users < 50 or args.groups < 50:
        ap.error("--repeat at least 1; --users and --groups at least 50 (a full first page)")
    started = time.perf_counter()
    with stack(args.dir) as st:
        machine = machine_info(st.api.version())
        say(f"seeding {args.users} users and {args.groups} groups through the API …")
        seeding = seed(st.api, args.users, args.groups)
        say(
            f"Chromium: {args.repeat} samples of {len(PAGES)} pages × {len(STARTS)} starts × "
            f"{len(args.methods)} method(s) …"
        )
        raw = measure(
            st.hub.public_url,
            st.hub.password,
            repeat=args.repeat,
            methods=args.methods,
            trace=args.trace,
        )
    pages = summarise(raw)
    report = {
        "machine": machine,
        "chromium": chromium_version(),
        "seeding": seeding,
        "pages": pages,
        "ratios": ratios(pages, args.methods),
        "traces": {f"{k} | {s}": t for (k, s), t in raw["traces"].items()},
        "run_seconds": round(time.perf_counter() - started, 1),
    }
    report["viewport"], report["target"] = VIEWPORT, TARGET
    write_report(args, "rows", report, markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
