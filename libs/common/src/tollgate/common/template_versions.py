"""Which template an orchestrator deployment renders for each task, for the keys of cached answers.

A request with `template_variables` is answered with the task's template rendered into its system
prompt, and the orchestrator names that template in its result (`template_version`, "chat@2").
A caller that keeps such answers (the gateway's exact cache, lead scoring's reasoning) keys them by
the version it expects the deployment to render, so an answer made with `chat@1` is not served
once the caller has seen that the deployment renders `chat@2`: from its first templated answer so
made, or at the latest a poll interval after a rolling update ends. A deployment is asked for its
versions (`ListTemplates`) the first time a templated request is headed for it, then every
`poll_seconds`, and every templated result is read (`learn`). An answer is kept only under the
version that made it (`matches`, `template_of`): during a rolling update a deployment's pods may
render either version, and an answer of the old template must not be kept under the new one's key.

A deployment is not asked before a request needs it: a call to an orchestrator that is not up
yet (the caller started first) would put the channel into reconnect backoff, and the first
requests after it came up would then fail at once instead of connecting. Until a version is
known (the deployment does not answer, or has no ListTemplates) its templated answers are not
cached.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Callable, Iterable
from typing import Any, Protocol

from tollgate.common.polling import Polling
from tollgate.v1 import orchestrator_pb2

log = logging.getLogger("tollgate.templates")

# What a template version looks like (orchestrator templates.py names files `<task>@<n>.txt`);
# anything else is not trusted into a cache key, whose version field is bounded.
_VERSION = re.compile(r"[a-z_]{1,64}@[0-9]{1,9}")
# How long one ListTemplates may take. The first one of a deployment is on a request's path.
ASK_TIMEOUT_SECONDS = 1.0
# The orchestrator appends what else it rendered into the system prompt ("chat@2+agent_profile@1").
_SUFFIX_SEPARATOR = "+"


def template_of(result_version: str) -> str:
    """The task template's version in a result's `template_version` ("" when it names none)."""
    template = result_version.split(_SUFFIX_SEPARATOR, 1)[0]
    return template if _VERSION.fullmatch(template) else ""


def _tasks_template(task: str, result_version: str) -> str:
    """`template_of(result_version)` when it is a template of `task`, else ""."""
    template = template_of(result_version)
    return template if template.startswith(f"{task}@") else ""


def _log_change(deployment: str, task: str, before: str, now: str) -> None:
    """A deployment's template of a task is first known or changed: cached answers of that task
    are looked up and kept under the new version from here on (an upgrade taking effect)."""
    log.info(
        "template version of %s on %s: %s",
        task,
        deployment,
        f"{before} -> {now or 'unknown'}" if before else now,
        extra={"deployment": deployment, "task": task, "before": before, "now": now},
    )


class Deployment(Protocol):
    """An orchestrator deployment as a caller reaches it: a name unique among the caller's
    deployments ("stable", "canary"), and its OrchestratorService stub. The gateway's routing
    tracks are such deployments."""

    @property
    def name(self) -> str: ...

    @property
    def stub(self) -> Any: ...


class TemplateVersions:
    """`deployments`: the caller's orchestrator deployments now (a canary may come and go); the
    polling keeps those already read current."""

    def __init__(
        self, deployments: Callable[[], Iterable[Deployment]], poll_seconds: float
    ) -> None:
        self._deployments = deployments
        # Deployment name ("stable", "canary") → task → version.
        self._known: dict[str, dict[str, str]] = {}
        # The deployments whose versions have been read: the ones the polling keeps current.
        self._read: set[str] = set()
        # A deployment's first read, shared by the requests that need it meanwhile.
        self._reading: dict[str, asyncio.Task[None]] = {}
        # When a deployment last failed to answer. It is asked again on need only a poll interval
        # later, so an orchestrator that cannot answer (an older build without ListTemplates)
        # costs a call and a log line per interval, not per templated request.
        self._failed_at: dict[str, float] = {}
        self._retry_seconds = poll_seconds
        self._polling = Polling(self._refresh, poll_seconds)

    async def version(self, deployment: Deployment, task: str) -> str:
        """The version `deployment` is expected to render for `task`; "" while unknown."""
        if deployment.name not in self._read and self._may_ask(deployment.name):
            reading = self._reading.get(deployment.name)
            if reading is None:
                reading = self._reading[deployment.name] = asyncio.create_task(
                    self._ask(deployment)
                )
                reading.add_done_callback(lambda _: self._reading.pop(deployment.name, None))
            await asyncio.shield(reading)
        return self._known.get(deployment.name, {}).get(task, "")

    def _may_ask(self, deployment: str) -> bool:
        failed = self._failed_at.get(deployment)
        return failed is None or time.monotonic() - failed >= self._retry_seconds

    def learn(self, deployment: str, task: str, result_version: str) -> None:
        """What a result of `deployment` says it rendered for `task`."""
        template = _tasks_template(task, result_version)
        if template:
            known = self._known.setdefault(deployment, {})
            if known.get(task) != template:
                _log_change(deployment, task, known.get(task, ""), template)
                known[task] = template

    @staticmethod
    def matches(keyed: str, result_version: str) -> bool:
        """Whether an answer whose result names `result_version` may be stored under a key made
        with `keyed`: only when both name the same known template."""
        return bool(keyed) and keyed == template_of(result_version)

    async def _ask(self, deployment: Deployment) -> None:
        """Read `deployment`'s versions; one that does not answer keeps what was known of it."""
        try:
            reply = await deployment.stub.ListTemplates(
                orchestrator_pb2.ListTemplatesRequest(), timeout=ASK_TIMEOUT_SECONDS
            )
        except Exception as exc:  # down, too slow, or an older build: not cached meanwhile
            if deployment.name not in self._failed_at:
                log.warning(
                    "template versions not read: templated requests are cached only once a "
                    "result names its template",
                    extra={"deployment": deployment.name, "error": str(exc)},
                )
            self._failed_at[deployment.name] = time.monotonic()
            return
        self._failed_at.pop(deployment.name, None)
        listed = {
            task: version
            for task, version in reply.versions.items()
            if version and _tasks_template(task, version) == version
        }
        known = self._known.get(deployment.name, {})
        for task in sorted(listed.keys() | known.keys()):
            if listed.get(task, "") != known.get(task, ""):
                _log_change(deployment.name, task, known.get(task, ""), listed.get(task, ""))
        self._known[deployment.name] = listed
        self._read.add(deployment.name)

    async def _refresh(self) -> None:
        for deployment in self._deployments():
            if deployment.name in self._read:
                await self._ask(deployment)

    async def start(self) -> None:
        self._polling.start()

    async def stop(self) -> None:
        await self._polling.stop()
