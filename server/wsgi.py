"""WSGI entry point for running under any gunicorn command line, configured from the environment
(``DATABASE_URL``, ``REDIS_URL``, ``REGISTRY_REPO``, ``LOG_LEVEL``)."""
from server.app import wsgi_app
from server.settings import Settings

application = wsgi_app(Settings.from_env().with_embedded_index())
