"""Every page of hubdesk on a phone (390 px) and a desktop, in light and dark colour schemes.

On each page, as the hub admin: no sideways scroll of the page (wide tables scroll in their
own box), the navbar's links reachable (at 390 px behind the toggler), unique ids, the colour
mode the browser asks for, no script or style refused by the CSP, and axe-core (bundled by the
``axe-playwright-python`` package) finds no serious or critical violation, WCAG 2.1 AA contrast
included.

The pages come from the app's URL map: every GET route is a page below or named in
``NOT_PAGES``, so a new page fails ``test_every_get_route_is_checked`` until it is added here.
Its objects are real, made on the test hub: a group with members (one with a very long name),
properties, a finished membership change and a lesson; a user with a running, a stopped and a
failed named server; a finished group action. Confirmation pages that only a POST reaches, and
pages that refuse what was typed, are reached by filling in and sending their forms (``FLOWS``);
the others (a GET with the question's input in its address) are pages.
"""

from __future__ import annotations

import json
import os
import re
import sys
from dataclasses import dataclass

import pytest
from axe_playwright_python.sync_playwright import Axe
from helpers.accounts import form_fields
from helpers.browser import ARTIFACTS, TIMEOUT_MS, save_artifacts, sign_in
from helpers.stack import PREFIX, csrf_token, unique, wait_for
from hubdesk.extensions import shared
from hubdesk.hub import HubAPIError
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

LAYOUTS = {"phone": {"width": 390, "height": 844}, "desktop": {"width": 1280, "height": 800}}
SCHEMES = ("light", "dark")
SERIOUS = ("serious", "critical")

# GET routes that are not pages a person looks at
NOT_PAGES = {
    "static": "files: CSS, JavaScript, icons",
    "metrics.scrape": "Prometheus's text format",
    "main.health": "JSON for probes",
    "main.live": "JSON for probes",
    "auth.login": "a redirect to the hub's OAuth",
    "auth.oauth_callback": "the end of the OAuth redirects",
    "groups.suggest": "JSON for the group-name field",
    "users.progress_events": "an event stream",
    "roster.confirm_stop": "a confirmation: checked as the flow group-stop-confirm",
    "main.activity_download": "a CSV download",
    "usage.person_csv": "a CSV download",
    "usage.hub_csv": "a CSV download",
    "usage.group_members_csv": "a CSV download",
    "usage.group_days_csv": "a CSV download",
}


@dataclass
class Things:
    """What the pages show, made on the test hub."""

    group: str  # members, properties, a finished membership change
    members: list[str]
    long_name: str  # a member whose name has no break for 50 characters
    quiet_group: str  # a finished group action
    user: str  # servers "labs" (running), "old" (stopped), "bad" (its start failed)
    members_job: str
    group_job: str
    stop_job: str  # a finished hub-wide stop
    lesson: str  # a lesson of ``group``, once, years ahead
    leaver: str  # an account an end of term deleted
    deletion_job: str  # that end of term


