"""What a key may ask for: the models and tasks a managed key is limited to (lead reasoning
included). Checked when a request is accepted (gRPC and HTTP alike), before anything is held,
counted or forwarded."""

from __future__ import annotations

from collections.abc import Sequence

from tollgate.common.auth import ApiKey
from tollgate.common.errors import permission_denied
from tollgate.v1 import common_pb2


def _task_name(task: int) -> str:
    return common_pb2.TaskType.Name(task).removeprefix("TASK_TYPE_").lower()


def check_model(key: ApiKey, model: str) -> None:
    allowed = key.limits.allowed_models
    if not allowed or model in allowed:
        return
    names = ", ".join(sorted(allowed))
    if not model:
        raise permission_denied(
            f"API key {key.id!r} may only use the models {names}: name one in `model`."
        )
    raise permission_denied(f"API key {key.id!r} may not use model {model!r}; it may use {names}.")


def check_lead_reasoning(key: ApiKey, models: Sequence[str]) -> None:
    """Lead reasoning names no model: the orchestrator routes it (the small model, the default
    one as fallback), so it may run on any of `models`. A key limited to some models may ask for
    it only when all of those are among them; otherwise it is refused, never run on a model the
    key may not use (nor silently dropped: the caller asked for it)."""
    allowed = key.limits.allowed_models
    outside = sorted(set(models) - allowed) if allowed else []
    if not outside:
        return
    raise permission_denied(
        f"API key {key.id!r} may not ask for lead reasoning: it runs on "
        f"{', '.join(sorted(models))} and the key may use only {', '.join(sorted(allowed))}. "
        f"Send with_reasoning=false, or ask an administrator to allow {', '.join(outside)}."
    )


def check_task(key: ApiKey, task: int) -> None:
    allowed = key.limits.allowed_tasks
    # An unspecified task is a chat (common.proto).
    effective = task or common_pb2.TASK_TYPE_CHAT
    if not allowed or effective in allowed:
        return
    names = ", ".join(sorted(_task_name(t) for t in allowed))
    raise permission_denied(
        f"API key {key.id!r} may not run task {_task_name(effective)!r}; it may run {names}."
    )


def check_completion(key: ApiKey, model: str, task: int) -> None:
    check_model(key, model)
    check_task(key, task)
