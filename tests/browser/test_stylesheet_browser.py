"""The pages with the subset of Bootstrap they load look, in a real Chromium, as they do with
the whole of Bootstrap (the subset's rules themselves: tests/unit/test_stylesheet.py)."""

import pytest
from helpers.browser import sign_in

# Every element's computed style, and its pseudo-elements' that are drawn, with the
# stylesheet the page links; then the page's Bootstrap swapped for the whole of it (once that
# styles the page) and the same again. Compared in the page: only what differs crosses over.
COMPARE = """async (href) => {
  // the pseudo-elements that exist: ::before/::after with content, a field's placeholder,
  // a list item's marker (the others are never drawn, and computing them was most of the time)
  const drawn = (el) => {
    const found = [null];
    for (const pseudo of ["::before", "::after"]) {
      const content = getComputedStyle(el, pseudo).content;
      if (content !== "none" && content !== "normal") found.push(pseudo);
    }
    if (el.matches("input, textarea")) found.push("::placeholder");
    if (getComputedStyle(el).display === "list-item") found.push("::marker");
    return found;
  };
  const styles = () => {
    const all = new Map();
    [...document.querySelectorAll("*")].forEach((el, n) => {
      for (const pseudo of drawn(el)) {
        const cs = getComputedStyle(el, pseudo);
        const props = [];
        for (let i = 0; i < cs.length; i++) props.push(`${cs[i]}:${cs.getPropertyValue(cs[i])}`);
        all.set(`${n} ${el.tagName}#${el.id}.${el.className}${pseudo || ""}`, props.join(";"));
      }
    });
    return all;
  };
  const withSubset = styles();
  const link = document.querySelector('link[rel=stylesheet][href*="vendor/bootstrap/"]');
  await new Promise((done) => {
    link.addEventListener("load", done, { once: true });
    link.href = href;
  });
  await new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)));
  const withFull = styles();
  const keys = new Set([...withSubset.keys(), ...withFull.keys()]);
  const differ = [...keys].filter((key) => withSubset.get(key) !== withFull.get(key));
  return { subset: withSubset.size, full: withFull.size, differ: differ.slice(0, 5) };
}"""
PAGES = [
    "",
    "groups/",
    "groups/class-a",
    "groups/class-a/servers",
    "users/",
    "users/student",
    "servers/",
    "activity",
    "status",
    "no-such-page",
]


@pytest.fixture(scope="module", params=[("light", 1200), ("dark", 390)], ids=["light", "dark"])
def admin_page(request, stack, browser):
    """A signed-in admin's page in one colour scheme and width, shared by the module's pages."""
    scheme, width = request.param
    # no transitions: the swap must not catch a colour halfway
    context = browser.new_context(
        viewport={"width": width, "height": 800}, color_scheme=scheme, reduced_motion="reduce"
    )
    page = context.new_page()
    sign_in(page, stack, "admin")
    yield page
    context.close()


@pytest.mark.browser
@pytest.mark.parametrize("path", PAGES)
def test_every_page_looks_the_same_as_with_the_whole_of_bootstrap(stack, admin_page, path):
    admin_page.goto(stack.url(path))
    assert "bootstrap.subset.min.css" in admin_page.content(), path
    found = admin_page.evaluate(COMPARE, stack.url("static/vendor/bootstrap/bootstrap.min.css"))
    assert found["subset"] == found["full"] > 50, path  # elements and drawn pseudo-elements
    assert not found["differ"], f"{path}: styled otherwise by the subset: {found['differ']}"
