"""Static files under versioned URLs, which browsers may then keep for a year.

``url_for('static', filename=…)`` gains ``?v=`` and a hash of the file. A request
carrying the current hash is answered as cacheable for a year and immutable, so a
navigation needs no request at all for the stylesheets and scripts (measured: they
were revalidated through the hub's proxy on every page, and held back its first
paint). A request without the hash, or with an old one, is revalidated as before.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from flask import request
from werkzeug.security import safe_join

YEAR = 365 * 24 * 3600


def init_app(app) -> None:
    root = app.static_folder
    versions: dict[str, str] = {}  # only files that exist: bounded by the static folder

    def version(filename: str) -> str:
        if filename not in versions:
            path = safe_join(root, filename) if root else None
            try:
                data = Path(path).read_bytes() if path and Path(path).is_file() else None
            except OSError:  # a name too long, a file that went away, …
                data = None
            if data is None:
                return ""  # no such file (or a path out of the folder): nothing to remember
            versions[filename] = hashlib.sha256(data).hexdigest()[:12]
        return versions[filename]

    @app.url_defaults
    def versioned(endpoint, values):
        if endpoint == "static" and "filename" in values and "v" not in values:
            v = version(values["filename"])
            if v:
                values["v"] = v

    revalidate = app.get_send_file_max_age

    def max_age(filename):
        v = request.args.get("v")
        if filename and v and v == version(filename):
            return YEAR
        return revalidate(filename)

    app.get_send_file_max_age = max_age

    @app.after_request
    def immutable(response):
        if request.endpoint == "static" and response.cache_control.max_age == YEAR:
            response.cache_control.immutable = True
            response.cache_control.public = True
        return response
