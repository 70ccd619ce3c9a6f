"""The only module that speaks HTTP to the JupyterHub REST API.

One pooled ``requests.Session`` per process; every call has connect and read
timeouts; only idempotent reads are retried (connection errors, 502/503/504).
Hub errors become :class:`HubAPIError` carrying the status and the hub's own
message; a hub that cannot be reached becomes :class:`HubUnreachable`.

The token travels only in the ``Authorization`` header: it is never part of a
URL, a log line or an exception message.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from http import HTTPStatus
from urllib.parse import quote

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import NewConnectionError, ReadTimeoutError
from urllib3.util.retry import Retry

log = logging.getLogger(__name__)

PAGINATION_ACCEPT = "application/jupyterhub-pagination+json"
# the hub's api_page_max_limit default; larger pages are silently cut to it
MAX_PAGE = 200
# a page of MAX_PAGE users costs the hub about as much as this many one-user GETs
LIST_PAGE_COST = 12


class HubError(Exception):
    """Something went wrong talking to the hub."""


class HubUnreachable(HubError):
    """The hub could not be reached, or did not answer in time."""

    def __init__(self, reason: str, *, maybe_applied: bool = False):
        self.reason = reason
        # a request that timed out after it was sent may still have been carried out
        self.maybe_applied = maybe_applied
        super().__init__(f"The hub could not be reached: {reason}")


class HubAPIError(HubError):
    """The hub answered with an error status."""

    def __init__(self, status: int, message: str, *, method: str = "", path: str = ""):
        self.status = status
        self.message = message
        self.method = method
        self.path = path
        super().__init__(f"{status}: {message}")


@dataclass
class Page:
    """One page of a paginated hub list."""

    items: list
    offset: int
    limit: int
    total: int | None
    next_offset: int | None


def _quote(segment: str) -> str:
    # names may hold '/', '?', '#', '%', spaces or non-Latin letters; a name that is
    # "." or ".." must stay a name, not become a step up the path (urllib3 resolves
    # dot segments: /groups/.. would be sent as /hub/api/)
    text = str(segment)
    if text in (".", ".."):
        return "%2E" * len(text)
    return quote(text, safe="")


def _error_message(response: requests.Response) -> str:
    """The hub's own words for an error (``No such user: x``), else the reason phrase."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and body.get("message"):
        return str(body["message"])
    try:
        return HTTPStatus(response.status_code).phrase
    except ValueError:
        return f"HTTP {response.status_code}"


def major_of(version: str) -> int:
    """A hub version's major number ("6.1.1" → 6); 6 when it cannot be read."""
    try:
        return int(version.split(".")[0])
    except ValueError:
        return 6


def start_body(user_options: dict | None, *, display_name: str = "", hub_major: int) -> dict | None:
    """The body of a start request, in the shape the hub's major version reads.

    JupyterHub 5.x takes the user_options themselves, flat (it has no display names).
    6.x takes ``{"user_options": {...}, "display_name": "..."}`` and reads a flat body as
    user_options only when it holds neither key: options that happen to hold a
    ``display_name`` would be taken for the new shape and dropped, so on 6.x they are
    always wrapped. No options and no name: no body (the hub keeps the previous options).
    """
    if hub_major < 6:
        return user_options or None
    body = {}
    if user_options:
        body["user_options"] = user_options
    if display_name:
        body["display_name"] = display_name
    return body or None


def while_away(read, *, seconds: float, waiting=None):
    """``read()``, asked again while the hub cannot be reached (a restart, say).

    Pauses of 0.5 s, doubling up to 5 s, for at most ``seconds``; ``waiting()`` is
    called before each pause. When the hub stays away, its last HubUnreachable is
    raised. Only for reads: a change must never be sent twice.
    """
    deadline = time.monotonic() + seconds
    pause = 0.5
    while True:
        try:
            return read()
        except HubUnreachable:
            if time.monotonic() + pause > deadline:
                raise
            if waiting:
                waiting()
            time.sleep(pause)
            pause = min(pause * 2, 5)


