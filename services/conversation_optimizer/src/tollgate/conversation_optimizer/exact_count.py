"""Exact input-token counts from the Anthropic API's Messages `count_tokens` endpoint.

Only used when an API key is configured, for callers that ask for `exact`. Counts are cached per
tenant by the canonical JSON of what is counted, so asking twice costs one call. When the API is
unreachable, rate-limited or failing, the caller gets the calibrated estimate instead (marked as
not exact); a request the API refuses as malformed is the caller's error (INVALID_ARGUMENT).
"""

from __future__ import annotations

import hashlib
import logging
from typing import TYPE_CHECKING, Any

from tollgate.common.anthropic_format import request_to_params
from tollgate.common.errors import invalid_argument
from tollgate.common.lru import LruCache
from tollgate.common.token_estimate import canonical_json
from tollgate.conversation_optimizer.metrics import optimizer_metrics
from tollgate.v1 import common_pb2

if TYPE_CHECKING:
    import anthropic

log = logging.getLogger("tollgate.conversation_optimizer.exact_count")

# What `count_tokens` accepts of a Messages request.
_COUNTED_FIELDS = ("model", "messages", "system", "tools", "tool_choice")


def count_params(request: common_pb2.ClaudeRequest, default_model: str) -> dict[str, Any]:
    params = request_to_params(request)
    if not params.get("model"):
        params["model"] = default_model
    return {name: params[name] for name in _COUNTED_FIELDS if name in params}


def count_key(tenant_id: str, params: dict[str, Any]) -> str:
    return f"{tenant_id}\x00{hashlib.sha256(canonical_json(params).encode()).hexdigest()}"


class ExactTokenCounter:
    def __init__(
        self,
        api_key: str,
        base_url: str,
        default_model: str,
        timeout_seconds: float,
        cache_entries: int,
    ) -> None:
        self._api_key = api_key
        self._base_url = base_url
        self._default_model = default_model
        self._timeout = timeout_seconds
        self._cache: LruCache[str, int] = LruCache(cache_entries)
        self._client: anthropic.AsyncAnthropic | None = None

    @property
    def available(self) -> bool:
        return bool(self._api_key)

    async def start(self) -> None:
        if not self._api_key or self._client is not None:
            return
        # Imported here: without a key the service never needs the SDK.
        import anthropic

        self._client = anthropic.AsyncAnthropic(
            api_key=self._api_key,
            base_url=self._base_url or None,
            timeout=self._timeout,
            max_retries=1,
        )

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None

    async def count(self, tenant_id: str, request: common_pb2.ClaudeRequest) -> int | None:
        """The exact count, or None when the API cannot give it right now."""
        import anthropic

        counter = optimizer_metrics().exact_counts
        if self._client is None:
            return None
        params = count_params(request, self._default_model)
        key = count_key(tenant_id, params)
        cached = self._cache.get(key)
        if cached is not None:
            counter.add(1, {"outcome": "cached"})
            return cached
        try:
            result = await self._client.messages.count_tokens(**params)
        except (anthropic.BadRequestError, anthropic.NotFoundError) as exc:
            raise invalid_argument(
                f"The Anthropic API refused to count this request: {_api_message(exc)}", "request"
            ) from exc
        except anthropic.APIError as exc:
            counter.add(1, {"outcome": "estimated"})
            log.warning("exact count unavailable, estimating", extra={"reason": str(exc)})
            return None
        counter.add(1, {"outcome": "counted"})
        self._cache.put(key, result.input_tokens)
        return result.input_tokens


def _api_message(exc: Any) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict) and error.get("message"):
            return str(error["message"])
    return str(getattr(exc, "message", exc))
