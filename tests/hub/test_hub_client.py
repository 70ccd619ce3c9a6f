"""The hub client against the real hub: pagination, typed errors, names in URLs."""

import pytest
from helpers.stack import unique
from hubdesk.devhub import free_port
from hubdesk.hub import HubAPIError, HubClient, HubUnreachable, environ_verify, make_session


@pytest.fixture(scope="module")
def many_groups(stack):
    """More groups than one API page (the hub's default page is 50)."""
    prefix = unique("page")
    names = [f"{prefix}-{i:03d}" for i in range(60)]
    for name in names:
        stack.api.create_group(name)
    yield names
    for name in names:
        stack.api.delete_group(name)


def test_iterator_follows_pagination_across_pages(stack, many_groups):
    first = stack.api.page("groups", limit=50)
    assert len(first.items) == 50 and first.next_offset == 50
    assert first.total >= 62
    seen = [g["name"] for g in stack.api.iter_items("groups", page_size=50)]
    assert set(many_groups) <= set(seen)
    assert len(seen) == len(set(seen)) == first.total


def test_page_limit_is_capped_at_the_hub_maximum(stack, many_groups):
    page = stack.api.page("groups", limit=10_000)
    assert page.limit <= 200


@pytest.mark.parametrize(
    "name", ["a b", "x?y", "groupe-été", "50%", "a#b&c", "<script>x</script>", "日本語"]
)
def test_names_are_url_encoded(stack, name):
    name = f"{name}-{unique()}"
    created = stack.api.create_group(name)
    try:
        assert created["name"] == name
        assert stack.api.get_group(name)["name"] == name
    finally:
        stack.api.delete_group(name)


def test_hub_errors_carry_status_and_the_hubs_words(stack):
    name = unique("dup")
    stack.api.create_group(name)
    try:
        with pytest.raises(HubAPIError) as e:
            stack.api.create_group(name)
        assert e.value.status == 409
        assert name in e.value.message
    finally:
        stack.api.delete_group(name)
    with pytest.raises(HubAPIError) as e:
        stack.api.create_group(unique(), users=["no-such-person"])
    assert e.value.status == 400 and "no-such-person" in e.value.message
    with pytest.raises(HubAPIError) as e:
        stack.api.get_group(unique("missing"))
    assert e.value.status == 404


def test_a_bad_token_is_a_403_not_a_crash(stack):
    with pytest.raises(HubAPIError) as e:
        HubClient(stack.hub.api_url, "not-a-token").page("groups")
    assert e.value.status == 403
    assert "not-a-token" not in str(e.value)


def test_an_unreachable_hub_is_its_own_error(stack):
    dead = HubClient(f"http://127.0.0.1:{free_port()}/hub/api", stack.token, timeout=(0.5, 1))
    with pytest.raises(HubUnreachable) as e:
        dead.page("groups")
    assert stack.token not in str(e.value)
    assert not e.value.maybe_applied


def test_whoami_reports_the_service_and_its_scopes(stack):
    me = stack.api.whoami()
    assert me["kind"] == "service" and me["name"] == "hubdesk"
    assert "admin:groups" in me["scopes"]


@pytest.mark.parametrize(
    ("env", "proxies"),
    [
        ({}, {}),
        ({"HTTP_PROXY": "http://proxy:3128"}, {"http": "http://proxy:3128"}),
        ({"HTTP_PROXY": "http://proxy:3128", "NO_PROXY": "hub"}, {}),
    ],
)
def test_the_environment_is_read_once_for_the_hubs_url(monkeypatch, env, proxies):
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"):
        for variant in (name, name.lower()):
            monkeypatch.delenv(variant, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    session = make_session(url="http://hub:8081/hub/api")
    assert session.trust_env is False  # not scanned again on every call
    assert {k: v for k, v in session.proxies.items() if k != "no"} == proxies


def test_a_ca_bundle_from_the_environment_still_counts(monkeypatch, tmp_path):
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(tmp_path / "ca.pem"))
    assert environ_verify(True) == str(tmp_path / "ca.pem")
    assert environ_verify("/etc/hub-ca.pem") == "/etc/hub-ca.pem"  # HUBDESK_CA_BUNDLE wins
    assert environ_verify(False) is False
    monkeypatch.delenv("REQUESTS_CA_BUNDLE")
    assert environ_verify(True) is True


@pytest.fixture(scope="module")
def thirty_users(stack):
    names = [unique("exists") for _ in range(30)]
    stack.api.create_users(names)
    yield names
    for name in names:
        stack.api.request("DELETE", "users", name)


@pytest.mark.parametrize("how", ["one GET per name", "listed page by page"])
def test_existing_users_the_cheaper_way(stack, thirty_users, how, monkeypatch):
    client = stack.api
    calls = []
    send = client.request
    monkeypatch.setattr(client, "request", lambda *a, **k: calls.append(a[:2]) or send(*a, **k))
    unknown = [unique("nobody") for _ in range(30)]
    if how == "one GET per name":
        asked = thirty_users[:3] + unknown[:3]
        assert client.existing_users(asked + asked[:2]) == set(thirty_users[:3])
        assert len(calls) == 6  # duplicates asked once
    else:
        total = client.count("users")
        pages = -(-total // 200)
        assert pages * 12 < 60, total  # the test hub is small: listing is cheaper
        calls.clear()
        assert client.existing_users(thirty_users + unknown) == set(thirty_users)
        assert calls.count(("GET", "users")) == 1 + pages  # the count, then every page
        assert len(calls) == 1 + pages