# name -> (endpoint, its arguments); a page is its URL as the admin opens it
PAGES = {
    "home": lambda t: ("main.home", {}),
    "status": lambda t: ("main.status", {}),
    "activity": lambda t: ("main.activity", {}),
    "sign-out": lambda t: ("auth.logout", {}),
    "signed-out": lambda t: ("auth.signed_out", {}),
    "groups": lambda t: ("groups.index", {}),
    "group": lambda t: ("groups.show", {"name": t.group}),
    "group-not-found": lambda t: ("groups.show", {"name": unique("no-such-group")}),
    "group-sync": lambda t: ("groups.sync", {"name": t.group}),
    "group-properties": lambda t: ("groups.properties", {"name": t.group}),
    "group-delete": lambda t: ("groups.delete", {"name": t.group}),
    "group-members-job": lambda t: ("groups.members_job", {"name": t.group, "job": t.members_job}),
    "group-servers": lambda t: ("roster.group_servers", {"group": t.group}),
    "group-job": lambda t: ("roster.group_job", {"group": t.quiet_group, "job": t.group_job}),
    "users": lambda t: ("users.index", {}),
    "user": lambda t: ("users.show", {"name": t.user}),
    "user-long-name": lambda t: ("users.show", {"name": t.long_name}),
    "running": lambda t: ("servers.running", {}),
    "stop-job": lambda t: ("servers.stop_job", {"job": t.stop_job}),
    "progress-default": lambda t: ("users.progress", {"user": t.user, "server": ""}),
    "progress-running": lambda t: ("users.progress", {"user": t.user, "server": "labs"}),
    "progress-failed": lambda t: ("users.progress", {"user": t.user, "server": "bad"}),
    "server-remove": lambda t: ("users.remove", {"user": t.user, "server": "old"}),
    # the questions before a change (confirmation pages, reached by a link or a GET form)
    "server-stop": lambda t: ("users.stop", {"user": t.user, "server": "labs"}),
    "server-stop-default": lambda t: ("users.stop", {"user": t.user, "server": ""}),  # nothing
    "user-leave-group": lambda t: ("users.change_groups", {"name": t.user, "group": t.group}),
    "group-job-cancel": lambda t: (
        "roster.cancel_group_job",
        {"group": t.quiet_group, "job": t.group_job},
    ),
    "stop-job-cancel": lambda t: ("servers.cancel_stop_job", {"job": t.stop_job}),
    "stop-many-confirm": lambda t: ("servers.stop_many", {"server": f"{t.user}/labs"}),
    # 1.2 s: labs is idler by now (else the running list, where "none matches" leads)
    "stop-idle-confirm": lambda t: ("servers.stop_idle", {"idle": "0.02", "unit": "minutes"}),
    "lessons": lambda t: ("lessons.index", {}),
    "lesson-new": lambda t: ("lessons.schedule_lesson", {"group": t.group}),
    "lesson": lambda t: ("lessons.change_lesson", {"group": t.group, "lesson": t.lesson}),
    "lesson-cancel": lambda t: ("lessons.cancel_lesson", {"group": t.group, "lesson": t.lesson}),
    # one person's account (labs runs: the rename page asks to stop it first), adding people
    "user-rename": lambda t: ("users.rename", {"name": t.user}),
    "user-admin": lambda t: ("users.admin_flag", {"name": t.user}),
    "user-delete": lambda t: ("users.delete", {"name": t.user}),
    "people-add": lambda t: ("people.add", {}),
    # the end of term: where to choose, a group's preview (nothing deleted), a finished job
    "end-of-term-choose": lambda t: ("people.end_of_term", {}),
    "end-of-term": lambda t: ("people.end_of_term", {"group": t.group}),
    "deletion-job": lambda t: ("people.deletion_job", {"job": t.deletion_job}),
    "deletion-job-cancel": lambda t: ("people.cancel_deletion_job", {"job": t.deletion_job}),
    "usage-person": lambda t: ("usage.person", {"user": t.user}),
    "usage-hub": lambda t: ("usage.hub", {}),  # every variant: tests/browser/test_usage_browser
    "group-usage": lambda t: ("usage.group", {"group": t.group}),
}
STATUS = {"group-not-found": 404}
# more pages of the one confirmation layout (server-remove and server-stop are checked in
# every variant): checked once, at a phone's width, in one scheme each
ONE_VARIANT = {
    "server-stop-default": ("phone", "dark"),
    "user-leave-group": ("phone", "light"),
    "group-job-cancel": ("phone", "dark"),
    "stop-job-cancel": ("phone", "light"),
    "user-rename": ("phone", "dark"),
    "user-admin": ("phone", "light"),
    "user-delete": ("phone", "dark"),
    "people-add": ("phone", "light"),
    "group-usage": ("phone", "dark"),  # its charts in every variant: tests/browser (usage)
    "end-of-term-choose": ("phone", "dark"),
    "deletion-job-cancel": ("phone", "light"),
    "usage-person": ("phone", "dark"),  # no record for its user: the charts' pages are the hub's
    "usage-hub": ("phone", "dark"),
}


