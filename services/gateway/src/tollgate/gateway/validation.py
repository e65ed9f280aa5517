"""Request validation: every refusal is INVALID_ARGUMENT with a sentence naming the problem."""

from __future__ import annotations

import re

from tollgate.common.agent_profiles import check_agent_id
from tollgate.common.errors import invalid_argument
from tollgate.common.pricing import PriceTable
from tollgate.common.token_estimate import estimate_request, estimate_text
from tollgate.gateway.block_checks import check_image, check_tool_result_content
from tollgate.gateway.field_checks import check_identifier, check_identifiers
from tollgate.gateway.sessions import check_session_id
from tollgate.gateway.settings import Settings
from tollgate.v1 import common_pb2, gateway_pb2

_ROLE_NAMES = {common_pb2.ROLE_USER: "user", common_pb2.ROLE_ASSISTANT: "assistant"}
# What the API accepts as a tool name, and what a template placeholder may be called.
_TOOL_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
_VARIABLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
MAX_TOOLS = 128
MAX_TEMPLATE_VARIABLES = 64
MAX_STOP_SEQUENCES = 64
# Every value the API defines, read once: `EnumTypeWrapper.values()` builds a list per call.
_TASKS = frozenset(common_pb2.TaskType.values())
_TOOL_CHOICES = frozenset(common_pb2.ToolChoiceType.values())


