"""Task names as they appear in settings and in the cache key ("chat", "lead_analysis", ...)."""

from __future__ import annotations

from tollgate.v1 import common_pb2

_PREFIX = "TASK_TYPE_"

TASK_NAMES = frozenset(
    name.removeprefix(_PREFIX).lower()
    for name in common_pb2.TaskType.keys()  # noqa: SIM118 (an enum wrapper, not a dict)
    if name != "TASK_TYPE_UNSPECIFIED"
)


class UnknownTaskError(ValueError):
    """A RequestContext.task value this build of the service does not know."""


def task_name(task: int) -> str:
    """The settings name of a TaskType; unspecified is chat, as common.proto says."""
    if task == common_pb2.TASK_TYPE_UNSPECIFIED:
        return "chat"
    try:
        return common_pb2.TaskType.Name(task).removeprefix(_PREFIX).lower()
    except ValueError:
        raise UnknownTaskError(f"unknown task type {task}") from None
