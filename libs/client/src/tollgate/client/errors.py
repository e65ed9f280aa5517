"""The one exception the client raises: a gateway status with its sentence and details."""

from __future__ import annotations

import grpc
from google.rpc import error_details_pb2, status_pb2

STATUS_DETAILS_KEY = "grpc-status-details-bin"


class TollgateError(Exception):
    """A call the gateway refused or could not complete."""

    def __init__(
        self,
        code: grpc.StatusCode,
        message: str,
        field_violations: dict[str, str] | None = None,
        metadata: dict[str, str] | None = None,
    ) -> None:
        super().__init__(f"{code.name}: {message}")
        self.code = code
        self.message = message
        self.field_violations = field_violations or {}
        self.metadata = metadata or {}

    @classmethod
    def from_rpc_error(cls, exc: grpc.aio.AioRpcError) -> TollgateError:
        violations: dict[str, str] = {}
        metadata: dict[str, str] = {}
        for key, value in exc.trailing_metadata() or ():
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
        return cls(exc.code(), exc.details() or "", violations, metadata)
