from __future__ import annotations

import grpc
from google.rpc import error_details_pb2

from authcore.errors import InvalidArgument, ResourceExhausted, internal_status


def test_status_carries_reason_field_violations_and_retry() -> None:
    status = InvalidArgument("bad", reason="missing_field",
                             field_violations=[("userId", "is required")]).to_status()
    assert status.code == grpc.StatusCode.INVALID_ARGUMENT.value[0]
    info, bad = error_details_pb2.ErrorInfo(), error_details_pb2.BadRequest()
    assert status.details[0].Unpack(info) and info.reason == "missing_field"
    assert status.details[1].Unpack(bad) and bad.field_violations[0].field == "userId"

    limited = ResourceExhausted("slow down", retry_after=2.2).to_status()
    retry = error_details_pb2.RetryInfo()
    assert limited.details[-1].Unpack(retry) and retry.retry_delay.seconds == 3


def test_internal_status_has_no_text() -> None:
    status = internal_status()
    assert status.message == "internal error"
