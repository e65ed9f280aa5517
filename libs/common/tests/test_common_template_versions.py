"""Which template an orchestrator deployment renders for each task: what is asked when, what is
learned from results, and what is never trusted into a cache key."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any

import grpc
import pytest

from tollgate.common.template_versions import TemplateVersions, template_of
from tollgate.v1 import orchestrator_pb2


@pytest.mark.parametrize(
    ("result_version", "template"),
    [
        ("chat@2", "chat@2"),
        ("chat@2+agent_profile@1", "chat@2"),
        ("agent_profile@1", "agent_profile@1"),
        ("", ""),
        # Not a template version: never trusted into a key.
        ("Chat@2", ""),
        ("chat@2\n", ""),
        ("chat@", ""),
        ("chat@-1", ""),
        ("a" * 65 + "@1", ""),
        ("chat@1234567890", ""),
        ("chat@2 OR 1=1", ""),
    ],
)
def test_the_template_of_a_result_version(result_version: str, template: str) -> None:
    assert template_of(result_version) == template


def _listing(**versions: str) -> orchestrator_pb2.ListTemplatesResponse:
    return orchestrator_pb2.ListTemplatesResponse(versions=versions)


@dataclass
class Deployment:
    name: str
    stub: Any = field(default_factory=lambda: FakeListing())


class FakeListing:
    """An orchestrator stub that answers ListTemplates and counts the calls."""

    def __init__(self, reply: Any = None) -> None:
        self.reply = reply if reply is not None else _listing(chat="chat@3")
        self.calls = 0

    async def ListTemplates(self, request: Any, timeout: float | None = None) -> Any:
        self.calls += 1
        await asyncio.sleep(0)
        if isinstance(self.reply, BaseException):
            raise self.reply
        return self.reply


async def test_a_deployment_is_asked_once_when_first_needed_and_then_by_the_polling() -> None:
    stable = Deployment("stable", FakeListing(_listing(chat="chat@2", report="report@1")))
    canary = Deployment("canary")
    versions = TemplateVersions(lambda: [stable, canary], poll_seconds=0.01)
    await versions.start()
    try:
        await asyncio.sleep(0.05)
        # Nothing needed them yet: neither was asked (an orchestrator still starting would be
        # put into reconnect backoff by an early call).
        assert (stable.stub.calls, canary.stub.calls) == (0, 0)
        found = await asyncio.gather(*(versions.version(stable, "chat") for _ in range(5)))
        assert found == ["chat@2"] * 5
        assert stable.stub.calls == 1  # one read shared by the requests that needed it
        assert await versions.version(stable, "report") == "report@1"
        assert await versions.version(stable, "script") == ""
        stable.stub.reply = _listing(chat="chat@4")
        await asyncio.sleep(0.1)
        assert stable.stub.calls > 2
        assert await versions.version(stable, "chat") == "chat@4"
        assert canary.stub.calls == 0  # never needed: never polled
    finally:
        await versions.stop()


async def test_a_deployment_that_does_not_answer_is_asked_again_later_and_results_teach() -> None:
    """An orchestrator of an older build has no ListTemplates: it is asked once a poll interval,
    not once a templated request, and what its results name is used meanwhile."""
    unimplemented = grpc.aio.AioRpcError(
        grpc.StatusCode.UNIMPLEMENTED, grpc.aio.Metadata(), grpc.aio.Metadata()
    )
    stable = Deployment("stable", FakeListing(unimplemented))
    versions = TemplateVersions(lambda: [stable], poll_seconds=0.2)
    for _ in range(5):
        assert await versions.version(stable, "chat") == ""
    assert stable.stub.calls == 1
    versions.learn("stable", "chat", "chat@2+agent_profile@1")
    versions.learn("stable", "chat", "report@7")  # another task's template: not chat's
    versions.learn("stable", "report", "")
    assert await versions.version(stable, "chat") == "chat@2"
    assert await versions.version(stable, "report") == ""
    assert stable.stub.calls == 1
    await asyncio.sleep(0.25)
    stable.stub.reply = _listing(chat="chat@2", report="report@1")
    assert await versions.version(stable, "report") == "report@1"
    assert stable.stub.calls == 2
    await versions.version(stable, "chat")
    assert stable.stub.calls == 2  # read now: from here on the polling keeps it current


def test_an_answer_is_stored_only_under_the_template_that_made_it() -> None:
    assert TemplateVersions.matches("chat@2", "chat@2")
    assert TemplateVersions.matches("chat@2", "chat@2+agent_profile@1")
    assert not TemplateVersions.matches("chat@2", "chat@1")
    assert not TemplateVersions.matches("chat@2", "")
    assert not TemplateVersions.matches("", "")


async def test_only_well_formed_versions_of_their_own_task_are_kept() -> None:
    stable = Deployment(
        "stable",
        FakeListing(
            _listing(
                chat="chat@2",
                report="chat@9",  # names another task
                script="script@1\u202e",  # hostile bytes
                intervention="x" * 300,
            )
        ),
    )
    versions = TemplateVersions(lambda: [stable], poll_seconds=60.0)
    assert await versions.version(stable, "chat") == "chat@2"
    for task in ("report", "script", "intervention"):
        assert await versions.version(stable, task) == ""


async def test_a_template_change_is_logged_once_when_it_takes_effect(
    caplog: pytest.LogCaptureFixture,
) -> None:
    stable = Deployment("stable", FakeListing(_listing(chat="chat@1")))
    versions = TemplateVersions(lambda: [stable], poll_seconds=60.0)
    with caplog.at_level(logging.INFO, logger="tollgate.templates"):
        assert await versions.version(stable, "chat") == "chat@1"
        for _ in range(3):
            versions.learn("stable", "chat", "chat@1+agent_profile@1")  # no change: no line
        versions.learn("stable", "chat", "chat@2")
        versions.learn("stable", "chat", "chat@2")
    changes = [(r.task, r.before, r.now) for r in caplog.records if hasattr(r, "now")]
    assert changes == [("chat", "", "chat@1"), ("chat", "chat@1", "chat@2")]
