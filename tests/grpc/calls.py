"""Helpers of the gRPC tests: what a failed call carries."""
from __future__ import annotations

from typing import Any, Callable

import grpc
import pytest
from grpc_status import rpc_status

from server.grpc import registry_pb2 as pb


def failure(call: Callable[[], Any]) -> tuple[grpc.StatusCode, int, str]:
    """``(gRPC code, Confluent error code, message)`` of a call that must fail; checks that the
    google.rpc.Status details and the plain trailer agree."""
    with pytest.raises(grpc.RpcError) as info:
        call()
    error = info.value
    status = rpc_status.from_call(error)
    assert status is not None, f"no google.rpc.Status details: {error}"
    detail = pb.ErrorDetail()
    assert len(status.details) == 1 and status.details[0].Unpack(detail)
    assert dict(error.trailing_metadata())["llm-registry-error-code"] == str(detail.error_code)
    assert status.message == detail.message == error.details()
    return error.code(), detail.error_code, detail.message
