"""The gateway's exact-cache stub: the ExactLookup, ExactStore and ExactRelease calls of
concurrent requests travel together in `ExactBatch` RPCs, yet each behaves exactly as the unary
call it replaces (`batching_stub`). Stores and releases linger for the next lookup's RPC.

One stub per deployment (stable, canary): `RequestRoutes.cache()` picks the track per request,
and a batch goes to the track whose stub carried it.

Single flight is kept exactly: the cache never lets a batched lookup wait for another caller's
fill (the wait would hold up the answers of every call of its batch). A lookup that would wait
is answered `send_alone`, having written and counted nothing, and is sent again as the unary
ExactLookup, which takes the lease over or waits for the stored answer exactly as before, within
what is left of the call's own deadline. The same holds for a lookup the batch's reply had no
room for.

Order: the calls of a batch run concurrently on the cache, as concurrent unary calls did. The
order that matters holds by construction: a request stores or releases only after its lookup
answered (with the lease the store gives back), and the calls queued when the gateway stops
are sent, not dropped (`aclose`), so no lease is left to run out.

ExactInvalidate and ExactStats go to the cache as before.
"""

from __future__ import annotations

from tollgate.gateway.batching_stub import BatchingStub, batched_call
from tollgate.v1 import cache_pb2


class CoalescedCacheStub(BatchingStub):
    batch_method = "ExactBatch"
    batch_request = cache_pb2.ExactBatchRequest
    service = "cache"

    ExactLookup = batched_call(
        "ExactLookup", "lookup", cache_pb2.ExactLookupResponse, lingers=False
    )
    ExactStore = batched_call("ExactStore", "store", cache_pb2.ExactStoreResponse, lingers=True)
    ExactRelease = batched_call(
        "ExactRelease", "release", cache_pb2.ExactReleaseResponse, lingers=True
    )
