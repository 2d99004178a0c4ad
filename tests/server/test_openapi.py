"""``docs/openapi.yaml`` and the app stay in step, and generated requests never get a server error."""
from __future__ import annotations

import os
import re

import pytest
import yaml

from server.app import create_app
from server.settings import Settings
from tests.server.fuzz import SPEC, openapi_schema, server_errors

# examples per operation; LLM_REGISTRY_FUZZ_EXAMPLES=200 for a deeper run by hand
EXAMPLES = int(os.environ.get("LLM_REGISTRY_FUZZ_EXAMPLES", "10"))
HTTP_METHODS = {"get", "post", "put", "delete", "patch", "head", "options"}


def _router_operations() -> set[tuple[str, str]]:
    """(method, path) of every responder the resources define, walking falcon's compiled router."""
    app = create_app(Settings(metrics_bind="", catalog_dir=str(SPEC.parent)))  # every optional route on
    found: set[tuple[str, str]] = set()

    def walk(nodes: list) -> None:
        for node in nodes:
            if node.resource is not None:
                path = re.sub(r"\{(\w+):\w+\}", r"{\1}", node.uri_template)  # {path:path} → {path}
                for method, responder in node.method_map.items():
                    if getattr(responder, "__self__", None) is node.resource:  # not falcon's 405/OPTIONS
                        found.add((method.lower(), path))
            walk(node.children)

    walk(app._router._roots)
    return found


def _spec_operations() -> set[tuple[str, str]]:
    spec = yaml.safe_load(SPEC.read_text())
    return {(method, path) for path, item in spec["paths"].items() for method in item if method in HTTP_METHODS}


def test_every_route_is_documented_and_every_documented_route_exists():
    routes, spec = _router_operations(), _spec_operations()
    assert routes - spec == set(), "routes missing from docs/openapi.yaml"
    assert spec - routes == set(), "docs/openapi.yaml documents routes the app does not have"


def test_every_get_route_answers_head():
    """HEAD on every GET route (issue 13): load balancers and HTTP tooling probe with HEAD."""
    routes = _router_operations()
    gets, heads = {p for m, p in routes if m == "get"}, {p for m, p in routes if m == "head"}
    assert gets and gets - heads == set()


@pytest.mark.slow
def test_generated_requests_never_get_a_server_error(any_server):
    """schemathesis generates bounded examples for every REST operation of the spec (health and
    metrics are on the other listener, the catalog is off in the test server), against SQLite and
    against PostgreSQL + Redis (which refuse different input: NUL characters, huge integers)."""
    server = any_server
    api = openapi_schema().exclude(path_regex=r"^/(health|metrics|catalog)")
    failures = server_errors(api, server.url, examples=EXAMPLES, timeout=20)
    assert not failures, "\n\n".join(failures)
