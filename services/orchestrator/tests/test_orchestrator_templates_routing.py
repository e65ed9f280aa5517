"""Task templates (versioned files, validated variables) and model routing by task and size."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import grpc
import pytest

from tollgate.common.errors import ServiceError
from tollgate.orchestrator.routing import choose_model, model_chain
from tollgate.orchestrator.settings import Settings
from tollgate.orchestrator.templates import TemplateLibrary
from tollgate.v1 import common_pb2, orchestrator_pb2, orchestrator_pb2_grpc

Stub = orchestrator_pb2_grpc.OrchestratorServiceStub
StartOrchestrator = Callable[..., Awaitable[Stub]]
MakeSpec = Callable[..., orchestrator_pb2.GenerationSpec]
Calls = Callable[[], list[Any]]


async def test_a_template_is_rendered_before_the_system_prompt_and_its_version_reported(
    make_spec: MakeSpec, upstream_calls: Calls, orchestrator: Stub
) -> None:
    spec = make_spec(
        system="Reply in English.",
        task=common_pb2.TASK_TYPE_LEAD_ANALYSIS,
        template_variables={"company": "Harbor Realty", "lead_name": "Dana Reyes"},
    )
    response = await orchestrator.Generate(orchestrator_pb2.GenerateRequest(spec=spec), timeout=20)

    assert response.result.template_version == "lead_analysis@1"
    (call,) = upstream_calls()
    system = [block["text"] for block in call.body["system"]]
    assert len(system) == 2
    assert system[0].startswith("You analyse leads for Harbor Realty")
    assert "Lead: Dana Reyes." in system[0]
    assert "{{" not in system[0]
    assert system[1] == "Reply in English."


async def test_a_missing_template_variable_is_invalid_argument_and_nothing_is_sent(
    make_spec: MakeSpec, upstream_calls: Calls, orchestrator: Stub
) -> None:
    spec = make_spec(
        task=common_pb2.TASK_TYPE_LEAD_ANALYSIS, template_variables={"company": "Harbor Realty"}
    )
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await orchestrator.Generate(orchestrator_pb2.GenerateRequest(spec=spec), timeout=20)

    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "lead_name" in (caught.value.details() or "")
    assert upstream_calls() == []


async def test_an_unknown_model_is_refused_before_any_call(
    make_spec: MakeSpec, upstream_calls: Calls, orchestrator: Stub
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await orchestrator.Generate(
            orchestrator_pb2.GenerateRequest(spec=make_spec(model="claude-imaginary-1")),
            timeout=20,
        )
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "claude-imaginary-1" in (caught.value.details() or "")
    assert upstream_calls() == []


def test_the_newest_template_version_wins_and_unknown_variables_are_refused(
    tmp_path: Path,
) -> None:
    (tmp_path / "chat@1.txt").write_text("Old {{company}}.")
    (tmp_path / "chat@12.txt").write_text("New {{ company }} for {{city}}.")
    (tmp_path / "chat@2.txt").write_text("Middle {{company}}.")
    (tmp_path / "notes.md").write_text("not a template")
    template = TemplateLibrary.load(str(tmp_path)).for_task("chat")

    assert template.label == "chat@12"
    assert template.render({"company": "Harbor", "city": "Austin"}) == "New Harbor for Austin."
    with pytest.raises(ServiceError) as caught:
        template.render({"company": "Harbor", "city": "Austin", "colour": "blue"})
    assert caught.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert "colour" in caught.value.message


async def test_list_templates_names_the_version_each_task_is_rendered_with(
    orchestrator: Stub,
) -> None:
    """What results report as `template_version`, per task: the gateway keys cached answers
    of templated requests by it."""
    reply = await orchestrator.ListTemplates(orchestrator_pb2.ListTemplatesRequest())
    shipped = TemplateLibrary.load()
    assert dict(reply.versions) == {
        task: shipped.for_task(task).label
        for task in (
            "chat",
            "lead_analysis",
            "report",
            "script",
            "intervention",
            "packed_classification",
        )
    }
    assert reply.versions["lead_analysis"] == "lead_analysis@1"


def test_every_task_has_a_shipped_template() -> None:
    library = TemplateLibrary.load()
    for task in ("chat", "lead_analysis", "report", "script", "intervention"):
        assert library.for_task(task).version >= 1


def _request(text: str, max_tokens: int, model: str = "") -> common_pb2.ClaudeRequest:
    return common_pb2.ClaudeRequest(
        model=model,
        max_tokens=max_tokens,
        messages=[
            common_pb2.Message(
                role=common_pb2.ROLE_USER,
                content=[common_pb2.ContentBlock(text=common_pb2.TextBlock(text=text))],
            )
        ],
    )


def test_short_classification_goes_to_the_small_model_and_long_to_the_task_model() -> None:
    settings = Settings(task_models={"classification": "claude-sonnet-5-5"})
    task = common_pb2.TASK_TYPE_CLASSIFICATION
    assert choose_model(_request("Hot or cold?", 10), task, settings) == "claude-haiku-5-5"
    long_text = "The lead wrote a very long message. " * 400
    assert choose_model(_request(long_text, 10), task, settings) == "claude-sonnet-5-5"
    assert choose_model(_request("Hot or cold?", 4000), task, settings) == "claude-sonnet-5-5"


def test_lead_analysis_goes_to_the_small_model_by_default_whatever_its_size() -> None:
    settings = Settings()
    task = common_pb2.TASK_TYPE_LEAD_ANALYSIS
    long_text = "The lead wrote a very long message. " * 400
    assert choose_model(_request(long_text, 600), task, settings) == "claude-haiku-5-5"
    assert model_chain(_request("Lead", 512), common_pb2.RequestContext(task=task), settings) == [
        "claude-haiku-5-5",
        "claude-sonnet-5-5",
    ]


def test_fallbacks_stay_inside_the_models_the_calling_key_may_use() -> None:
    settings = Settings(task_fallbacks={"chat": ["claude-haiku-5-5", "claude-opus-5-5"]})
    chat = common_pb2.TASK_TYPE_CHAT
    request = _request("Hi", 10, "claude-sonnet-5-5")
    anyone = common_pb2.RequestContext(task=chat)
    assert model_chain(request, anyone, settings) == [
        "claude-sonnet-5-5",
        "claude-haiku-5-5",
        "claude-opus-5-5",
    ]
    limited = common_pb2.RequestContext(
        task=chat, allowed_models=["claude-sonnet-5-5", "claude-opus-5-5"]
    )
    assert model_chain(request, limited, settings) == ["claude-sonnet-5-5", "claude-opus-5-5"]
    only_one = common_pb2.RequestContext(task=chat, allowed_models=["claude-sonnet-5-5"])
    assert model_chain(request, only_one, settings) == ["claude-sonnet-5-5"]
    # A routed model the key may not use is refused, never quietly run.
    haiku_only = common_pb2.RequestContext(task=chat, allowed_models=["claude-haiku-5-5"])
    with pytest.raises(ServiceError) as refused:
        model_chain(_request("Hi", 10), haiku_only, settings)
    assert refused.value.code == grpc.StatusCode.PERMISSION_DENIED


def test_a_named_model_wins_and_chat_is_not_size_routed() -> None:
    settings = Settings()
    task = common_pb2.TASK_TYPE_CLASSIFICATION
    assert choose_model(_request("Hi", 10, "claude-opus-5-5"), task, settings) == "claude-opus-5-5"
    assert (
        choose_model(_request("Hi", 10), common_pb2.TASK_TYPE_CHAT, settings)
        == settings.default_model
    )


def test_the_fallback_chain_follows_the_task_and_never_repeats_a_model() -> None:
    settings = Settings(task_fallbacks={"report": ["claude-sonnet-5-5", "claude-haiku-5-5"]})
    chain = model_chain(
        _request("Q3 report", 2000, "claude-sonnet-5-5"),
        common_pb2.RequestContext(task=common_pb2.TASK_TYPE_REPORT),
        settings,
    )
    assert chain == ["claude-sonnet-5-5", "claude-haiku-5-5"]
