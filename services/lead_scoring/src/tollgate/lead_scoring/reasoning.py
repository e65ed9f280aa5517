"""Claude's reading of a lead, through the orchestrator (task lead_analysis), cached in process.

The cache key is a hash of the tenant and the lead's content, so the same lead is analysed once
until anything about it changes, and one tenant never sees another's analysis. Identical leads
asked for at the same time share one call. A failure is reported, never raised: the score is
still computed without this signal.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from dataclasses import dataclass

import grpc

from tollgate.common.channels import open_channel
from tollgate.common.lru import LruCache
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
_ROLE_NAMES = {common_pb2.ROLE_USER: "Lead", common_pb2.ROLE_ASSISTANT: "Agent"}


@dataclass(frozen=True)
class ReasoningOutcome:
    parsed: ParsedReasoning
    # What the call cost; zero when the answer came from the cache or a shared call.
    cost: common_pb2.Cost
    cached: bool


@dataclass(frozen=True)
class ReasoningAttempt:
    outcome: ReasoningOutcome | None
    # Why there is no outcome, for the component's explanation.
    failure: str = ""


def lead_summary(lead: lead_scoring_pb2.Lead) -> str:
    profile = lead.profile
    lines = [f"Lead {profile.lead_id}" + (f" ({profile.name})" if profile.name else "")]
    if profile.source:
        lines.append(f"Source: {profile.source}")
    for key in sorted(profile.attributes):
        lines.append(f"{key}: {profile.attributes[key]}")
    for field in lead_scoring_pb2.QualificationAnswers.DESCRIPTOR.fields:
        value = getattr(lead.answers, field.name)
        lines.append(f"{field.name.replace('_', ' ')}: {value or '(not answered)'}")
    counts: dict[str, int] = {}
    for event in lead.events:
        name = lead_scoring_pb2.EngagementType.Name(event.type).removeprefix("ENGAGEMENT_TYPE_")
        counts[name.lower()] = counts.get(name.lower(), 0) + 1
    if counts:
        lines.append("Engagement: " + ", ".join(f"{n} {k}s" for k, n in sorted(counts.items())))
    return "\n".join(lines)


def transcript(lead: lead_scoring_pb2.Lead) -> str:
    turns = []
    for message in lead.conversation:
        text = " ".join(b.text.text for b in message.content if b.HasField("text")).strip()
        if text:
            turns.append(f"{_ROLE_NAMES.get(message.role, 'Unknown')}: {text}")
    joined = "\n".join(turns)
    return joined[-MAX_TRANSCRIPT_CHARS:]


def cache_key(tenant_id: str, lead: lead_scoring_pb2.Lead) -> str:
    digest = hashlib.sha256()
    digest.update(tenant_id.encode())
    digest.update(b"\x00")
    digest.update(lead.SerializeToString(deterministic=True))
    return digest.hexdigest()


class OrchestratorReasoner:
    def __init__(
        self,
        target: str,
        timeout_seconds: float,
        max_tokens: int,
        cache_entries: int,
        company: str = "the agency",
        credentials: grpc.ChannelCredentials | None = None,
    ) -> None:
        self._target = target
        self._credentials = credentials
        self._company = company
        self._timeout = timeout_seconds
        self._max_tokens = max_tokens
        self._cache: LruCache[str, ParsedReasoning] = LruCache(max(0, cache_entries))
        self._inflight: dict[str, asyncio.Future[ReasoningOutcome]] = {}
        self._channel: grpc.aio.Channel | None = None
        self._stub: orchestrator_pb2_grpc.OrchestratorServiceStub | None = None

    async def start(self) -> None:
        self._channel = open_channel(self._target, credentials=self._credentials)
        self._stub = orchestrator_pb2_grpc.OrchestratorServiceStub(self._channel)

    async def close(self) -> None:
        if self._channel is not None:
            await self._channel.close()
            self._channel = None
            self._stub = None

    async def analyse(
        self,
        context: common_pb2.RequestContext,
        lead: lead_scoring_pb2.Lead,
        time_left: float | None = None,
    ) -> ReasoningAttempt:
        """`time_left`: seconds until the caller's deadline, if it set one."""
        key = cache_key(context.tenant_id, lead)
        cached = self._cache.get(key)
        if cached is not None:
            return ReasoningAttempt(ReasoningOutcome(cached, common_pb2.Cost(), cached=True))
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
            call = asyncio.ensure_future(self._generate(context, lead, timeout))
            self._inflight[key] = call
            try:
                outcome = await asyncio.shield(call)
            finally:
                self._inflight.pop(key, None)
        except grpc.aio.AioRpcError as exc:
            log.warning("lead analysis failed", extra={"code": exc.code().name})
            return ReasoningAttempt(None, f"orchestrator answered {exc.code().name}")
        except (TimeoutError, ConnectionError, RuntimeError) as exc:
            log.warning("lead analysis failed", extra={"error": repr(exc)})
            return ReasoningAttempt(None, "orchestrator could not be reached")
        self._cache.put(key, outcome.parsed)
        return ReasoningAttempt(outcome)

    async def _generate(
        self, context: common_pb2.RequestContext, lead: lead_scoring_pb2.Lead, timeout: float
    ) -> ReasoningOutcome:
        if self._stub is None:
            raise RuntimeError("the reasoner is not started")
        summary, conversation = lead_summary(lead), transcript(lead)
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
                    "company": lead.profile.attributes.get("company") or self._company,
                    "lead_name": lead.profile.name or lead.profile.lead_id,
                },
            )
        )
        response = await self._stub.Generate(request, timeout=timeout)
        result = response.result
        text = "".join(b.text.text for b in result.response.content if b.HasField("text"))
        return ReasoningOutcome(parse_reasoning(text), result.cost, cached=False)