def make_session(
    *, retries: int = 2, pool_size: int = 20, url: str | None = None
) -> requests.Session:
    """A pooled session that retries only what is safe to retry.

    With ``url`` (the hub's API), the environment's proxy settings for it (``HTTPS_PROXY``,
    ``NO_PROXY``, …) are read once, here: requests otherwise scans the whole environment
    on every call, which costs more than the rest of its work on a fast hub call.
    """
    retry = Retry(
        total=retries,
        connect=retries,  # the request never left: safe for any method
        read=False,  # a read timeout already waited HUBDESK_READ_TIMEOUT: do not wait again
        status=retries,
        other=0,
        allowed_methods=frozenset({"GET", "HEAD", "OPTIONS"}),
        status_forcelist=(502, 503, 504),
        backoff_factor=0.2,
        raise_on_status=False,
        respect_retry_after_header=True,
    )
    session = requests.Session()
    adapter = HTTPAdapter(max_retries=retry, pool_connections=4, pool_maxsize=pool_size)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.headers["User-Agent"] = "hubdesk"
    if url is not None:
        session.proxies.update(requests.utils.get_environ_proxies(url))
        session.trust_env = False
    return session


def environ_verify(verify: bool | str) -> bool | str:
    """``verify`` as requests would settle it from the environment (REQUESTS_CA_BUNDLE, …)."""
    if verify is True:
        return os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True
    return verify


