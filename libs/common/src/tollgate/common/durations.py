"""Seconds as a protobuf Duration, the one way every service builds one."""

from __future__ import annotations

from google.protobuf import duration_pb2


def duration(seconds: float) -> duration_pb2.Duration:
    value = duration_pb2.Duration()
    value.FromNanoseconds(int(seconds * 1e9))
    return value
