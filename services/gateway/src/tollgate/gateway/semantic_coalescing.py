"""The gateway's semantic-cache stub: the SemanticLookup and SemanticStore calls of concurrent
requests travel together in `SemanticBatch` RPCs, yet each behaves exactly as the unary call it
replaces (`batching_stub`). A store (background work: the caller has its answer) lingers for the
next lookup's RPC, so at a steady load a request costs the semantic cache about one RPC, not two.

One stub per deployment (stable, canary): `RequestRoutes.semantic_cache()` picks the track per
request, and a batch goes to the track whose stub carried it. A lookup the batch's reply had no
room for is sent again alone, as SemanticLookup.

Order: the calls of a batch run concurrently on the semantic cache, as concurrent unary calls
did; a store rides only in an RPC sent after its request's lookup was answered.

SemanticVerify, SemanticInvalidate and SemanticStats go to the semantic cache as before.
"""

from __future__ import annotations

from tollgate.gateway.batching_stub import BatchingStub, batched_call
from tollgate.v1 import semantic_cache_pb2


class CoalescedSemanticStub(BatchingStub):
    batch_method = "SemanticBatch"
    batch_request = semantic_cache_pb2.SemanticBatchRequest
    service = "semantic cache"
    # With its default 256 KiB entries and 8 MiB messages the semantic cache has room for 10
    # lookups in a batch's reply (an entry, and a rejection quoting both questions, per lookup).
    calls_per_rpc = 10

    SemanticLookup = batched_call(
        "SemanticLookup", "lookup", semantic_cache_pb2.SemanticLookupResponse, lingers=False
    )
    SemanticStore = batched_call(
        "SemanticStore", "store", semantic_cache_pb2.SemanticStoreResponse, lingers=True
    )