def _variants():
    for name in PAGES:
        for layout in LAYOUTS:
            for scheme in SCHEMES:
                if ONE_VARIANT.get(name, (layout, scheme)) == (layout, scheme):
                    yield pytest.param(name, layout, scheme, id=f"{name}-{layout}-{scheme}")


# -- pages reached by sending a form: confirmations, refusals -------------------------------


def _add_preview(page, stack, t):
    _open(page, stack, "groups.show", name=t.group)
    form = page.get_by_test_id("add-members")
    form.get_by_label("Names").fill(f"{t.members[0]} {unique('nobody')}")
    form.get_by_role("button", name="Add members").click()
    expect(page.get_by_role("heading", name="Add members to")).to_be_visible()


def _remove_confirm(page, stack, t):
    _open(page, stack, "groups.show", name=t.group)
    page.get_by_test_id("members").get_by_role("checkbox", name=f"Select {t.members[0]}").check()
    page.get_by_role("button", name="Remove selected…").click()
    expect(page.get_by_role("heading", name="Remove 1 member from")).to_be_visible()


def _sync_preview(page, stack, t):
    _open(page, stack, "groups.sync", name=t.group)
    page.get_by_test_id("roster").get_by_label("Names").fill(f"{t.members[0]} {unique('nobody')}")
    page.get_by_role("button", name="Show the changes").click()
    expect(page.get_by_role("heading", name="to the roster?")).to_be_visible()


def _properties_preview(page, stack, t):
    _open(page, stack, "groups.properties", name=t.group)
    form = page.get_by_test_id("properties-form")
    n = form.locator("input[name=key]").count()
    form.get_by_label(f"Key {n}", exact=True).fill("room")
    form.get_by_label(f"Value {n}", exact=True).fill("B-204, the one with the broken projector")
    page.get_by_role("button", name="Review changes").click()
    expect(page.get_by_test_id("property-changes")).to_be_visible()


def _group_stop_confirm(page, stack, t):
    _open(page, stack, "roster.group_servers", group=t.group)
    page.get_by_test_id("stop-panel").locator("summary").click()  # the folded stop form
    page.get_by_test_id("group-stop").get_by_role("button").first.click()  # for everyone
    expect(page.get_by_role("heading", level=1, name=re.compile(r"^Stop .*\?$"))).to_be_visible()


def _add_refused(page, stack, t):
    _open(page, stack, "groups.show", name=t.group)
    form = page.get_by_test_id("add-members")
    form.get_by_label("Names").fill(" ,  ")
    form.get_by_role("button", name="Add members").click()
    expect(page.get_by_test_id("add-members").locator(".invalid-feedback")).to_be_visible()


def _start_refused(page, stack, t):
    _open(page, stack, "users.show", name=t.user)
    box = page.get_by_test_id("start-server")
    box.locator("summary").click()
    box.get_by_label("Server name").fill("Not a name!")
    box.get_by_role("button", name="Start server").click()
    expect(page.get_by_test_id("field-error")).to_be_visible()  # beside the refused field
    expect(page.get_by_label("Server name")).to_be_focused()


FLOWS = {
    "add-preview": _add_preview,
    "remove-confirm": _remove_confirm,
    "sync-preview": _sync_preview,
    "properties-preview": _properties_preview,
    "group-stop-confirm": _group_stop_confirm,
    # refusals: the page again, with what was wrong
    "add-refused": _add_refused,
    "start-refused": _start_refused,
}


# -- the objects ----------------------------------------------------------------------------


def _server(stack, user, name):
    return (stack.api.get_user(user, include_stopped_servers=True).get("servers") or {}).get(name)


def _settled(stack, user, name, ready: bool):
    s = _server(stack, user, name)
    return bool(s) and not s.get("pending") and bool(s.get("ready")) == ready


