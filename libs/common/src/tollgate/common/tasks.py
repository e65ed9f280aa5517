"""Task names, one table for every service: the names settings, cache keys, reports and metrics
use ("chat", "lead_analysis", ...), from the TaskType enum of common.proto.

An unspecified task is chat (as common.proto says); a value this build does not know is refused
with UnknownTaskError, never renamed or guessed.
"""

from __future__ import annotations

from tollgate.v1 import common_pb2

_PREFIX = "TASK_TYPE_"
DEFAULT_TASK = "chat"

TASK_NAMES: dict[int, str] = {
    value: name.removeprefix(_PREFIX).lower()
    for name, value in common_pb2.TaskType.items()
    if value != common_pb2.TASK_TYPE_UNSPECIFIED
}


class UnknownTaskError(ValueError):
    """A RequestContext.task value this build does not know."""


def task_name(task: int) -> str:
    """The name of a TaskType value; unspecified is chat."""
    if task == common_pb2.TASK_TYPE_UNSPECIFIED:
        return DEFAULT_TASK
    try:
        return TASK_NAMES[task]
    except KeyError:
        raise UnknownTaskError(f"unknown task type {task}") from None
