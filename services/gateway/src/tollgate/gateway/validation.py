"""Request validation: every refusal is INVALID_ARGUMENT with a sentence naming the problem."""

from __future__ import annotations

from tollgate.common.errors import invalid_argument
from tollgate.common.pricing import PriceTable
from tollgate.gateway.settings import Settings
from tollgate.v1 import common_pb2, gateway_pb2

_ROLE_NAMES = {common_pb2.ROLE_USER: "user", common_pb2.ROLE_ASSISTANT: "assistant"}


class RequestValidator:
    def __init__(self, settings: Settings, prices: PriceTable) -> None:
        self._settings = settings
        self._prices = prices

    def check(self, completion: gateway_pb2.Completion) -> None:
        size = completion.ByteSize()
        if size > self._settings.max_request_bytes:
            raise invalid_argument(
                f"The request is {size:,} bytes; the limit is "
                f"{self._settings.max_request_bytes:,} bytes.",
                "completion",
            )
        request = completion.request
        self._check_enums(completion)
        self._check_model(request.model)
        self._check_sampling(request)
        self._check_system(request)
        self._check_messages(request)

    @staticmethod
    def _check_enums(completion: gateway_pb2.Completion) -> None:
        # Enums are open on the wire: a caller can send a number no version of the API defines.
        task = completion.task
        if task not in common_pb2.TaskType.values():
            raise invalid_argument(f"Unknown task {task}.", "completion.task")
        choice = completion.request.tool_choice.type
        if choice not in common_pb2.ToolChoiceType.values():
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
        return new_tool_uses