@pytest.fixture(scope="module")
def things(stack):
    group = unique("aclassnamewithoutspacesthatisfartoolongforaphone")
    quiet_group = unique("phone-quiet")
    long_name = unique("averyveryverylongusernamewithoutanybreakopportunity")
    members = sorted([unique("ana"), unique("bo"), long_name])
    user = unique("phone-user")
    extra = unique("late")
    leaver = unique("leaver")
    stack.api.create_users([*members, user, extra, leaver])
    stack.api.create_group(group, [*members, user])
    stack.api.create_group(quiet_group, [members[0]])
    stack.api.set_group_properties(
        group, {"term": "autumn", "limits": {"cpu": 2, "memory": "4G", "gpus": []}}
    )
    try:
        for server, profile in (("labs", "small"), ("old", "small"), ("bad", "broken")):
            stack.api.start_server(user, server, {"profile": profile})
        wait_for(lambda: _settled(stack, user, "labs", ready=True))
        wait_for(lambda: _settled(stack, user, "old", ready=True))
        stack.api.stop_server(user, "old")
        wait_for(lambda: _settled(stack, user, "old", ready=False))
        wait_for(lambda: _settled(stack, user, "bad", ready=False))

        admin = stack.signin("admin")
        app = stack.app
        # a membership change (done at once; its page stays), and a group action
        r = admin.post(
            stack.url(f"groups/{group}/add"),
            data={"csrf_token": csrf_token(admin.get(stack.url()).text), "names": extra},
        )
        assert r.status_code == 200, r.status_code
        members_job = shared(app).jobs.store.recent(group, ["members"], limit=1)[0].id
        wait_for(lambda: shared(app).jobs.store.get(members_job).done)
        r = admin.post(
            stack.url(f"groups/{quiet_group}/servers"),
            data={"csrf_token": csrf_token(r.text), "action": "stop", "confirm": "yes"},
        )
        assert "/servers/jobs/" in r.url, (r.status_code, r.url)
        group_job = r.url.rstrip("/").rpartition("/")[2]
        wait_for(lambda: shared(app).jobs.store.get(group_job).done)
        r = admin.post(  # a hub-wide stop, confirmed: its page
            stack.url("servers/stop"),
            data={
                "csrf_token": csrf_token(r.text),
                "confirm": "yes",
                "servers": json.dumps([[user, "old"]]),
            },
        )
        assert "/servers/jobs/" in r.url, (r.status_code, r.url)
        stop_job = r.url.rstrip("/").rpartition("/")[2]
        wait_for(lambda: shared(app).jobs.store.get(stop_job).done)
        lesson = {"server": "lesson", "profile": "small", "tz": "UTC", "day": "2099-01-05"}
        r = admin.post(
            stack.url(f"groups/{group}/lessons/new"),
            data={"csrf_token": csrf_token(r.text), "starts": "09:00", "ends": "10:30", **lesson},
        )
        assert r.status_code == 200, r.status_code
        (lesson_id,) = [lesson.id for lesson in shared(app).lessons.active([group])]
        # an end of term of one ticked account, confirmed by its count: its page
        r = admin.post(
            stack.url("people/end-of-term"),
            data={"csrf_token": csrf_token(r.text), "user": leaver},
        )
        r = admin.post(stack.url("people/end-of-term"), data={**form_fields(r.text), "typed": "1"})
        assert "/people/jobs/" in r.url, (r.status_code, r.url)
        deletion_job = r.url.rstrip("/").rpartition("/")[2]
        wait_for(lambda: shared(app).jobs.store.get(deletion_job).done)
        yield Things(
            group,
            members,
            long_name,
            quiet_group,
            user,
            members_job,
            group_job,
            stop_job,
            lesson_id,
            leaver,
            deletion_job,
        )
    finally:
        for lesson in shared(stack.app).lessons.active([group]):
            shared(stack.app).lessons.cancel(lesson.id, "admin")
        for name in ("labs", "old", "bad"):
            try:
                stack.api.stop_server(user, name, remove=True)
            except HubAPIError:
                pass
        wait_for(lambda: not any(_server(stack, user, n) for n in ("labs", "old", "bad")))
        for g in (group, quiet_group):
            try:
                stack.api.delete_group(g)
            except HubAPIError:
                pass
        for name in [*members, user, extra]:
            try:
                stack.api.request("DELETE", "users", name)
            except HubAPIError:
                pass


