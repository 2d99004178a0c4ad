"""Generated requests from ``docs/openapi.yaml`` (schemathesis): the one loop the fuzz tests share."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

SPEC = Path(__file__).resolve().parents[2] / "docs" / "openapi.yaml"


def openapi_schema() -> Any:
    """The OpenAPI document as a schemathesis schema (filter it with ``.include``/``.exclude``)."""
    return schemathesis.openapi.from_path(str(SPEC))


def server_errors(api: Any, base_url: str, *, examples: int, timeout: float) -> list[str]:
    """Send ``examples`` generated requests per operation of ``api``; one line per operation that got a 5xx."""
    failures: list[str] = []
    for result in api.get_all_operations():
        operation = result.ok()

        @given(case=operation.as_strategy())
        @settings(max_examples=examples, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True,
                  database=None)
        def check(case) -> None:
            response = case.call(base_url=base_url, timeout=timeout)
            case.validate_response(response, checks=[not_a_server_error])

        try:
            check()
        except Exception as exc:  # noqa: BLE001 - collect every operation's failure, then report
            failures.append(f"{operation.label}: {exc}")
    return failures