class HubClient:
    """A client for one hub API, acting with one token.

    ``for_token()`` gives a client acting as someone else (a signed-in person's
    OAuth token) that shares the same connection pool.
    """

    def __init__(
        self,
        api_url: str,
        token: str,
        *,
        verify: bool | str = True,
        timeout: tuple[float, float] = (3.05, 30.0),
        session: requests.Session | None = None,
        audit=None,
        observe=None,
    ):
        self.api_url = api_url.rstrip("/")
        # for every request that is not a read: audit.before_change(method, segments, body)
        # before it is sent (if that raises, nothing is sent), audit.after_change(its
        # answer, outcome) after; so no change escapes the audit trail
        self.audit = audit
        # called as observe(method, segments, status or error kind, seconds) for every call
        self.observe = observe
        self._token = token
        self.verify = verify
        self.timeout = timeout
        self.session = session or make_session()

    def __repr__(self):
        return f"<HubClient {self.api_url}>"

    def for_token(self, token: str) -> HubClient:
        """The same hub and pool, acting with another token."""
        return HubClient(
            self.api_url,
            token,
            verify=self.verify,
            timeout=self.timeout,
            session=self.session,
            audit=self.audit,
            observe=self.observe,
        )

    # -- plumbing ---------------------------------------------------------------

    def url(self, *segments: str) -> str:
        return "/".join([self.api_url, *map(_quote, segments)])

    def request(
        self,
        method: str,
        *segments: str,
        params: dict | None = None,
        json=None,
        data=None,
        headers: dict | None = None,
        timeout: tuple[float, float] | None = None,
        auth: bool = True,
    ) -> requests.Response:
        """Send one request; raise HubAPIError for 4xx/5xx and HubUnreachable when down."""
        if method in ("GET", "HEAD") or self.audit is None:
            return self._send(method, segments, params, json, data, headers, timeout, auth)
        intent = self.audit.before_change(method, segments, json)
        try:
            response = self._send(method, segments, params, json, data, headers, timeout, auth)
        except HubAPIError as e:
            self.audit.after_change(intent, f"{e.status} {e.message}")
            raise
        except HubUnreachable as e:
            self.audit.after_change(intent, f"no answer: {e.reason}")
            raise
        self.audit.after_change(intent, response.status_code)
        return response

    def _send(self, method, segments, params, json, data, headers, timeout, auth):
        start = time.perf_counter()
        outcome = "unreachable"
        try:
            response = self._send_once(method, segments, params, json, data, headers, timeout, auth)
            outcome = response.status_code
            return response
        except HubAPIError as e:
            outcome = e.status
            raise
        finally:
            if self.observe is not None:
                self.observe(method, segments, outcome, time.perf_counter() - start)

    def _send_once(self, method, segments, params, json, data, headers, timeout, auth):
        change = method not in ("GET", "HEAD")
        path = "/" + "/".join(map(_quote, segments))
        all_headers = {"Accept": "application/json"}
        if auth:
            all_headers["Authorization"] = f"token {self._token}"
        all_headers.update(headers or {})
        start = time.perf_counter()
        try:
            response = self.session.request(
                method,
                self.api_url + path,
                params=params,
                json=json,
                data=data,
                headers=all_headers,
                timeout=timeout or self.timeout,
                verify=self.verify,
                allow_redirects=False,
            )
        except requests.ConnectTimeout:
            raise HubUnreachable("the connection timed out") from None
        except requests.Timeout:
            raise HubUnreachable(
                f"no answer within {(timeout or self.timeout)[1]:g} s", maybe_applied=change
            ) from None
        except requests.exceptions.SSLError:
            raise HubUnreachable("TLS verification failed (see HUBDESK_CA_BUNDLE)") from None
        except requests.ConnectionError as e:
            reason = getattr(e.args[0], "reason", e.args[0]) if e.args else None
            if isinstance(reason, ReadTimeoutError):
                raise HubUnreachable(
                    f"no answer within {(timeout or self.timeout)[1]:g} s", maybe_applied=change
                ) from None
            if isinstance(reason, NewConnectionError):
                raise HubUnreachable("connection refused") from None  # nothing was sent
            # sent, then the connection broke: a change may have been made
            raise HubUnreachable("the connection was lost", maybe_applied=change) from None
        except requests.RequestException:  # e.g. an answer cut short
            raise HubUnreachable("the answer broke off", maybe_applied=change) from None
        elapsed = (time.perf_counter() - start) * 1000
        log.debug("hub %s %s -> %s (%.1f ms)", method, path, response.status_code, elapsed)
        if response.status_code in (502, 503, 504):
            # the proxy in front of the hub answered: the hub itself is not there,
            # or (for a POST) may still be working on it
            raise HubUnreachable(
                f"{response.status_code} {_error_message(response)}",
                maybe_applied=method not in ("GET", "HEAD"),
            )
        if response.status_code >= 400:
            raise HubAPIError(
                response.status_code, _error_message(response), method=method, path=path
            )
        return response

    def get_json(self, *segments: str, params: dict | None = None):
        return self.request("GET", *segments, params=params).json()

    def page(self, *segments: str, offset: int = 0, limit: int = 50, params=None) -> Page:
        """One page of a paginated list (``/users``, ``/groups``, ``/proxy``)."""
        query = dict(
            params or {}, offset=max(0, int(offset)), limit=max(1, min(int(limit), MAX_PAGE))
        )
        body = self.request(
            "GET", *segments, params=query, headers={"Accept": PAGINATION_ACCEPT}
        ).json()
        if isinstance(body, list):  # an old hub without pagination
            return Page(body, query["offset"], query["limit"], None, None)
        info = body.get("_pagination") or {}
        nxt = info.get("next")
        return Page(
            items=body.get("items", []),
            offset=info.get("offset", query["offset"]),
            limit=info.get("limit", query["limit"]),
            total=info.get("total"),
            next_offset=nxt.get("offset") if nxt else None,
        )

    def iter_items(self, *segments: str, params=None, page_size: int = MAX_PAGE) -> Iterator:
        """Every item of a paginated list, following ``_pagination.next``."""
        offset = 0
        while True:
            page = self.page(*segments, offset=offset, limit=page_size, params=params)
            yield from page.items
            if page.next_offset is None or not page.items:
                return
            offset = page.next_offset

    # -- the hub ----------------------------------------------------------------

    def version(self, *, timeout: tuple[float, float] | None = None) -> str:
        """The hub's version (``GET /``, no token needed)."""
        return self.request("GET", auth=False, timeout=timeout).json()["version"]

    def whoami(self) -> dict:
        """The model of this client's token owner, with the token's expanded scopes."""
        return self.get_json("user")

    def token_for_code(
        self, *, client_id: str, code: str, redirect_uri: str, code_verifier: str
    ) -> str:
        """Finish OAuth: trade a code for the person's access token.

        The client secret of a service is its API token, i.e. this client's token.
        """
        body = self.request(
            "POST",
            "oauth2",
            "token",
            data={
                "client_id": client_id,
                "client_secret": self._token,
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": redirect_uri,
                "code_verifier": code_verifier,
            },
            auth=False,
        ).json()
        return body["access_token"]

    # -- tokens -----------------------------------------------------------------

    def create_token(
        self, user: str, scopes: list[str], *, note: str, expires_in: int | None = None
    ) -> dict:
        """A new API token of ``user`` holding these scopes (201): ``token``, ``id``,
        ``expires_at``, ``scopes``. Needs ``tokens`` on that user (a person's own: their
        sign-in holding ``tokens!user``); 403 without it, 400 when the hub refuses the
        scopes or the expiry (``token_expires_in_max_seconds``).

        The answer holds a secret: it is given back to the caller only, never logged.
        """
        body = {"scopes": list(scopes), "note": note, "expires_in": expires_in}
        return self.request("POST", "users", user, "tokens", json=body).json()

    def revoke_token(self, user: str, token_id: str) -> None:
        """Revoke one of ``user``'s tokens by its id (204); 404 when it is gone already.

        Revoking a sign-in (OAuth) token revokes every sign-in of that person to the same
        service: that is how the hub does it.
        """
        self.request("DELETE", "users", user, "tokens", token_id)

    def count(self, *segments: str, params=None) -> int | None:
        """How many items a paginated list has (one tiny page)."""
        return self.page(*segments, limit=1, params=params).total

    # -- groups -----------------------------------------------------------------

    def iter_groups(self) -> Iterator[dict]:
        return self.iter_items("groups")

    def get_group(self, name: str) -> dict:
        return self.get_json("groups", name)

    def create_group(self, name: str, users: list[str] | None = None) -> dict:
        """Create a group (201); 409 when it exists, 400 for an unknown member."""
        body = {"users": list(users)} if users else None
        return self.request("POST", "groups", name, json=body).json()

    def delete_group(self, name: str) -> None:
        self.request("DELETE", "groups", name)

    def add_group_members(self, name: str, users: list[str]) -> dict:
        """Add users to a group (adding a member again is not an error); 400 for an unknown user."""
        return self.request("POST", "groups", name, "users", json={"users": list(users)}).json()

    def remove_group_members(self, name: str, users: list[str]) -> dict:
        return self.request("DELETE", "groups", name, "users", json={"users": list(users)}).json()

    def set_group_properties(self, name: str, properties: dict) -> dict:
        """Replace a group's whole properties dict."""
        return self.request("PUT", "groups", name, "properties", json=properties).json()

    # -- users ------------------------------------------------------------------

    def list_users(self, *, offset: int = 0, limit: int = 50, **filters) -> Page:
        return self.page("users", offset=offset, limit=limit, params=filters)

    def get_user(self, name: str, *, include_stopped_servers: bool = False) -> dict:
        params = {"include_stopped_servers": "1"} if include_stopped_servers else None
        return self.get_json("users", name, params=params)

    def update_user(self, name: str, /, **changes) -> dict:
        """PATCH a user: ``name`` renames (their servers and groups stay theirs), ``admin``
        sets the flag. The hub refuses a non-admin caller who touches an admin or grants it."""
        return self.request("PATCH", "users", name, json=changes).json()

    def delete_user(self, name: str) -> None:
        """Delete a user (204). The hub stops a running default server itself, but fails
        (500, after the authenticator forgot them) while a named server is active: stop
        every server first. 400 while a server is stopping, 404 when already gone."""
        self.request("DELETE", "users", name)

    # -- servers ----------------------------------------------------------------

    @staticmethod
    def _server_path(user: str, server: str) -> tuple[str, ...]:
        # the default server ("") has its own endpoint
        return ("users", user, "servers", server) if server else ("users", user, "server")

    def start_server(
        self,
        user: str,
        server: str = "",
        user_options: dict | None = None,
        *,
        display_name: str = "",
        hub_major: int | None = None,
    ) -> int:
        """Start a server: 201 when ready, 202 while it comes up.

        The body's shape depends on the hub's major version (``start_body``); without
        ``hub_major`` the hub is asked for its version first.
        """
        if hub_major is None and (user_options or display_name):
            hub_major = major_of(self.version())
        body = start_body(user_options, display_name=display_name, hub_major=hub_major or 6)
        return self.request("POST", *self._server_path(user, server), json=body).status_code

    def stop_server(self, user: str, server: str = "", *, remove: bool = False) -> int:
        """Stop a server (204, or 202 while stopping); ``remove`` also deletes a named one."""
        body = {"remove": True} if remove else None
        return self.request("DELETE", *self._server_path(user, server), json=body).status_code

    def progress(
        self,
        user: str,
        server: str = "",
        *,
        seconds: float = 600,
        keepalive: bool = False,
        read_timeout: float = 60,
    ) -> Iterator[dict | None]:
        """The hub's spawn progress events (``text/event-stream``), as dicts, as they come.

        Ends with an event holding ``ready`` or ``failed``, or when the hub closes the
        stream, or after ``seconds``. 400 (HubAPIError) when the server is not starting.
        With ``keepalive``, the hub's keep-alive lines come through as ``None``.
        """
        path = "/" + "/".join(map(_quote, [*self._server_path(user, server), "progress"]))
        deadline = time.monotonic() + seconds
        try:
            with self.session.get(
                self.api_url + path,
                headers={"Authorization": f"token {self._token}", "Accept": "text/event-stream"},
                stream=True,
                # the hub sends a keep-alive line every few seconds
                timeout=(self.timeout[0], read_timeout),
                verify=self.verify,
                allow_redirects=False,
            ) as response:
                if response.status_code >= 400:
                    raise HubAPIError(
                        response.status_code, _error_message(response), method="GET", path=path
                    )
                # chunk_size=1: pass each event on as it comes (the default waits for 512 bytes)
                ended_event = False  # a blank line after "data:" ends that event
                for line in response.iter_lines(chunk_size=1, decode_unicode=True):
                    if not line:
                        if keepalive and not ended_event:
                            yield None
                        ended_event = False
                        continue
                    ended_event = line.startswith("data:")
                    if ended_event:
                        try:
                            event = json.loads(line[5:])
                        except ValueError:
                            continue
                        yield event
                        if event.get("ready") or event.get("failed"):
                            return
                    if time.monotonic() > deadline:
                        return
        except requests.RequestException:
            raise HubUnreachable("the progress stream broke off") from None

    def start_failure(self, user: str, server: str = "", *, seconds: float = 3) -> str | None:
        """Why the last start of a stopped server failed, while the hub remembers it.

        The hub's models have no trace of a failed start: only its progress stream says,
        at once, for a server that is not starting ("Spawn failed: …"), until the next start
        or a restart of the hub. None: it did not fail (400), or no answer within ``seconds``.
        """
        try:
            for event in self.progress(user, server, seconds=seconds, read_timeout=seconds):
                if event and event.get("failed"):
                    message = str(event.get("message") or "")
                    return message.removeprefix("Spawn failed: ").strip() or "the start failed"
                if event and event.get("ready"):
                    return None
        except HubAPIError as e:
            if e.status in (400, 404):  # not starting and not failed; or gone meanwhile
                return None
            raise
        except HubUnreachable:  # it was starting after all, and said nothing in time
            return None
        return None

    def start_failures(
        self, servers: Iterable[tuple[str, str]], *, workers: int = 8
    ) -> dict[tuple[str, str], str]:
        """:meth:`start_failure` for several (user, server) pairs, a few at a time."""
        servers = list(dict.fromkeys(servers))
        if not servers:
            return {}
        with ThreadPoolExecutor(max_workers=min(workers, len(servers))) as pool:
            found = zip(servers, pool.map(lambda us: self.start_failure(*us), servers), strict=True)
            return {pair: why for pair, why in found if why}

    def create_users(self, names: list[str], *, admin: bool = False) -> list[dict]:
        """Create users in one call (201); 409 if all exist, 400 for an invalid name (the
        whole call is refused then: "Invalid usernames: a, b"). Never ``POST /users/{name}``:
        it does not ask the authenticator whether the name is valid (5.5.4 and 6.1.1)."""
        body = {"usernames": list(names), **({"admin": True} if admin else {})}
        return self.request("POST", "users", json=body).json()

    def existing_users(self, names: Iterable[str], *, workers: int = 8) -> set[str]:
        """Which of these names are users on the hub (see :meth:`user_models`)."""
        return set(self.user_models(names, workers=workers))

    def user_models(
        self,
        names: Iterable[str],
        *,
        workers: int = 8,
        params: dict | None = None,
        by_name: bool = False,
    ) -> dict[str, dict]:
        """The hub's models of those of these names that are users, asked the cheaper of two ways.

        One small ``GET /users/{name}`` per name, a few at a time: O(names), right for a
        class list. For a long list on a hub with fewer pages of users than that, every
        user is listed instead, pages fetched a few at a time: 5,000 names on a
        10,000-user hub are 50 pages (~2 s), not 5,000 calls (~24 s, measured).
        ``by_name``: always the first way (a page of a roster: at most 200 names, and the
        hub's user count, asked to choose, would cost a call of its own on every page).
        """
        names = list(dict.fromkeys(names))
        if not names:
            return {}
        if len(names) > LIST_PAGE_COST and not by_name:
            try:
                total = self.count("users")
            except HubAPIError:
                total = None  # cannot list users (no list:users): ask name by name
            if total is not None and -(-total // MAX_PAGE) * LIST_PAGE_COST < len(names):
                wanted = set(names)
                offsets = range(0, total, MAX_PAGE)
                with ThreadPoolExecutor(max_workers=min(workers, len(offsets) or 1)) as pool:
                    pages = pool.map(
                        lambda o: self.page("users", offset=o, limit=MAX_PAGE, params=params),
                        offsets,
                    )
                    return {u["name"]: u for p in pages for u in p.items if u["name"] in wanted}

        def model(name):
            try:
                return self.get_json("users", name, params=params)
            except HubAPIError as e:
                if e.status == 404:
                    return None
                raise

        with ThreadPoolExecutor(max_workers=min(workers, len(names))) as pool:
            found = zip(names, pool.map(model, names), strict=True)
            return {name: m for name, m in found if m is not None}

    def group_roles(self, names: Iterable[str], *, workers: int = 8) -> dict[str, list[str]]:
        """The roles each of these groups grants its members (``roles`` of the group's model,
        present when this token holds ``read:roles:groups``); a group that is gone has none."""
        names = list(dict.fromkeys(names))

        def roles(name):
            try:
                return list(self.get_json("groups", name).get("roles") or ())
            except HubAPIError as e:
                if e.status == 404:
                    return []
                raise

        if not names:
            return {}
        with ThreadPoolExecutor(max_workers=min(workers, len(names))) as pool:
            return dict(zip(names, pool.map(roles, names), strict=True))
