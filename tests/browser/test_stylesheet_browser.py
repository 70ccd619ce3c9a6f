"""The pages with the subset of Bootstrap they load look, in a real Chromium, as they do with
the whole of Bootstrap (the subset's rules themselves: tests/unit/test_stylesheet.py)."""

import pytest
from helpers.browser import sign_in

# Every element's computed style, pseudo-elements too, with the stylesheet the page links
STYLES = """() => [...document.querySelectorAll("*")].flatMap((el) =>
  [null, "::before", "::after", "::placeholder", "::marker"].map((pseudo) => {
    const cs = getComputedStyle(el, pseudo);
    const props = [];
    for (let i = 0; i < cs.length; i++) props.push(`${cs[i]}:${cs.getPropertyValue(cs[i])}`);
    return `${el.tagName}#${el.id}.${el.className}${pseudo || ""} ${props.join(";")}`;
  }))"""
# The page's Bootstrap swapped for another sheet, once that one styles the page
SWAP = """async (href) => {
  const link = document.querySelector('link[rel=stylesheet][href*="vendor/bootstrap/"]');
  await new Promise((done) => {
    link.addEventListener("load", done, { once: true });
    link.href = href;
  });
  await new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)));
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


@pytest.mark.browser
@pytest.mark.parametrize(("scheme", "width"), [("light", 1200), ("dark", 390)])
def test_every_page_looks_the_same_as_with_the_whole_of_bootstrap(stack, browser, scheme, width):
    # no transitions: the swap must not catch a colour halfway
    context = browser.new_context(
        viewport={"width": width, "height": 800}, color_scheme=scheme, reduced_motion="reduce"
    )
    try:
        page = context.new_page()
        sign_in(page, stack, "admin")
        for path in PAGES:
            page.goto(stack.url(path))
            assert "bootstrap.subset.min.css" in page.content(), path
            with_subset = page.evaluate(STYLES)
            page.evaluate(SWAP, stack.url("static/vendor/bootstrap/bootstrap.min.css"))
            with_full = page.evaluate(STYLES)
            assert len(with_subset) == len(with_full) > 100, path
            differ = [
                a.split(" ", 1)[0] for a, b in zip(with_full, with_subset, strict=True) if a != b
            ]
            assert not differ, f"{path}: styled otherwise by the subset: {differ[:5]}"
    finally:
        context.close()