class RequestValidator:
    def __init__(self, settings: Settings, prices: PriceTable) -> None:
        self._settings = settings
        self._prices = prices
        # The window of a request that names no model: the smallest of the table's (which is
        # loaded once), not sorted and searched again per request.
        self._smallest_window = min(
            prices.price(model).context_window_tokens for model in prices.models
        )

    def check(self, completion: gateway_pb2.Completion) -> int:
        """Refuse an invalid completion; return the estimated input tokens of its request
        (template variables not included), which admission counts, so it is estimated once."""
        size = completion.ByteSize()
        if size > self._settings.max_request_bytes:
            raise invalid_argument(
                f"The request is {size:,} bytes; the limit is "
                f"{self._settings.max_request_bytes:,} bytes.",
                "completion",
            )
        request = completion.request
        self._check_enums(completion)
        self._check_labels(completion)
        self._check_model(request.model)
        self._check_sampling(request)
        self._check_system(request)
        self._check_tools(request)
        self._check_messages(request)
        return self._check_context_window(completion)

    @staticmethod
    def _check_labels(completion: gateway_pb2.Completion) -> None:
        check_identifier(completion.request_id, "completion.request_id")
        check_identifier(completion.contact_id, "completion.contact_id")
        check_identifier(completion.conversation_id, "completion.conversation_id")
        if completion.agent_id:
            check_agent_id(completion.agent_id, "completion.agent_id")
        if completion.session_id:
            check_session_id(completion.session_id, "completion.session_id")
        check_identifiers(completion.tags, "completion.tags")
        variables = completion.template_variables
        if len(variables) > MAX_TEMPLATE_VARIABLES:
            raise invalid_argument(
                f"The request has {len(variables):,} template variables; the limit is "
                f"{MAX_TEMPLATE_VARIABLES}.",
                "completion.template_variables",
            )
        for name in variables:
            if not _VARIABLE_NAME.fullmatch(name):
                raise invalid_argument(
                    f"Template variable name {name[:64]!r} is not a name: use letters, digits and "
                    "underscores, at most 64.",
                    "completion.template_variables",
                )

    def _check_context_window(self, completion: gateway_pb2.Completion) -> int:
        """Refuse what no model could take: the estimated prompt (variables included) plus
        max_tokens past the window of the named model, or of the smallest when none is named.
        The calibrated estimate is used, not the upper bound, so a request that fits is never
        refused; what the estimate misses, Claude refuses itself. Returns the request's own
        estimate (without the variables)."""
        request = completion.request
        window = (
            self._prices.price(request.model).context_window_tokens
            if request.model
            else self._smallest_window
        )
        estimate = estimate_request(request)
        prompt = estimate + sum(
            estimate_text(value) for value in completion.template_variables.values()
        )
        if prompt + request.max_tokens > window:
            raise invalid_argument(
                f"The prompt is about {prompt:,} tokens and max_tokens is "
                f"{request.max_tokens:,}: together more than the {window:,}-token context "
                f"window of {request.model or 'the models this request may be routed to'}.",
                "completion.request",
            )
        return estimate

    @staticmethod
    def _check_tools(request: common_pb2.ClaudeRequest) -> None:
        if len(request.tools) > MAX_TOOLS:
            raise invalid_argument(
                f"The request defines {len(request.tools):,} tools; the limit is {MAX_TOOLS}.",
                "completion.request.tools",
            )
        names: set[str] = set()
        for index, tool in enumerate(request.tools):
            if not _TOOL_NAME.fullmatch(tool.name):
                raise invalid_argument(
                    f"Tool {index} needs a name of 1 to 64 letters, digits, '_' or '-'.",
                    f"completion.request.tools[{index}].name",
                )
            if tool.name in names:
                raise invalid_argument(
                    f"Tool name {tool.name!r} is defined twice.",
                    f"completion.request.tools[{index}].name",
                )
            names.add(tool.name)
        stops = request.stop_sequences
        if len(stops) > MAX_STOP_SEQUENCES or any(not stop for stop in stops):
            raise invalid_argument(
                f"stop_sequences takes at most {MAX_STOP_SEQUENCES} non-empty strings.",
                "completion.request.stop_sequences",
            )

    @staticmethod
    def _check_enums(completion: gateway_pb2.Completion) -> None:
        # Enums are open on the wire: a caller can send a number no version of the API defines.
        task = completion.task
        if task not in _TASKS:
            raise invalid_argument(f"Unknown task {task}.", "completion.task")
        choice = completion.request.tool_choice.type
        if choice not in _TOOL_CHOICES:
            raise invalid_argument(
                f"Unknown tool_choice type {choice}.", "completion.request.tool_choice.type"
            )

    def _check_model(self, model: str) -> None:
        if model and not self._prices.knows(model):
            raise invalid_argument(
                f"Unknown model {model!r}. Allowed models: {', '.join(self._prices.models)}.",
                "completion.request.model",
            )

    def _check_sampling(self, request: common_pb2.ClaudeRequest) -> None:
        limit = self._settings.max_output_tokens
        if not 1 <= request.max_tokens <= limit:
            raise invalid_argument(
                f"max_tokens must be between 1 and {limit:,}; got {request.max_tokens}.",
                "completion.request.max_tokens",
            )
        for name in ("temperature", "top_p"):
            if request.HasField(name) and not 0.0 <= getattr(request, name) <= 1.0:
                raise invalid_argument(
                    f"{name} must be between 0 and 1; got {getattr(request, name):g}.",
                    f"completion.request.{name}",
                )

    def _check_system(self, request: common_pb2.ClaudeRequest) -> None:
        for index, block in enumerate(request.system):
            if block.WhichOneof("block") != "text":
                raise invalid_argument(
                    "The system prompt may contain only text blocks.",
                    f"completion.request.system[{index}]",
                )

    def _check_messages(self, request: common_pb2.ClaudeRequest) -> None:
        messages = request.messages
        if not messages:
            raise invalid_argument(
                "The request has no messages; send at least one user message.",
                "completion.request.messages",
            )
        if len(messages) > self._settings.max_messages:
            raise invalid_argument(
                f"The request has {len(messages):,} messages; the limit is "
                f"{self._settings.max_messages:,}.",
                "completion.request.messages",
            )
        expected = common_pb2.ROLE_USER
        open_tool_uses: set[str] = set()
        for index, message in enumerate(messages):
            path = f"completion.request.messages[{index}]"
            if message.role not in _ROLE_NAMES:
                raise invalid_argument(
                    f"Message {index} has no role; use 'user' or 'assistant'.", f"{path}.role"
                )
            if message.role != expected:
                raise invalid_argument(
                    f"Roles out of order at message {index}: expected "
                    f"{_ROLE_NAMES[expected]!r}, got {_ROLE_NAMES[message.role]!r}. Messages must "
                    "start with 'user' and alternate between 'user' and 'assistant'.",
                    f"{path}.role",
                )
            if not message.content:
                raise invalid_argument(f"Message {index} has no content.", f"{path}.content")
            open_tool_uses = self._check_blocks(index, message, open_tool_uses)
            expected = (
                common_pb2.ROLE_ASSISTANT
                if message.role == common_pb2.ROLE_USER
                else common_pb2.ROLE_USER
            )

    @staticmethod
    def _check_blocks(
        index: int, message: common_pb2.Message, open_tool_uses: set[str]
    ) -> set[str]:
        """Checks one message's blocks; returns the tool_use ids the next message may answer."""
        path = f"completion.request.messages[{index}].content"
        new_tool_uses: set[str] = set()
        for block_index, block in enumerate(message.content):
            kind = block.WhichOneof("block")
            where = f"{path}[{block_index}]"
            if kind is None:
                raise invalid_argument(f"Message {index} has an empty content block.", where)
            if kind == "text" and not block.text.text:
                raise invalid_argument(f"Message {index} has an empty text block.", where)
            if kind == "image":
                check_image(block.image, where)
            if kind == "tool_use":
                if message.role != common_pb2.ROLE_ASSISTANT:
                    raise invalid_argument(
                        f"Message {index}: only assistant messages may contain tool_use.", where
                    )
                if not block.tool_use.id or not block.tool_use.name:
                    raise invalid_argument(
                        f"Message {index}: a tool_use block needs an id and a name.", where
                    )
                new_tool_uses.add(block.tool_use.id)
            if kind == "tool_result":
                if message.role != common_pb2.ROLE_USER:
                    raise invalid_argument(
                        f"Message {index}: only user messages may contain tool_result.", where
                    )
                if block.tool_result.tool_use_id not in open_tool_uses:
                    raise invalid_argument(
                        f"Message {index}: tool_result for {block.tool_result.tool_use_id!r} "
                        "has no matching tool_use in the assistant message just before it.",
                        where,
                    )
                check_tool_result_content(block.tool_result, where)
        return new_tool_uses
