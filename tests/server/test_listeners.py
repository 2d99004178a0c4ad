"""Health and metrics answer only on the operations listener — or on the REST one when both share a
port. The real app object, routed by the port a request arrived on (gunicorn's ``SERVER_PORT``)."""
from __future__ import annotations

from falcon.testing import TestClient, create_environ

from server.app import wsgi_app
from server.settings import Settings


def _get(app, path: str, port: int) -> tuple[str, bytes]:
    environ = create_environ(path, port=port)
    environ["SERVER_PORT"] = str(port)  # the listening socket's port, as gunicorn sets it
    status: list[str] = []
    body = b"".join(app(environ, lambda s, headers, exc_info=None: status.append(s)))
    return status[0], body


def test_two_listeners_route_by_port():
    app = wsgi_app(Settings(bind="127.0.0.1:18081", metrics_bind="127.0.0.1:18080"))
    assert _get(app, "/metrics", 18080)[0].startswith("200")
    assert _get(app, "/health/live", 18080)[0].startswith("200")
    assert _get(app, "/metrics", 18081)[0].startswith("404")  # never on the REST port
    assert _get(app, "/schemas/types", 18081)[0].startswith("200")
    assert _get(app, "/schemas/types", 18080)[0].startswith("404")


def test_one_port_serves_everything():
    client = TestClient(wsgi_app(Settings(bind="127.0.0.1:18081", metrics_bind="127.0.0.1:18081")))
    assert client.simulate_get("/health/live").json == {"status": "live"}
    metrics = client.simulate_get("/metrics")
    assert metrics.status_code == 200 and metrics.headers["Content-Type"].startswith("text/plain")
    assert client.simulate_get("/schemas/types").json == ["JSON", "PROTOBUF", "AVRO"]
    ready = client.simulate_get("/health/ready")
    assert ready.status_code == 503 and ready.json["index"]["configured"] is False  # no index: not ready
