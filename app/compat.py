"""What hubdesk knows of the JupyterHub releases it talks to: pure, no HTTP and no Flask.

The status page and the health endpoint ask :func:`token_problem` with the version the hub
reports (its ``/hub/api`` answer, which health fetches anyway), so that an operator on an
affected hub reads why in words rather than guessing from 403s.
"""

from __future__ import annotations

import re

# The oldest supported release of each major line (README, "Compatibility"; pyproject's
# jupyterhub requirement says the same).
MINIMUM = {5: (5, 5, 4), 6: (6, 1, 1)}

# What zero-to-jupyterhub generates for each `hub.services` entry (64 hex characters).
GENERATED_TOKEN_LENGTH = 64

# Releases that refuse every API token of exactly 64 characters, as the hub's own
# compare_token refused a length >= 64 where it meant > 64; the next patch release fixed
# it. Read in the releases' code: 5.5.2 and 6.0.x have no such check, 5.5.3 and 6.1.0
# have the off-by-one, 5.5.4 and 6.1.1 the fix.
REFUSES_64_CHARACTER_TOKENS = {(5, 5, 3): "5.5.4", (6, 1, 0): "6.1.1"}


def release_of(version: str) -> tuple[int, int, int] | None:
    """``"6.1.0"`` (or ``"6.1.0rc1"``, ``"6.1.0.dev0"``) → ``(6, 1, 0)``; None if unreadable."""
    found = re.match(r"\s*v?(\d+)\.(\d+)\.(\d+)", version or "")
    return (int(found[1]), int(found[2]), int(found[3])) if found else None


def token_problem(version: str, token_length: int | None = None) -> str:
    """What this hub release does wrong with API tokens, in words; "" when nothing.

    ``token_length``: the length of hubdesk's own service token, when known: at exactly
    64 characters the affected hub refuses every call hubdesk makes, and sign-in too.
    """
    release = release_of(version)
    fixed = REFUSES_64_CHARACTER_TOKENS.get(release) if release else None
    if not fixed:
        return ""
    words = (
        f"JupyterHub {'.'.join(map(str, release))} rejects API tokens of exactly "
        f"{GENERATED_TOKEN_LENGTH} characters, the length zero-to-jupyterhub generates for "
        f"its services; upgrade the hub to {fixed} or newer."
    )
    if token_length == GENERATED_TOKEN_LENGTH:
        words += (
            f" hubdesk's own token is {GENERATED_TOKEN_LENGTH} characters long: the hub refuses "
            "every call hubdesk makes with it, and every sign-in."
        )
    return words


def refuses_own_token(version: str, token_length: int) -> bool:
    """Does this hub refuse hubdesk's own token (of this length) outright?"""
    release = release_of(version)
    return release in REFUSES_64_CHARACTER_TOKENS and token_length == GENERATED_TOKEN_LENGTH
