"""The WSGI application: the REST API on one listener, health and metrics on the other.

gunicorn binds both addresses in the same workers; :func:`wsgi_app` sends a request to the ops app
when it arrived on the metrics port (``SERVER_PORT`` is the listening socket's port under gunicorn)
and to the REST app otherwise. One process model, one set of workers, one metrics registry — and the
REST port never exposes ``/metrics``.
"""
from __future__ import annotations

from typing import Any, Callable, Iterable

import falcon

from server import errors, tracing
from server.access import AccessControl
from server.middleware import RequestMiddleware
from server.resources import Services
from server.routes import Route, ops_routes, rest_routes
from server.settings import Settings, port_of
from server.store import Store
from server.validation import Validators
from server.webhook_delivery import install as install_webhooks


def services_for(settings: Settings) -> Services:
    store = Store(settings)
    return Services(settings=settings, store=store, validators=Validators(store))


def _falcon_app(routes: list[Route], settings: Settings, access: AccessControl, limited: bool = True) -> falcon.App:
    cors = [falcon.CORSMiddleware(allow_origins=list(settings.cors_origins),
                                  expose_headers=["Retry-After", "WWW-Authenticate"])] if settings.cors_origins else []
    app = falcon.App(middleware=[*tracing.middleware(), *cors,
                                 RequestMiddleware({r.template: r.permission for r in routes}, access, limited,
                                                   client_certificates=bool(settings.tls_client_ca))])
    app.req_options.strip_url_path_trailing_slash = True
    app.req_options.auto_parse_qs_csv = False
    app.req_options.keep_blank_qs_values = True
    app.resp_options.secure_cookies_by_default = False
    errors.install(app)
    for route in routes:
        if route.suffix:
            app.add_route(route.template, route.resource, suffix=route.suffix)
        else:
            app.add_route(route.template, route.resource)
    return app


def create_app(settings: Settings, services: Services | None = None, access: AccessControl | None = None
               ) -> falcon.App:
    """The REST app (with health and metrics too when they share its listener)."""
    services = services or services_for(settings)
    routes = rest_routes(services)
    if settings.ops_on_rest_port:
        routes += ops_routes(services)
    return _falcon_app(routes, settings, access or AccessControl(settings))


def create_ops_app(settings: Settings, services: Services, access: AccessControl | None = None) -> falcon.App:
    """Health and metrics for the operations listener (never rate limited: probes must get through)."""
    return _falcon_app(ops_routes(services), settings, access or AccessControl(settings), limited=False)


WSGI = Callable[[dict, Callable[..., Any]], Iterable[bytes]]


def wsgi_app(settings: Settings) -> WSGI:
    """What gunicorn serves: one app, or a dispatcher by listening port."""
    services = services_for(settings)
    access = AccessControl(settings)   # one per worker: its caches of verified keys and tokens are shared
    rest = create_app(settings, services, access)
    install_webhooks(settings)   # webhooks: this worker delivers the events of the writes it performs
    if settings.ops_on_rest_port:
        return rest
    ops = create_ops_app(settings, services, access)
    ops_port = str(port_of(settings.metrics_bind))

    def dispatch(environ: dict, start_response: Callable[..., Any]) -> Iterable[bytes]:
        app = ops if environ.get("SERVER_PORT") == ops_port else rest
        return app(environ, start_response)

    return dispatch