@pytest.fixture(scope="module")
def signed_in(browser, stack):
    """The admin's cookies (hub and hubdesk), to open each page in a fresh context."""
    context = browser.new_context(locale="en-US")
    try:
        sign_in(context.new_page(), stack, "admin")
        return context.storage_state()
    finally:
        context.close()


@pytest.fixture
def open_as_admin(browser, signed_in, request):
    """A page of a fresh context with the admin signed in, at a layout and in a colour scheme.

    ``page.problems`` collects what the console reports as an error (the CSP's refusals
    among them) and uncaught script errors. A failed test leaves each page's screenshot
    and HTML in test-artifacts/.
    """
    made = []

    def make(layout: str, scheme: str, *, javascript: bool = True):
        context = browser.new_context(
            viewport=LAYOUTS[layout],
            storage_state=signed_in,
            locale="en-US",
            java_script_enabled=javascript,
        )
        context.set_default_timeout(TIMEOUT_MS)
        page = context.new_page()
        page.emulate_media(color_scheme=scheme)
        page.problems = []

        def console(message):
            # the page's own status (a 404 page) is checked by _open, not counted twice here
            if message.type == "error" and message.location.get("url") != page.url:
                page.problems.append(f"console: {message.text} ({message.location.get('url')})")

        page.on("console", console)
        page.on("pageerror", lambda e: page.problems.append(f"script error: {e}"))
        made.append(page)
        return page

    yield make
    # loaded by pytest_plugins, not imported here: pytest rewrites its asserts only so
    failed = sys.modules["helpers.browser_plugin"]._failed(request.node)
    for n, page in enumerate(made):
        if failed:
            for path in save_artifacts(page, f"{request.node.name}-{n}"):
                print(f"saved {path}")
        page.context.close()


def _open(page, stack, endpoint, expected_status=200, **args):
    """Go to a hubdesk page by its endpoint, with the URL the app builds for it."""
    with stack.app.test_request_context():
        path = stack.app.url_for(endpoint, **args)
    response = page.goto(stack.hub.public_url + PREFIX.rstrip("/") + path)
    assert response is not None, path
    assert response.status == expected_status, (path, response.status)
    return response


# -- the checks -----------------------------------------------------------------------------

# How wide the page is, and the innermost elements that reach past the window (by their box
# or by what they hold), outside any box that scrolls or clips on its own
SIDEWAYS = """() => {
  const width = document.documentElement.clientWidth;
  const own = (el) => ["auto", "scroll", "hidden", "clip"].includes(getComputedStyle(el).overflowX);
  const clipped = (el) => {
    for (let p = el.parentElement; p && p !== document.body; p = p.parentElement) {
      if (own(p)) return true;
    }
    return false;
  };
  const reach = (el) => {
    const box = el.getBoundingClientRect();
    return Math.max(box.right, own(el) ? 0 : box.left + el.scrollWidth);
  };
  const wide = new Set([...document.body.querySelectorAll("*")].filter(
    (el) => el.getClientRects().length && reach(el) > width + 0.5 && !clipped(el)));
  const innermost = [...wide].filter((el) => ![...el.children].some((c) => wide.has(c)));
  const name = (el) => el.tagName.toLowerCase() + (el.id ? "#" + el.id : "")
    + [...el.classList].map((c) => "." + c).join("")
    + (el.dataset.testid ? `[data-testid=${el.dataset.testid}]` : "");
  return {
    scrollWidth: document.documentElement.scrollWidth, width,
    culprits: innermost.slice(0, 8).map((el) => `${name(el)} reaches ${Math.round(reach(el))} px: ${
      (el.textContent || "").trim().replace(/\\s+/g, " ").slice(0, 70)}`),
  };
}"""

DUPLICATE_IDS = """() => {
  const seen = {};
  document.querySelectorAll("[id]").forEach((el) => { seen[el.id] = (seen[el.id] || 0) + 1; });
  return Object.entries(seen).filter(([, n]) => n > 1).map(([id, n]) => `#${id} x${n}`);
}"""

