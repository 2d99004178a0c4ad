"""Requests generated from ``docs/openapi.yaml`` for every write operation never get a server error from a
writable server, and the repository it writes to stays a valid registry."""
from __future__ import annotations


import pygit2
import pytest

from registry.snapshot import Snapshot
from tests.server.conftest import running
from tests.server.fuzz import openapi_schema, server_errors
from tests.writes.conftest import make_template_registry, serve_args



@pytest.mark.slow
def test_generated_writes_never_get_a_server_error(tmp_path):
    repo = make_template_registry(tmp_path / "registry")
    api = openapi_schema().include(method=["POST", "PUT", "DELETE"]) \
        .exclude(path_regex=r"^/(health|metrics|catalog|webhooks|validate|schemas|compatibility)")
    with running(serve_args(repo), tmp_path / "server.log") as server:
        failures = server_errors(api, server.url, examples=10, timeout=30)
    assert not failures, "\n\n".join(failures)
    assert Snapshot.open(repo).ledger, "the ledger still parses and holds every invariant"
    assert not pygit2.Repository(str(repo)).status()
