"""What the hub says of itself and of hubdesk's service token: its version, and the token's
scopes. Asked at most once a minute per process; pages and jobs reach them through
``extensions.service_scopes()``, ``hub_version()`` and ``hub_major()``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .cache import TTLCache

if TYPE_CHECKING:
    from .hub import HubClient


class HubFacts:
    """The hub's answers, kept for ``seconds``: one per process (``Shared.hub_facts``)."""

    def __init__(self, hub: HubClient, seconds: float = 60):
        self.hub = hub
        self._cache = TTLCache(seconds)

    def scopes(self) -> frozenset:
        """The service token's own scopes: hubdesk offers nothing beyond them."""
        scopes = self._cache.get("scopes")
        if scopes is None:
            scopes = frozenset(self.hub.whoami().get("scopes", ()))
            self._cache.set("scopes", scopes)
        return scopes

    def version(self) -> str:
        version = self._cache.get("version")
        if version is None:
            version = self.hub.version()
            self._cache.set("version", version)
        return version