# axe-core goes in by page.evaluate, which the page's CSP does not govern (add_script_tag would
# be refused): the contexts keep the CSP as in production, so a refusal of it shows up too
AXE = Axe()


def axe_report(violations) -> str:
    """axe-core's serious and critical findings, one block per rule, readable in a test log."""
    lines = []
    for v in violations:
        lines.append(f"  {v['id']} ({v['impact']}): {v['help']} — {v['helpUrl']}")
        for node in v["nodes"][:6]:
            lines.append(f"    at {' '.join(map(str, node['target']))}")
            lines.append(f"       {node['html'][:160]}")
            for why in (node.get("failureSummary") or "").splitlines()[1:3]:
                lines.append(f"       {why.strip()}")
        if len(v["nodes"]) > 6:
            lines.append(f"    … and {len(v['nodes']) - 6} more")
    return "\n".join(lines)


def check_page(page, layout: str, scheme: str) -> list[str]:
    """What is wrong with the page shown, as readable lines (empty: nothing)."""
    problems = []
    theme = page.evaluate("document.documentElement.dataset.bsTheme")
    if theme != scheme:
        problems.append(f"colour mode: data-bs-theme is {theme!r}, the browser asks for {scheme}")

    wide = page.evaluate(SIDEWAYS)
    if wide["scrollWidth"] > wide["width"] or wide["culprits"]:
        problems.append(
            f"scrolls sideways: {wide['scrollWidth']} px wide in a {wide['width']} px window"
            + "".join(f"\n    {c}" for c in wide["culprits"])
        )

    duplicates = page.evaluate(DUPLICATE_IDS)
    if duplicates:
        problems.append("ids used more than once: " + ", ".join(duplicates))

    problems += check_navbar(page, LAYOUTS[layout]["width"], folded=layout == "phone")

    results = AXE.run(page, options={"resultTypes": ["violations"]}).response
    serious = [v for v in results["violations"] if v["impact"] in SERIOUS]
    if serious:
        problems.append(f"axe-core {results['testEngine']['version']}:\n" + axe_report(serious))
    problems += page.problems
    return problems


def check_navbar(page, width: int, folded: bool) -> list[str]:
    """The navbar's links and “Sign out” can be reached within the window's width: when
    ``folded`` (390 px with JavaScript) by pressing the toggler, otherwise at once."""
    nav = page.get_by_role("navigation", name="hubdesk")
    sign_out = nav.get_by_role("button", name="Sign out")
    toggler = nav.get_by_role("button", name="Menu")
    if not nav.get_by_test_id("whoami").count():
        return []  # nobody signed in: no menu
    problems = []
    if folded:
        if not toggler.is_visible():
            return [f"navbar: no toggler shown at {width} px"]
        if sign_out.is_visible():
            problems.append("navbar: the menu is open before the toggler is pressed")
        toggler.click()
        try:
            expect(sign_out).to_be_visible(timeout=2_000)
        except AssertionError:
            return [*problems, "navbar: “Sign out” is not shown after pressing the toggler"]
        if toggler.get_attribute("aria-expanded") != "true":
            problems.append("navbar: the open toggler does not say aria-expanded=true")
    elif toggler.is_visible():
        problems.append(f"navbar: a toggler is shown at {width} px")
    for item in [*nav.get_by_role("link").all(), sign_out]:
        box = item.bounding_box()
        if not item.is_visible() or box is None or box["x"] < 0 or box["x"] + box["width"] > width:
            problems.append(f"navbar: “{item.inner_text()}” is not within the window")
    return problems


def _assert_fine(page, name, layout, scheme):
    problems = check_page(page, layout, scheme)
    if os.environ.get("HUBDESK_SAVE_PAGES"):  # to look at them: test-artifacts/pages/
        (ARTIFACTS / "pages").mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "pages" / f"{name}-{layout}-{scheme}.png"))
    assert not problems, f"{name} at {layout} width, {scheme}:\n- " + "\n- ".join(problems)


# -- the tests ------------------------------------------------------------------------------


