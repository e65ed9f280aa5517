"""``POST /v1/messages`` and ``POST /v1/messages/count_tokens``.

Order of checks for a message request, chosen so that a test's scripted fault
is never spent on a request that was going to fail anyway: auth (middleware)
-> body validation -> organisation rate limits -> concurrency limit -> scripted / random fault
-> answer. The rate-limit headers are added to every response (``add_rate_limit_headers``).
"""

from __future__ import annotations

from aiohttp import web

from tollgate.emulator.config import FaultKind
from tollgate.emulator.faults import concurrency_error, fault_error
from tollgate.emulator.streaming import stream_completion
from tollgate.emulator.validation import validate_request
from tollgate.emulator.web_support import (
    SCOPE,
    drop_connection,
    json_response,
    no_response,
    note_client_disconnect,
    read_json,
    record_of,
    state_of,
    wait_unless_gone,
)


async def create_message(request: web.Request) -> web.StreamResponse:
    state = state_of(request)
    config = state.config
    message_request = validate_request(await read_json(request), config)
    admission = state.rate_limits.admit(
        request[SCOPE],
        message_request.model,
        input_tokens=message_request.prompt_tokens,
        max_tokens=message_request.max_tokens,
    )
    limit = config.max_concurrency
    if limit is not None and state.stats.in_flight >= limit:
        state.stats.faults_injected["concurrency_limit"] += 1
        raise concurrency_error(config.retry_after_s)

    state.stats.enter_flight()
    try:
        fault = state.faults.draw(message_request.model)
        if fault is not None:
            state.stats.faults_injected[fault.kind.value] += 1
            record_of(request).fault = fault.kind.value
            error = fault_error(fault, streaming=message_request.stream)
            if error is not None:
                raise error
            if fault.kind is FaultKind.CONNECTION_DROP or not message_request.stream:
                drop_connection(request)
                return no_response(request)

        completion = state.engine.complete(message_request, scope=request[SCOPE])
        usage = completion.usage
        state.rate_limits.settle(
            admission,
            # Cache reads do not count towards the input-token limit.
            input_tokens=usage.input_tokens + usage.cache_creation_input_tokens,
            output_tokens=completion.answer.output_tokens,
        )
        state.stats.add_usage(record_of(request), completion.message["usage"])
        if message_request.stream:
            midway = fault.kind if fault is not None else None
            return await stream_completion(request, completion, midway_fault=midway)

        latency = config.latency
        delay = latency.ttft_ms / 1000
        if latency.tokens_per_second > 0:
            delay += completion.answer.output_tokens / latency.tokens_per_second
        if not await wait_unless_gone(request, delay):
            note_client_disconnect(request)
            return no_response(request)
        return json_response(completion.message)
    finally:
        state.stats.leave_flight()


async def count_tokens(request: web.Request) -> web.StreamResponse:
    message_request = validate_request(
        await read_json(request), state_of(request).config, for_count=True
    )
    return json_response({"input_tokens": message_request.prompt_tokens})
