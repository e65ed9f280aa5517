"""Typed async client for the Tollgate gateway.

async with TollgateClient("localhost:50051", api_key) as client:
    result = await client.complete(
        messages=[{"role": "user", "content": "Which listings fit a $450k budget?"}],
        max_tokens=512,
        task="chat",
        contact_id="lead-42",
    )
    print(result.text, result.account.cost.total_micros)
"""

from tollgate.client.client import CompletionResult, CompletionStream, TollgateClient
from tollgate.client.errors import TollgateError
from tollgate.client.tls import ClientTls

__all__ = ["ClientTls", "CompletionResult", "CompletionStream", "TollgateClient", "TollgateError"]