def _rules_of(app, endpoint_args):
    """The URL rules the given (endpoint, args) build (a query string is no part of a rule)."""
    adapter = app.url_map.bind("localhost")
    with app.test_request_context():
        paths = [app.url_for(e, **a).partition("?")[0] for e, a in endpoint_args]
    return {adapter.match(path, method="GET", return_rule=True)[0].rule for path in paths}


def test_every_get_route_is_checked(stack):
    t = Things("g", ["a"], "a", "q", "u", "0" * 16, "0" * 16, "0" * 16, "0" * 16, "l", "0" * 16)
    checked = _rules_of(stack.app, [page(t) for page in PAGES.values()])
    for rule in stack.app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.endpoint in NOT_PAGES:
            continue
        assert rule.rule in checked, f"GET {rule.rule} ({rule.endpoint}): add it to PAGES"


def _wait_until_settled(page):
    """Pages that change after loading (a spawn's progress) are checked once they stop."""
    events = page.get_by_test_id("events")
    if events.count():
        expect(events.locator("li.text-muted")).to_have_count(0)


@pytest.mark.parametrize(("name", "layout", "scheme"), list(_variants()))
def test_page(stack, things, open_as_admin, name, layout, scheme):
    page = open_as_admin(layout, scheme)
    endpoint, args = PAGES[name](things)
    _open(page, stack, endpoint, STATUS.get(name, 200), **args)
    _wait_until_settled(page)
    _assert_fine(page, name, layout, scheme)


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("name", FLOWS)
def test_page_reached_by_a_form(stack, things, open_as_admin, name, layout, scheme):
    page = open_as_admin(layout, scheme)
    FLOWS[name](page, stack, things)
    _assert_fine(page, name, layout, scheme)


def test_the_colour_mode_follows_a_change_of_preference(stack, open_as_admin):
    page = open_as_admin("desktop", "light")
    _open(page, stack, "main.home")
    expect(page.locator("html")).to_have_attribute("data-bs-theme", "light")
    light = page.evaluate("getComputedStyle(document.body).backgroundColor")
    page.emulate_media(color_scheme="dark")
    expect(page.locator("html")).to_have_attribute("data-bs-theme", "dark")
    assert page.evaluate("getComputedStyle(document.body).backgroundColor") != light


def test_the_menu_on_a_phone_works_with_the_keyboard(stack, open_as_admin):
    page = open_as_admin("phone", "light")
    _open(page, stack, "main.home")
    nav = page.get_by_role("navigation", name="hubdesk")
    toggler = nav.get_by_role("button", name="Menu")
    toggler.focus()
    page.keyboard.press("Enter")
    expect(toggler).to_have_attribute("aria-expanded", "true")
    page.keyboard.press("Tab")
    expect(nav.get_by_role("link", name="Groups")).to_be_focused()
    page.keyboard.press("Escape")  # closes the menu, and the focus goes back to the toggler
    expect(nav.get_by_role("button", name="Sign out")).to_be_hidden()
    expect(toggler).to_have_attribute("aria-expanded", "false")
    expect(toggler).to_be_focused()


@pytest.mark.parametrize("name", [name for name in PAGES if name not in ONE_VARIANT])
def test_page_on_a_phone_without_javascript(stack, things, open_as_admin, name):
    """Without JavaScript the toggler is hidden and the menu's links are shown, stacked."""
    page = open_as_admin("phone", "light", javascript=False)
    endpoint, args = PAGES[name](things)
    _open(page, stack, endpoint, STATUS.get(name, 200), **args)
    nav = page.get_by_role("navigation", name="hubdesk")
    expect(nav.get_by_role("button", name="Menu")).to_be_hidden()
    problems = check_navbar(page, LAYOUTS["phone"]["width"], folded=False)
    wide = page.evaluate(SIDEWAYS)
    if wide["scrollWidth"] > wide["width"] or wide["culprits"]:
        problems.append(f"scrolls sideways: {wide}")
    assert not problems, f"{name} at phone width without JavaScript:\n- " + "\n- ".join(problems)
