"""Cache control per request, through both doors: bypass, refresh (ask Claude and overwrite the
stored answer), a TTL of the request's own, and caching a sampled answer when the request or the
tenant's policy opts in. Without either a sampled answer is never cached."""

from __future__ import annotations

import asyncio
from copy import deepcopy
from typing import Any

import httpx

from tests.conftest import ALL_ON, API_KEY, OTHER_TENANT_KEY, FullSuite
from tollgate.v1 import common_pb2, gateway_pb2

ASK: dict[str, Any] = {
    "model": "claude-sonnet-5-5",
    "max_tokens": 1000,
    "temperature": 0,
    "messages": [{"role": "user", "content": "Which documents prove my income?"}],
}


async def _post(http: httpx.AsyncClient, body: dict[str, Any], **headers: str) -> httpx.Response:
    reply = await http.post("/v1/messages", json=body, headers=headers)
    assert reply.status_code == 200, reply.text
    return reply


async def test_bypass_refresh_ttl_and_sampled_answers_over_http(
    door: tuple[FullSuite, str],
) -> None:
    suite, base_url = door
    async with httpx.AsyncClient(base_url=base_url, headers={"x-api-key": API_KEY}) as http:
        assert (await _post(http, ASK)).headers["x-tollgate-cache"] == "miss"
        await suite.settled()
        assert (await _post(http, ASK)).headers["x-tollgate-cache"] == "exact"

        calls = suite.upstream_calls()
        bypassed = await _post(http, ASK, **{"x-tollgate-cache-mode": "bypass"})
        assert bypassed.headers["x-tollgate-cache"] == "bypass"
        assert int(bypassed.headers["x-tollgate-cost-micros"]) > 0
        assert suite.upstream_calls() == calls + 1

        # A refresh asks Claude although an answer is stored, and overwrites it with a 1 s TTL:
        # once that has passed, the entry is gone (the overwrite happened, with its TTL).
        refreshed = await _post(
            http, ASK, **{"x-tollgate-cache-mode": "refresh", "x-tollgate-cache-ttl": "1"}
        )
        assert refreshed.headers["x-tollgate-cache"] == "miss"
        assert suite.upstream_calls() == calls + 2
        await suite.settled()
        assert (await _post(http, ASK)).headers["x-tollgate-cache"] == "exact"
        await asyncio.sleep(1.5)
        assert (await _post(http, ASK)).headers["x-tollgate-cache"] == "miss"

        sampled = {**ASK, "temperature": 0.8, "messages": [{"role": "user", "content": "A haiku"}]}
        await _post(http, sampled)
        await suite.settled()
        assert (await _post(http, sampled)).headers["x-tollgate-cache"] == "miss"
        opt_in = {"x-tollgate-cache-sampled": "true"}
        await _post(http, sampled, **opt_in)
        await suite.settled()
        assert (await _post(http, sampled, **opt_in)).headers["x-tollgate-cache"] == "exact"

        bad = await http.post("/v1/messages", json=ASK, headers={"x-tollgate-cache-mode": "x"})
        assert bad.status_code == 400
        assert "x-tollgate-cache-mode" in bad.json()["error"]["message"]


async def test_the_account_says_what_the_preference_did_over_grpc(
    door: tuple[FullSuite, str],
) -> None:
    suite, _ = door
    async with suite.client() as client:
        bypass = gateway_pb2.CachePreference(mode=gateway_pb2.CACHE_MODE_BYPASS)
        answer = await client.complete(cache=bypass, **ASK)
        await suite.settled()
        refresh = gateway_pb2.CachePreference(mode=gateway_pb2.CACHE_MODE_REFRESH)
        again = await client.complete(cache=refresh, **ASK)
    assert answer.account.cache_status == common_pb2.CACHE_STATUS_BYPASS
    details = {r.optimization: r.detail for r in answer.account.optimizations}
    assert details["exact_cache"] == "bypassed by the request"
    details = {r.optimization: r.detail for r in again.account.optimizations}
    assert details["exact_cache"].startswith("refresh")


async def test_a_tenant_policy_caches_its_sampled_answers_and_only_its_own(
    door: tuple[FullSuite, str],
) -> None:
    suite, base_url = door
    flags = deepcopy(ALL_ON)
    flags["flags"]["exact_cache"]["parameters"] = {"cacheSampledTenants": ["acme"]}
    suite.write_flags(flags)
    await asyncio.sleep(0.6)  # the gateway polls the flags file every 0.2 s here
    # No temperature (the default samples), no opt-in header: only the tenant's policy.
    sampled = {**ASK, "messages": [{"role": "user", "content": "Write a listing teaser"}]}
    del sampled["temperature"]
    for key, second in ((API_KEY, "exact"), (OTHER_TENANT_KEY, "miss")):
        async with httpx.AsyncClient(base_url=base_url, headers={"x-api-key": key}) as http:
            assert (await _post(http, sampled)).headers["x-tollgate-cache"] == "miss"
            await suite.settled()
            again = await _post(http, sampled)
        assert again.headers["x-tollgate-cache"] == second, key
    assert again.headers["x-tollgate-cost-micros"] != "0"  # the other tenant paid again

    # The account says why: over gRPC, the exact cache's report names the tenant's policy.
    async with suite.client() as client:
        question = [{"role": "user", "content": "Describe the neighbourhood in one line"}]
        first = await client.complete(messages=question, max_tokens=300)
        await suite.settled()
        hit = await client.complete(messages=question, max_tokens=300)
    assert hit.account.cache_status == common_pb2.CACHE_STATUS_EXACT
    for account in (first.account, hit.account):
        (report,) = [r for r in account.optimizations if r.optimization == "exact_cache"]
        assert "sampled answers cached by the tenant's policy" in report.detail

    # A request of the tenant can still refuse the cache, and the policy can be withdrawn.
    async with httpx.AsyncClient(base_url=base_url, headers={"x-api-key": API_KEY}) as http:
        bypassed = await _post(http, sampled, **{"x-tollgate-cache-mode": "bypass"})
        assert bypassed.headers["x-tollgate-cache"] == "bypass"
        suite.write_flags(ALL_ON)
        await asyncio.sleep(0.6)
        fresh = {**sampled, "messages": [{"role": "user", "content": "Another teaser"}]}
        await _post(http, fresh)
        await suite.settled()
        assert (await _post(http, fresh)).headers["x-tollgate-cache"] == "miss"
