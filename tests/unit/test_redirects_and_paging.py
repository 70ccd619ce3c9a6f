"""Where sign-in may send a browser back to, and page offsets (plain unit tests, no hub)."""

from __future__ import annotations

import pytest
from hubdesk import create_app
from hubdesk.auth import MAX_NEXT, safe_next
from hubdesk.paging import MAX_OFFSET, int_arg

HOME = "/services/hubdesk/"
CONFIG = {
    "JUPYTERHUB_API_URL": "http://hub:8081/hub/api",
    "JUPYTERHUB_API_TOKEN": "t" * 32,
    "HUBDESK_SECRET_KEY": "k" * 64,
}


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    return create_app(dict(CONFIG, HUBDESK_STATE_DIR=str(tmp_path_factory.mktemp("state"))))


def at(app, query: str = ""):
    """A request inside hubdesk, mounted at its service prefix as in production."""
    return app.test_request_context("/" + query, base_url="http://hub.example" + HOME)


@pytest.mark.parametrize(
    "target",
    [
        "/services/hubdesk/groups/",
        "/services/hubdesk/groups/?q=class&offset=50",
        "/services/hubdesk/groups/a%2Fb",
        "/services/hubdesk/users/x..y",
    ],
)
def test_a_page_inside_hubdesk_is_kept(app, target):
    with at(app):
        assert safe_next(target) == target


@pytest.mark.parametrize(
    "target",
    [
        None,
        "",
        "https://evil.example/",
        "//evil.example/",
        "/hub/admin",
        "/services/hubdesk-other/",
        "/services/hubdesk/../../hub/admin",
        "/services/hubdesk/%2e%2e/%2E%2E/hub/admin",
        "/services/hubdesk/..",
        "/services/hubdesk/./groups/",
        "/services/hubdesk/\r\nSet-Cookie: x=1",
        "/services/hubdesk/\\evil",
    ],
)
def test_anything_else_goes_home(app, target):
    with at(app):
        assert safe_next(target) == HOME


def test_a_long_deep_link_keeps_only_its_page(app):
    page = "/services/hubdesk/groups/"
    with at(app):
        assert safe_next(page + "?q=" + "x" * MAX_NEXT) == page
        assert safe_next(page + "x" * MAX_NEXT) == HOME
        assert len(safe_next(page + "?q=" + "x" * (MAX_NEXT - 40))) <= MAX_NEXT


@pytest.mark.parametrize(
    ("given", "read"),
    [
        ("", 7),
        ("abc", 7),
        ("25.0", 7),
        ("-5", 0),
        ("0", 0),
        ("50", 50),
        (str(2**63), MAX_OFFSET),
        ("9" * 30, MAX_OFFSET),
    ],
)
def test_offsets_are_whole_numbers_within_what_the_hub_takes(app, given, read):
    with at(app, f"?offset={given}"):
        assert int_arg("offset", 7) == read


def test_a_page_size_must_be_one_offered(app):
    with at(app, "?limit=30"):
        assert int_arg("limit", 50, allowed=(25, 50)) == 50


@pytest.mark.parametrize(
    "query",
    [
        "_method=POST",
        "_external=1",
        "_anchor=evil",
        "_scheme=javascript",
        "name=other-group",
        "offset=50&limit=25&_external=1&_scheme=https&_anchor=x&_method=DELETE",
    ],
)
def test_query_arguments_never_become_url_for_keywords(app, query):
    """A page's own links keep its address; what the query says stays in the query."""
    from urllib.parse import parse_qs, urlparse

    from hubdesk.paging import page_url

    with app.test_request_context(
        f"/groups/class-a?{query}&moffset=50", base_url="http://hub.example" + HOME
    ):
        from flask import request

        link = page_url(request.endpoint, moffset=100)
    parsed = urlparse(link)
    assert not parsed.scheme and not parsed.netloc and not parsed.fragment, link
    assert parsed.path == "/services/hubdesk/groups/class-a", link
    sent = parse_qs(query)
    assert {k: v for k, v in parse_qs(parsed.query).items() if k != "moffset"} == sent
    assert parse_qs(parsed.query)["moffset"] == ["100"]
