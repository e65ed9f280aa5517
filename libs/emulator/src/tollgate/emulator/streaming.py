"""Writing a message as a paced server-sent-event stream.

Pacing follows the latency config: the time to first token passes before the
headers go out (the real API answers once the prompt is processed), then each
delta waits for its tokens at ``tokens_per_second``. Between events the socket
is checked, so a client that cancels is noticed within a poll interval and
generation stops there instead of running to the end.
"""

from __future__ import annotations

from aiohttp import web

from tollgate.emulator.config import FaultKind
from tollgate.emulator.engine import Completion
from tollgate.emulator.errors import error_body
from tollgate.emulator.faults import overloaded_error
from tollgate.emulator.sse import error_event, message_events
from tollgate.emulator.web_support import (
    REQUEST_ID,
    drop_connection,
    no_response,
    note_client_disconnect,
    state_of,
    wait_unless_gone,
)

_MIDWAY_FAULTS = (FaultKind.STREAM_DROP, FaultKind.STREAM_ERROR)
SSE_HEADERS = {
    "Content-Type": "text/event-stream; charset=utf-8",
    "Cache-Control": "no-cache",
}


async def _strike(
    request: web.Request, response: web.StreamResponse, fault: FaultKind | None
) -> None:
    """Break an open stream: cut the socket, or end it with an error event."""
    if fault is FaultKind.STREAM_DROP:
        drop_connection(request)
        return
    error = overloaded_error()
    body = error_body(error.error_type, error.message, request[REQUEST_ID])
    await response.write(error_event(body).encode())
    await response.write_eof()


async def stream_completion(
    request: web.Request, completion: Completion, *, midway_fault: FaultKind | None = None
) -> web.StreamResponse:
    """Stream a message; STREAM_DROP / STREAM_ERROR faults strike halfway through."""
    state = state_of(request)
    latency = state.config.latency
    state.stats.streams_started += 1
    if not await wait_unless_gone(request, latency.ttft_ms / 1000):
        note_client_disconnect(request)
        return no_response(request)

    response = web.StreamResponse(status=200, headers=SSE_HEADERS)
    await response.prepare(request)
    events = message_events(completion.message)
    cut_at = len(events) // 2 if midway_fault in _MIDWAY_FAULTS else None
    try:
        for index, event in enumerate(events):
            if index == cut_at:
                await _strike(request, response, midway_fault)
                return response
            tps = state.config.latency.tokens_per_second
            pause = event.tokens / tps if event.tokens and tps > 0 else 0.0
            if not await wait_unless_gone(request, pause):
                note_client_disconnect(request)
                return response
            await response.write(event.encode())
        await response.write_eof()
    except ConnectionError:
        note_client_disconnect(request)
        return response
    state.stats.streams_completed += 1
    return response
