"""Which model answers a request, and which models stand in when it cannot.

A request that names its model gets it. Otherwise a short request of a size-routed task (a
classification-like job) goes to the small model, and anything else to its task's model. The
fallback chain is the task's configured fallbacks after the chosen model, kept to the models
the calling key may use.
"""

from __future__ import annotations

from tollgate.common.errors import permission_denied
from tollgate.common.tasks import task_name
from tollgate.common.token_estimate import estimate_request
from tollgate.orchestrator.settings import Settings
from tollgate.v1 import common_pb2


def is_small(request: common_pb2.ClaudeRequest, settings: Settings) -> bool:
    return (
        request.max_tokens <= settings.small_request_max_output_tokens
        and estimate_request(request) <= settings.small_request_tokens
    )


def choose_model(request: common_pb2.ClaudeRequest, task: int, settings: Settings) -> str:
    if request.model:
        return request.model
    name = task_name(task)
    if name in settings.size_routed_tasks and is_small(request, settings):
        return settings.small_request_model
    return settings.task_models.get(name, settings.default_model)


def model_chain(
    request: common_pb2.ClaudeRequest, context: common_pb2.RequestContext, settings: Settings
) -> list[str]:
    """The chosen model, then the task's fallbacks the calling key may use (`allowed_models`:
    a key limited to some models is never answered by another, even when its own is down)."""
    primary = choose_model(request, context.task, settings)
    allowed = context.allowed_models
    if allowed and primary not in allowed:
        raise permission_denied(
            f"The request would run on {primary!r}, which the calling key may not use; "
            f"it may use {', '.join(sorted(allowed))}: name one in `model`."
        )
    chain = [primary]
    for model in settings.task_fallbacks.get(task_name(context.task), []):
        if model not in chain and (not allowed or model in allowed):
            chain.append(model)
    return chain
