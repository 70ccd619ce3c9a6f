"""The WSGI entry point: ``gunicorn -c python:app.gunicorn_conf app.wsgi:application``."""

import sys

from app import create_app
from app.config import ConfigError

try:
    application = create_app()
except ConfigError as e:
    sys.stderr.write(f"hubdesk: configuration error: {e}\n")
    sys.exit(4)
