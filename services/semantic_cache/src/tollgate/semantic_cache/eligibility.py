"""Which requests the semantic cache may answer, and the scope an answer is shared within.

A cached answer may serve another request only when everything except the wording of the last
question is the same: the model, the system prompt, the task and its template version, and — for
multi-turn requests — the prior turns. The prior turns enter the scope as a digest, so a follow-up
such as "what about the second one?" can only ever match inside the same conversation history.

Not eligible: requests that offer tools or carry tool calls (their answers act on the world or
depend on tool output), questions with images, requests that end on an assistant turn
(prefill), empty questions, and questions longer than the embedding model reads whole.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Collection
from dataclasses import dataclass

from tollgate.v1 import common_pb2

_WHITESPACE = re.compile(r"\s+")
# Unit separator between hashed fields, so ("ab", "c") and ("a", "bc") never collide.
_SEP = "\x1f"


@dataclass(frozen=True)
class Scope:
    """Everything besides the question's wording that an answer depends on."""

    model: str
    system_hash: str
    task: str
    template_version: str
    # Digest of the turns before the question; "" for a single-turn request.
    context_digest: str

    def key(self) -> str:
        """One indexed value standing for the whole scope."""
        fields = (self.model, self.system_hash, self.task, self.template_version)
        return _digest(*fields, self.context_digest)


@dataclass(frozen=True)
class Question:
    """An eligible request, reduced to what the cache compares and stores."""

    text: str
    scope: Scope
    # The request's max_tokens: a cached answer longer than this would not have fit.
    max_tokens: int


@dataclass(frozen=True)
class Ineligible:
    reason: str


def task_name(task: int) -> str:
    """`TASK_TYPE_LEAD_ANALYSIS` → "lead_analysis"; unspecified counts as chat."""
    if task == common_pb2.TASK_TYPE_UNSPECIFIED:
        return "chat"
    try:
        name = common_pb2.TaskType.Name(task)
    except ValueError:
        return f"task_{task}"
    return name.removeprefix("TASK_TYPE_").lower()


def normalise_question(text: str) -> str:
    """Whitespace collapsed; case and punctuation kept (the guard reads them)."""
    return _WHITESPACE.sub(" ", text).strip()


class EligibilityPolicy:
    """Decides eligibility and derives the question and its scope from a request."""

    def __init__(
        self,
        *,
        count_tokens: Callable[[str], int],
        max_tokens: int,
        allow_multi_turn: bool = True,
        ineligible_tasks: Collection[str] = (),
    ) -> None:
        self._count_tokens = count_tokens
        self._max_tokens = max_tokens
        self._allow_multi_turn = allow_multi_turn
        self._ineligible_tasks = frozenset(ineligible_tasks)
        # Tokenising a huge text only to refuse it wastes time: far more characters than the
        # model could read are refused outright (a token is at least one character).
        self._max_chars = max_tokens * 16

    def evaluate(
        self,
        context: common_pb2.RequestContext,
        request: common_pb2.ClaudeRequest,
        template_version: str,
    ) -> Question | Ineligible:
        task = task_name(context.task)
        if task in self._ineligible_tasks:
            return Ineligible(f"the {task} task is configured as not eligible")
        if request.tools or request.tool_choice.type not in (
            common_pb2.TOOL_CHOICE_TYPE_UNSPECIFIED,
            common_pb2.TOOL_CHOICE_TYPE_NONE,
        ):
            return Ineligible("tool use: requests that offer tools are not cached semantically")
        if not request.messages:
            return Ineligible("the request has no messages")
        if any(_has_tool_blocks(m) for m in request.messages):
            return Ineligible("tool use: the conversation carries tool calls or results")
        last = request.messages[-1]
        if last.role != common_pb2.ROLE_USER:
            return Ineligible("the last message is not a user question")
        if any(b.WhichOneof("block") != "text" for b in last.content):
            return Ineligible("the question carries images or other non-text content")
        prior = request.messages[:-1]
        if prior and not self._allow_multi_turn:
            return Ineligible("multi-turn requests are configured as not eligible")
        text = normalise_question(" ".join(b.text.text for b in last.content))
        if not text:
            return Ineligible("the question is empty")
        if len(text) > self._max_chars or self._count_tokens(text) > self._max_tokens:
            return Ineligible(
                f"the question is longer than the {self._max_tokens} tokens the embedding "
                "model reads"
            )
        scope = Scope(
            model=request.model,
            system_hash=system_prompt_hash(request.system),
            task=task,
            template_version=template_version,
            context_digest=context_digest(prior),
        )
        return Question(text=text, scope=scope, max_tokens=request.max_tokens)


def system_prompt_hash(system: Collection[common_pb2.ContentBlock]) -> str:
    """Digest of the system prompt's text; cache_control markers do not change the answer."""
    return _digest("system", *(b.text.text for b in system if b.WhichOneof("block") == "text"))


def context_digest(prior: Collection[common_pb2.Message]) -> str:
    """Digest of the turns before the question; "" when there are none."""
    if not prior:
        return ""
    parts: list[str] = []
    for message in prior:
        parts.append(f"role:{message.role}")
        for block in message.content:
            kind = block.WhichOneof("block")
            if kind == "text":
                parts.append("text:" + block.text.text)
            elif kind == "image":
                image_hash = hashlib.sha256(block.image.data).hexdigest()
                parts.append(f"image:{block.image.media_type}:{image_hash}")
            else:
                parts.append(f"{kind}:{block.SerializeToString(deterministic=True).hex()}")
    return _digest(*parts)


def _has_tool_blocks(message: common_pb2.Message) -> bool:
    return any(b.WhichOneof("block") in ("tool_use", "tool_result") for b in message.content)


def _digest(*parts: str) -> str:
    return hashlib.sha256(_SEP.join(parts).encode()).hexdigest()
