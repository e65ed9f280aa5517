"""The canonical key: what is in it, what is not, and which encodings count as the same."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from google.protobuf import struct_pb2

from tollgate.cache.canonical import (
    KEYED_FIELDS,
    UNKEYED_FIELDS,
    MalformedRequestError,
    Rendering,
    cache_key,
)
from tollgate.v1 import common_pb2

Mutation = Callable[[common_pb2.ClaudeRequest], None]


def _text(text: str) -> common_pb2.ContentBlock:
    return common_pb2.ContentBlock(text=common_pb2.TextBlock(text=text))


def _struct(value: dict[str, object]) -> struct_pb2.Struct:
    struct = struct_pb2.Struct()
    struct.update(value)
    return struct


def _base() -> common_pb2.ClaudeRequest:
    """A request that sets every field, so that each one can be changed on its own."""
    return common_pb2.ClaudeRequest(
        model="claude-sonnet-4-5",
        system=[_text("You are a real-estate assistant.")],
        messages=[
            common_pb2.Message(
                role=common_pb2.ROLE_USER,
                content=[
                    _text("Score this lead."),
                    common_pb2.ContentBlock(
                        image=common_pb2.ImageBlock(media_type="image/png", data=b"\x89PNG")
                    ),
                ],
            ),
            common_pb2.Message(
                role=common_pb2.ROLE_ASSISTANT,
                content=[
                    common_pb2.ContentBlock(
                        tool_use=common_pb2.ToolUseBlock(
                            id="toolu_1", name="crm_lookup", input=_struct({"lead": 42})
                        )
                    )
                ],
            ),
            common_pb2.Message(
                role=common_pb2.ROLE_USER,
                content=[
                    common_pb2.ContentBlock(
                        tool_result=common_pb2.ToolResultBlock(
                            tool_use_id="toolu_1",
                            content=[_text("budget 450000")],
                            is_error=False,
                        )
                    )
                ],
            ),
        ],
        tools=[
            common_pb2.Tool(
                name="crm_lookup",
                description="Look a lead up in the CRM.",
                input_schema=_struct({"type": "object"}),
            )
        ],
        tool_choice=common_pb2.ToolChoice(type=common_pb2.TOOL_CHOICE_TYPE_TOOL, name="crm_lookup"),
        max_tokens=512,
        temperature=0.0,
        top_p=0.9,
        top_k=40,
        stop_sequences=["END"],
    )


def _key(request: common_pb2.ClaudeRequest, **scope: str) -> str:
    return cache_key(
        scope.get("tenant", "acme"), scope.get("task", "chat"), scope.get("template", "v1"), request
    )


def _tool_use(request: common_pb2.ClaudeRequest) -> common_pb2.ToolUseBlock:
    return request.messages[1].content[0].tool_use


def _tool_result(request: common_pb2.ClaudeRequest) -> common_pb2.ToolResultBlock:
    return request.messages[2].content[0].tool_result


def _set_top_k(request: common_pb2.ClaudeRequest) -> None:
    request.top_k = 41


# One change per keyed field ("Message.field"), each of which must give a different key.
MUTATIONS: dict[str, Mutation] = {
    "ClaudeRequest.model": lambda r: setattr(r, "model", "claude-haiku-4-5"),
    "ClaudeRequest.system": lambda r: r.system.append(_text("Be brief.")),
    "ClaudeRequest.messages": lambda r: r.messages.append(
        common_pb2.Message(role=common_pb2.ROLE_ASSISTANT, content=[_text("OK")])
    ),
    "ClaudeRequest.tools": lambda r: r.tools.append(common_pb2.Tool(name="calendar")),
    "ClaudeRequest.tool_choice": lambda r: setattr(
        r.tool_choice, "type", common_pb2.TOOL_CHOICE_TYPE_ANY
    ),
    "ClaudeRequest.max_tokens": lambda r: setattr(r, "max_tokens", 513),
    "ClaudeRequest.temperature": lambda r: setattr(r, "temperature", 0.5),
    "ClaudeRequest.top_p": lambda r: setattr(r, "top_p", 0.95),
    "ClaudeRequest.top_k": _set_top_k,
    "ClaudeRequest.stop_sequences": lambda r: r.stop_sequences.append("STOP"),
    "Message.role": lambda r: setattr(r.messages[0], "role", common_pb2.ROLE_ASSISTANT),
    "Message.content": lambda r: r.messages[0].content.append(_text("Quickly.")),
    "ContentBlock.text": lambda r: setattr(r.messages[0].content[0].text, "text", "Score it."),
    # The image becomes a text block: a block's kind is part of the key.
    "ContentBlock.image": lambda r: setattr(r.messages[0].content[1].text, "text", "photo"),
    "ContentBlock.tool_use": lambda r: setattr(_tool_use(r), "name", "crm_search"),
    "ContentBlock.tool_result": lambda r: setattr(_tool_result(r), "is_error", True),
    "TextBlock.text": lambda r: setattr(r.system[0].text, "text", "You are an assistant."),
    "ImageBlock.media_type": lambda r: setattr(
        r.messages[0].content[1].image, "media_type", "image/jpeg"
    ),
    "ImageBlock.data": lambda r: setattr(r.messages[0].content[1].image, "data", b"\x89PNH"),
    "ToolUseBlock.id": lambda r: setattr(_tool_use(r), "id", "toolu_2"),
    "ToolUseBlock.name": lambda r: setattr(_tool_use(r), "name", "crm_fetch"),
    "ToolUseBlock.input": lambda r: _tool_use(r).input.update({"lead": 43}),
    "ToolResultBlock.tool_use_id": lambda r: setattr(_tool_result(r), "tool_use_id", "toolu_9"),
    "ToolResultBlock.content": lambda r: setattr(
        _tool_result(r).content[0].text, "text", "budget 460000"
    ),
    "ToolResultBlock.is_error": lambda r: setattr(_tool_result(r), "is_error", True),
    "Tool.name": lambda r: setattr(r.tools[0], "name", "crm_find"),
    "Tool.description": lambda r: setattr(r.tools[0], "description", "Find a lead."),
    "Tool.input_schema": lambda r: r.tools[0].input_schema.update({"required": ["lead"]}),
    "ToolChoice.type": lambda r: setattr(r.tool_choice, "type", common_pb2.TOOL_CHOICE_TYPE_NONE),
    "ToolChoice.name": lambda r: setattr(r.tool_choice, "name", "calendar"),
    "ToolChoice.disable_parallel_tool_use": lambda r: setattr(
        r.tool_choice, "disable_parallel_tool_use", True
    ),
}


def test_every_field_of_the_request_messages_is_either_keyed_or_deliberately_not() -> None:
    for message_name in KEYED_FIELDS.keys() | UNKEYED_FIELDS.keys():
        descriptor = common_pb2.DESCRIPTOR.message_types_by_name[message_name]
        declared = {field.name for field in descriptor.fields}
        classified = KEYED_FIELDS.get(message_name, frozenset()) | UNKEYED_FIELDS.get(
            message_name, frozenset()
        )
        assert declared == classified, message_name


def test_every_keyed_field_has_a_mutation_in_this_test() -> None:
    keyed = {f"{message}.{field}" for message, fields in KEYED_FIELDS.items() for field in fields}
    assert keyed == set(MUTATIONS)


@pytest.mark.parametrize("field", sorted(MUTATIONS))
def test_changing_a_keyed_field_changes_the_key(field: str) -> None:
    request = _base()
    changed = _base()
    MUTATIONS[field](changed)
    assert changed != request
    assert _key(changed) != _key(request)


def test_tenant_task_and_template_version_are_in_the_key() -> None:
    request = _base()
    base = _key(request)
    assert _key(request, tenant="globex") != base
    assert _key(request, task="lead_analysis") != base
    assert _key(request, template="v2") != base


def test_template_variables_are_in_the_key() -> None:
    # Dana's e-mail and offer price rendered into the template must never answer Bob.
    request = _base()
    dana = Rendering({"lead_name": "Dana", "offer": "$410,000"})
    bob = Rendering({"lead_name": "Bob", "offer": "$410,000"})
    base = cache_key("acme", "chat", "v1", request, dana)
    assert cache_key("acme", "chat", "v1", request, bob) != base
    assert cache_key("acme", "chat", "v1", request, Rendering({"lead_name": "Dana"})) != base
    assert cache_key("acme", "chat", "v1", request) != base
    # Only the order the caller listed them in is not content.
    reordered = Rendering({"offer": "$410,000", "lead_name": "Dana"})
    assert cache_key("acme", "chat", "v1", request, reordered) == base


def test_a_variable_name_is_not_confused_with_its_value() -> None:
    request = _base()
    one = cache_key("acme", "chat", "v1", request, Rendering({"a": "b=c"}))
    other = cache_key("acme", "chat", "v1", request, Rendering({"a=b": "c"}))
    assert one != other


def test_the_contact_scope_is_in_the_key() -> None:
    # Templates that read contact data beyond the variables key on the contact itself.
    request = _base()
    dana = cache_key("acme", "chat", "v1", request, Rendering(contact_scope="contact-dana"))
    bob = cache_key("acme", "chat", "v1", request, Rendering(contact_scope="contact-bob"))
    unscoped = cache_key("acme", "chat", "v1", request)
    assert len({dana, bob, unscoped}) == 3


def test_tools_are_in_the_key() -> None:
    request = _base()
    base = _key(request)
    changed = _base()
    changed.tools[0].description += " (v2)"
    assert _key(changed) != base
    removed = _base()
    del removed.tools[:]
    assert _key(removed) != base


def test_the_key_is_a_stable_sha256() -> None:
    request = _base()
    assert _key(request) == _key(common_pb2.ClaudeRequest.FromString(request.SerializeToString()))
    key = _key(request)
    assert len(key) == 64
    assert int(key, 16) >= 0


def test_text_is_content_whitespace_and_case_change_the_key() -> None:
    base = _base()
    for variant in (
        "Score this lead. ",
        " Score this lead.",
        "Score  this lead.",
        "score this lead.",
    ):
        changed = _base()
        changed.messages[0].content[0].text.text = variant
        assert _key(changed) != _key(base), repr(variant)


def test_unset_temperature_is_not_the_same_as_any_value() -> None:
    unset = _base()
    unset.ClearField("temperature")
    keys = {_key(unset)}
    for value in (0.0, 1.0):
        explicit = _base()
        explicit.temperature = value
        keys.add(_key(explicit))
    assert len(keys) == 3


def test_split_system_blocks_are_not_merged() -> None:
    one = _base()
    one.system[0].text.text = "ab"
    two = _base()
    two.system[0].text.text = "a"
    two.system.append(_text("b"))
    assert _key(one) != _key(two)


def test_struct_key_order_does_not_matter() -> None:
    first = _base()
    second = _base()
    first.tools[0].input_schema.Clear()
    first.tools[0].input_schema.update({"type": "object", "properties": {"a": 1, "b": [1, 2]}})
    second.tools[0].input_schema.Clear()
    second.tools[0].input_schema.update({"properties": {"b": [1, 2], "a": 1}, "type": "object"})
    assert _key(first) == _key(second)


def test_unset_and_default_tool_choice_are_the_same() -> None:
    keys = set()
    for build in (
        lambda r: r.ClearField("tool_choice"),
        lambda r: r.tool_choice.CopyFrom(common_pb2.ToolChoice()),
        lambda r: r.tool_choice.CopyFrom(
            common_pb2.ToolChoice(type=common_pb2.TOOL_CHOICE_TYPE_AUTO)
        ),
        # The name means nothing unless a specific tool is forced.
        lambda r: r.tool_choice.CopyFrom(
            common_pb2.ToolChoice(type=common_pb2.TOOL_CHOICE_TYPE_AUTO, name="crm_lookup")
        ),
    ):
        request = _base()
        build(request)
        keys.add(_key(request))
    assert len(keys) == 1


def test_unset_and_empty_input_objects_are_the_same() -> None:
    unset = _base()
    unset.tools[0].ClearField("input_schema")
    _tool_use(unset).ClearField("input")
    empty = _base()
    empty.tools[0].input_schema.Clear()
    _tool_use(empty).input.Clear()
    assert _key(unset) == _key(empty)


def test_stop_sequence_order_and_repeats_do_not_matter() -> None:
    first = _base()
    first.stop_sequences[:] = ["END", "STOP"]
    second = _base()
    second.stop_sequences[:] = ["STOP", "END", "STOP"]
    assert _key(first) == _key(second)


def test_cache_control_breakpoints_are_not_in_the_key() -> None:
    plain = _base()
    marked = _base()
    ttl = common_pb2.CacheControl(ttl=common_pb2.CACHE_TTL_1H)
    marked.system[0].cache_control.CopyFrom(ttl)
    marked.tools[0].cache_control.CopyFrom(ttl)
    marked.messages[0].content[0].cache_control.CopyFrom(ttl)
    assert marked != plain
    assert _key(marked) == _key(plain)


def test_media_type_case_and_negative_zero_are_normalised() -> None:
    first = _base()
    second = _base()
    second.messages[0].content[1].image.media_type = "image/PNG"
    second.temperature = -0.0
    assert _key(first) == _key(second)


def test_an_empty_content_block_is_refused_with_its_path() -> None:
    request = _base()
    request.messages[2].content.append(common_pb2.ContentBlock())
    with pytest.raises(MalformedRequestError) as error:
        _key(request)
    assert error.value.field == "messages[2].content[1]"


def test_a_message_without_role_is_refused() -> None:
    request = _base()
    request.messages[1].role = common_pb2.ROLE_UNSPECIFIED
    with pytest.raises(MalformedRequestError) as error:
        _key(request)
    assert error.value.field == "messages[1].role"
