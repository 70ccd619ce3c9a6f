"""The WSGI entry point: ``gunicorn -c python:hubdesk.gunicorn_conf hubdesk.wsgi:application``."""

from hubdesk import create_app
from hubdesk.config import ConfigError

try:
    application = create_app()
except ConfigError as e:
    from hubdesk.logs import stop_on_config_error

    stop_on_config_error(e)
