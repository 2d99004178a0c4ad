"""Requests generated from ``docs/openapi.yaml`` for every write operation never get a server error from a
writable server, and the repository it writes to stays a valid registry."""
from __future__ import annotations

from pathlib import Path

import pygit2
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from registry.snapshot import Snapshot
from tests.server.conftest import running
from tests.writes.conftest import make_template_registry, serve_args

SPEC = Path(__file__).resolve().parents[2] / "docs" / "openapi.yaml"


@pytest.mark.slow
def test_generated_writes_never_get_a_server_error(tmp_path):
    repo = make_template_registry(tmp_path / "registry")
    api = schemathesis.openapi.from_path(str(SPEC)).include(method=["POST", "PUT", "DELETE"]) \
        .exclude(path_regex=r"^/(health|metrics|catalog|webhooks|validate|schemas|compatibility)")
    failures: list[str] = []
    with running(serve_args(repo), tmp_path / "server.log") as server:
        for result in api.get_all_operations():
            operation = result.ok()

            @given(case=operation.as_strategy())
            @settings(max_examples=10, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True,
                      database=None)
            def check(case) -> None:
                response = case.call(base_url=server.url, timeout=30)
                case.validate_response(response, checks=[not_a_server_error])

            try:
                check()
            except Exception as exc:  # noqa: BLE001 - collect every operation's failure, then report
                failures.append(f"{operation.label}: {exc}")
    assert not failures, "\n\n".join(failures)
    assert Snapshot.open(repo).ledger, "the ledger still parses and holds every invariant"
    assert not pygit2.Repository(str(repo)).status()
