"""The WSGI entry point: ``gunicorn -c python:app.gunicorn_conf app.wsgi:application``."""

from app import create_app
from app.config import ConfigError

try:
    application = create_app()
except ConfigError as e:
    from app.logs import stop_on_config_error

    stop_on_config_error(e)
