"""Which model answers a request: the one it names, else the task's configured model."""

from __future__ import annotations

from collections.abc import Mapping

from tollgate.v1 import common_pb2


def task_name(task: int) -> str:
    """`TASK_TYPE_LEAD_ANALYSIS` → "lead_analysis"; unspecified counts as chat."""
    if task == common_pb2.TASK_TYPE_UNSPECIFIED:
        return "chat"
    return common_pb2.TaskType.Name(task).removeprefix("TASK_TYPE_").lower()


def choose_model(
    request: common_pb2.ClaudeRequest, task: int, task_models: Mapping[str, str], default: str
) -> str:
    if request.model:
        return request.model
    return task_models.get(task_name(task), default)
