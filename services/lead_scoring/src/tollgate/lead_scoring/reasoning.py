"""Claude's reading of a lead, through the orchestrator (task lead_analysis), cached in process.

The prompt carries no personal data (see pii.py) and dates every event, with the day of scoring,
so Claude can tell a reply from yesterday from one from last spring. The cache key is a hash of
the tenant, the lead's content and the day of scoring, so the same lead is analysed once until
anything about it changes, and one tenant never sees another's analysis; an entry also expires
after `REASONING_CACHE_TTL_SECONDS`. The key also names the orchestrator's `lead_analysis`
template that made the answer (tollgate.common.template_versions): once the orchestrator renders a
new one, readings made with the previous one are no longer served; until its template is known
(the orchestrator does not answer ListTemplates), nothing is served from the cache. Identical
leads asked for at the same time share one call.
A failure is reported, never raised: the score is still computed without this signal.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import grpc

from tollgate.common.channels import open_channel
from tollgate.common.lru import LruCache
from tollgate.common.tasks import task_name
from tollgate.common.template_versions import TemplateVersions, template_of
from tollgate.lead_scoring.pii import PiiFilter, Scrubber
from tollgate.lead_scoring.reasoning_parse import ParsedReasoning, parse_reasoning
from tollgate.v1 import common_pb2, lead_scoring_pb2, orchestrator_pb2, orchestrator_pb2_grpc

log = logging.getLogger("tollgate.lead_scoring.reasoning")

SYSTEM_PROMPT = (
    "You are a real-estate sales analyst. Read the lead and the conversation and answer with one "
    "JSON object only, no prose around it, with these keys: "
    '"narrative" (two or three sentences on where the lead stands), '
    '"insights" (a list of up to five short behavioural observations), '
    '"next_best_action" (one concrete action for the agent, one sentence), '
    '"score" (0 to 100: how likely the lead is to transact in the next 90 days).'
)
# Keep the transcript within a predictable prompt size; the latest turns matter most.
MAX_TRANSCRIPT_CHARS = 12_000
# The newest events listed one by one with their dates; older ones are only counted.
MAX_LISTED_EVENTS = 40
_ROLE_NAMES = {common_pb2.ROLE_USER: "Lead", common_pb2.ROLE_ASSISTANT: "Agent"}
TASK = task_name(common_pb2.TASK_TYPE_LEAD_ANALYSIS)
# Lead scoring calls one orchestrator deployment; its name among the template versions read.
_DEPLOYMENT = "orchestrator"


@dataclass(frozen=True)
class ReasoningOutcome:
    parsed: ParsedReasoning
    # What the call cost; zero when the answer came from the cache or a shared call.
    cost: common_pb2.Cost
    cached: bool
    # The template that made the answer, as the orchestrator's result names it ("" if none).
    template_version: str = ""


@dataclass(frozen=True)
class ReasoningAttempt:
    outcome: ReasoningOutcome | None
    # Why there is no outcome, for the component's explanation.
    failure: str = ""
    # The call this attempt made went out and was cut off before it answered: Claude may have
    # billed it, and what it billed is not known (the caller charges the most it could cost).
    cost_unknown: bool = False


# A Generate that ended so may have reached Claude: its deadline passed, or it was cancelled,
# while the orchestrator waited for the answer. (It may also have been waiting for its turn to
# send, and then nothing was billed: the caller cannot tell, so it takes the safe side.)
_CUT_OFF = frozenset({grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.CANCELLED})


def _failed(exc: grpc.aio.AioRpcError, *, made_the_call: bool) -> ReasoningAttempt:
    code = exc.code()
    log.warning("lead analysis failed", extra={"code": code.name})
    cut_off = made_the_call and code in _CUT_OFF
    return ReasoningAttempt(None, f"orchestrator answered {code.name}", cost_unknown=cut_off)


def _day(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%d")


def lead_summary(lead: lead_scoring_pb2.Lead, scrub: Scrubber, pii: PiiFilter, as_of: float) -> str:
    """The lead as the prompt states it: no personal fields, every event dated."""
    profile = lead.profile
    lines = [f"Today is {_day(as_of)}.", f"Lead {scrub(profile.lead_id)}"]
    if profile.name and pii.allows("name"):
        lines[-1] += f" ({profile.name})"
    if profile.source:
        lines.append(f"Source: {scrub(profile.source)}")
    if profile.HasField("created_at"):
        lines.append(f"Created: {_day(profile.created_at.seconds)}")
    for key in sorted(profile.attributes):
        if not pii.is_personal(key):
            lines.append(f"{scrub(key)}: {scrub(profile.attributes[key])}")
    for field in lead_scoring_pb2.QualificationAnswers.DESCRIPTOR.fields:
        value = getattr(lead.answers, field.name)
        lines.append(
            f"{field.name.replace('_', ' ')}: {scrub(value) if value else '(not answered)'}"
        )
    events = sorted(
        ((e.at.seconds, lead_scoring_pb2.EngagementType.Name(e.type)) for e in lead.events),
        reverse=True,
    )
    events = [
        (at, kind.removeprefix("ENGAGEMENT_TYPE_").lower()) for at, kind in events if at <= as_of
    ]
    if events:
        listed = "; ".join(f"{_day(at)} {kind}" for at, kind in events[:MAX_LISTED_EVENTS])
        lines.append(f"Engagement, newest first ({len(events)} events): {listed}")
        if len(events) > MAX_LISTED_EVENTS:
            lines.append(f"... and {len(events) - MAX_LISTED_EVENTS} older events")
    else:
        lines.append("Engagement: no events recorded")
    return "\n".join(lines)


def transcript(lead: lead_scoring_pb2.Lead, scrub: Scrubber) -> str:
    turns = []
    for message in lead.conversation:
        text = " ".join(b.text.text for b in message.content if b.HasField("text")).strip()
        if text:
            turns.append(f"{_ROLE_NAMES.get(message.role, 'Unknown')}: {scrub(text)}")
    joined = "\n".join(turns)
    return joined[-MAX_TRANSCRIPT_CHARS:]


def cache_key(tenant_id: str, lead: lead_scoring_pb2.Lead, as_of: float, template: str) -> str:
    digest = hashlib.sha256()
    digest.update(tenant_id.encode())
    digest.update(b"\x00")
    digest.update(template.encode())
    digest.update(b"\x00")
    digest.update(_day(as_of).encode())
    digest.update(b"\x00")
    digest.update(lead.SerializeToString(deterministic=True))
    return digest.hexdigest()


@dataclass(frozen=True)
class _Orchestrator:
    """The one orchestrator deployment lead scoring calls, as template_versions reads it."""

    stub: orchestrator_pb2_grpc.OrchestratorServiceStub
    name: str = _DEPLOYMENT


class OrchestratorReasoner:
    def __init__(
        self,
        target: str,
        timeout_seconds: float,
        max_tokens: int,
        cache_entries: int,
        company: str = "the agency",
        credentials: grpc.ChannelCredentials | None = None,
        pii: PiiFilter | None = None,
        cache_ttl_seconds: float = 3600.0,
        clock: Callable[[], float] = time.monotonic,
        template_versions_poll_seconds: float = 10.0,
    ) -> None:
        self._pii = pii or PiiFilter()
        self._ttl = cache_ttl_seconds
        self._clock = clock
        self._target = target
        self._credentials = credentials
        self._company = company
        self._timeout = timeout_seconds
        self._max_tokens = max_tokens
        # (when stored, the answer): an entry older than the TTL is asked again.
        self._cache: LruCache[str, tuple[float, ParsedReasoning]] = LruCache(max(0, cache_entries))
        self._inflight: dict[str, asyncio.Future[ReasoningOutcome]] = {}
        self._channel: grpc.aio.Channel | None = None
        # Set while started.
        self._orchestrator: _Orchestrator | None = None
        self._templates = TemplateVersions(self._deployments, template_versions_poll_seconds)

    def _deployments(self) -> list[_Orchestrator]:
        return [] if self._orchestrator is None else [self._orchestrator]

    async def start(self) -> None:
        self._channel = open_channel(self._target, credentials=self._credentials)
        stub = orchestrator_pb2_grpc.OrchestratorServiceStub(self._channel)
        self._orchestrator = _Orchestrator(stub)
        await self._templates.start()

    async def close(self) -> None:
        await self._templates.stop()
        if self._channel is not None:
            await self._channel.close()
            self._channel = None
            self._orchestrator = None

    async def analyse(
        self,
        context: common_pb2.RequestContext,
        lead: lead_scoring_pb2.Lead,
        time_left: float | None = None,
        as_of: float | None = None,
    ) -> ReasoningAttempt:
        """`time_left`: seconds until the caller's deadline, if it set one; `as_of`: the moment
        of scoring (epoch seconds; now when None)."""
        as_of = time.time() if as_of is None else as_of
        asked_at = time.monotonic()
        template = await self._expected_template()  # may wait for the first ListTemplates
        if time_left is not None:
            time_left -= time.monotonic() - asked_at
        key = cache_key(context.tenant_id, lead, as_of, template)
        cached = self._cache.get(key) if template else None
        if cached is not None and self._clock() - cached[0] <= self._ttl:
            return ReasoningAttempt(ReasoningOutcome(cached[1], common_pb2.Cost(), cached=True))
        shared = self._inflight.get(key)
        try:
            if shared is not None:
                outcome = await asyncio.shield(shared)
                return ReasoningAttempt(ReasoningOutcome(outcome.parsed, common_pb2.Cost(), True))
            timeout = self._timeout
            if time_left is not None:
                # Leave room to return the score without reasoning before the caller gives up.
                timeout = min(timeout, time_left - max(0.1, 0.1 * time_left))
                if timeout <= 0:
                    return ReasoningAttempt(None, "no time left before the caller's deadline")
            call = asyncio.ensure_future(self._generate(context, lead, timeout, as_of))
            self._inflight[key] = call
            try:
                outcome = await asyncio.shield(call)
            finally:
                self._inflight.pop(key, None)
        except grpc.aio.AioRpcError as exc:
            # What a shared call cost, known or not, is reported by the attempt that made it.
            return _failed(exc, made_the_call=shared is None)
        except (TimeoutError, ConnectionError, RuntimeError) as exc:
            log.warning("lead analysis failed", extra={"error": repr(exc)})
            return ReasoningAttempt(None, "orchestrator could not be reached")
        # Kept under the template that made it, which may not be the one expected (a rolling
        # update of the orchestrator): it is served only while that template is the expected one.
        made_with = template_of(outcome.template_version)
        if made_with:
            made_key = cache_key(context.tenant_id, lead, as_of, made_with)
            self._cache.put(made_key, (self._clock(), outcome.parsed))
        return ReasoningAttempt(outcome)

    async def _expected_template(self) -> str:
        """The lead_analysis template the orchestrator renders now, "" while unknown."""
        if self._orchestrator is None:
            return ""
        return await self._templates.version(self._orchestrator, TASK)

    async def _generate(
        self,
        context: common_pb2.RequestContext,
        lead: lead_scoring_pb2.Lead,
        timeout: float,
        as_of: float,
    ) -> ReasoningOutcome:
        if self._orchestrator is None:
            raise RuntimeError("the reasoner is not started")
        profile = lead.profile
        scrub = self._pii.scrubber(profile.name, dict(profile.attributes))
        summary = lead_summary(lead, scrub, self._pii, as_of)
        conversation = transcript(lead, scrub)
        call_context = common_pb2.RequestContext()
        call_context.CopyFrom(context)
        call_context.task = common_pb2.TASK_TYPE_LEAD_ANALYSIS
        prompt = f"{summary}\n\nConversation:\n{conversation or '(no conversation yet)'}"
        request = orchestrator_pb2.GenerateRequest(
            spec=orchestrator_pb2.GenerationSpec(
                context=call_context,
                request=common_pb2.ClaudeRequest(
                    system=[common_pb2.ContentBlock(text=common_pb2.TextBlock(text=SYSTEM_PROMPT))],
                    messages=[
                        common_pb2.Message(
                            role=common_pb2.ROLE_USER,
                            content=[
                                common_pb2.ContentBlock(text=common_pb2.TextBlock(text=prompt))
                            ],
                        )
                    ],
                    max_tokens=self._max_tokens,
                    temperature=0.2,
                ),
                # The orchestrator's lead_analysis template takes exactly these two.
                template_variables={
                    "company": self._company
                    if self._pii.is_personal("company")
                    else scrub(profile.attributes.get("company") or self._company),
                    "lead_name": profile.name
                    if profile.name and self._pii.allows("name")
                    else "the lead",
                },
            )
        )
        response = await self._orchestrator.stub.Generate(request, timeout=timeout)
        result = response.result
        self._templates.learn(_DEPLOYMENT, TASK, result.template_version)
        text = "".join(b.text.text for b in result.response.content if b.HasField("text"))
        return ReasoningOutcome(
            parse_reasoning(text),
            result.cost,
            cached=False,
            template_version=result.template_version,
        )
