"""Security headers on every answer, no caching of pages about people, and names in
addresses no longer than the hub's."""

from __future__ import annotations

from flask import abort, request

NAME = 255  # the hub keeps user, group and server names in columns this long

# no inline script or style anywhere: every page's JavaScript is a file under static/
CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",  # Bootstrap draws its form arrows as data: SVGs
        "connect-src 'self'",  # the progress stream
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "object-src 'none'",
    ]
)


def init_app(app) -> None:
    @app.before_request
    def names_in_the_address_fit():
        # a 70 KB name would reach the hub only to fail there in a misleading way
        for value in (request.view_args or {}).values():
            if isinstance(value, str) and len(value) > NAME:
                abort(
                    400,
                    description=f"That name is too long: the hub's names have at most {NAME} "
                    f"characters, and this one has {len(value):,}.",
                )

    @app.after_request
    def security_headers(response):
        headers = response.headers
        headers.setdefault("Content-Security-Policy", CSP)
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("Referrer-Policy", "same-origin")
        # No Cross-Origin-Opener-Policy, as the hub's own pages send none. hubdesk shares the
        # hub's origin with those pages (and, without subdomains, with the users' servers):
        # COOP does nothing between same-origin pages, and a cross-origin opener that wants a
        # handle on this origin opens /hub/home instead. What it did do: every first visit to
        # hubdesk (a bookmark, a typed address, a link from elsewhere) put it in a new browsing
        # context group, so Chromium started a cold renderer for it: its rows showed 30-80 ms
        # later (benchmarks/bench_rows.py). Framing stays refused (frame-ancestors, X-Frame-
        # Options) and the links hubdesk opens in a new tab are rel="noopener".
        if request.is_secure:
            headers.setdefault("Strict-Transport-Security", "max-age=31536000")
        if request.endpoint != "static":
            # pages show people, servers and tokens' reach: never keep them in a cache
            headers.setdefault("Cache-Control", "no-store")
        return response
