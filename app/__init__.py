"""hubdesk: an admin dashboard for JupyterHub groups and named servers.

Importing this package imports nothing else of hubdesk's: gunicorn loads
``hubdesk.gunicorn_conf`` (and so this file) before it may set
``PROMETHEUS_MULTIPROC_DIR``, which prometheus_client reads once, when first
imported. ``create_app`` (in ``hubdesk.factory``) is imported when first asked for.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .factory import create_app

__version__ = "0.1.0"
__all__ = ["create_app"]


def __getattr__(name: str):
    if name == "create_app":
        from .factory import create_app

        return create_app
    raise AttributeError(f"module 'hubdesk' has no attribute {name!r}")
