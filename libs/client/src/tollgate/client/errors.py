"""The one exception the client raises: a gateway status with its sentence and details."""

from __future__ import annotations

import grpc
from google.rpc import error_details_pb2, status_pb2

STATUS_DETAILS_KEY = "grpc-status-details-bin"
REQUEST_ID_KEY = "x-request-id"
TRACE_ID_KEY = "x-trace-id"


class TollgateError(Exception):
    """A call the gateway refused or could not complete."""

    def __init__(
        self,
        code: grpc.StatusCode,
        message: str,
        field_violations: dict[str, str] | None = None,
        metadata: dict[str, str] | None = None,
        request_id: str = "",
        trace_id: str = "",
    ) -> None:
        super().__init__(f"{code.name}: {message}")
        self.code = code
        self.message = message
        self.field_violations = field_violations or {}
        self.metadata = metadata or {}
        # What to quote when reporting the failure: the gateway's logs and traces carry both.
        self.request_id = request_id
        self.trace_id = trace_id

    @classmethod
    def from_rpc_error(cls, exc: grpc.aio.AioRpcError) -> TollgateError:
        violations: dict[str, str] = {}
        metadata: dict[str, str] = {}
        correlation: dict[str, str] = {}
        for key, value in exc.trailing_metadata() or ():
            if key in (REQUEST_ID_KEY, TRACE_ID_KEY) and isinstance(value, str):
                correlation[key] = value
            if key != STATUS_DETAILS_KEY:
                continue
            status = status_pb2.Status.FromString(value)
            for detail in status.details:
                bad_request = error_details_pb2.BadRequest()
                info = error_details_pb2.ErrorInfo()
                if detail.Unpack(bad_request):
                    violations.update(
                        {v.field: v.description for v in bad_request.field_violations}
                    )
                elif detail.Unpack(info):
                    metadata.update(dict(info.metadata))
        return cls(
            exc.code(),
            exc.details() or "",
            violations,
            metadata,
            request_id=correlation.get(REQUEST_ID_KEY, ""),
            trace_id=correlation.get(TRACE_ID_KEY, ""),
        )
