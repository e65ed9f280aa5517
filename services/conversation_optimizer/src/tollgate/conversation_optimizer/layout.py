"""Where a conversation is cut: chunk boundaries that move only every `chunk_exchanges` exchanges.

The exchanges of a conversation fall, oldest first, into three regions:

    [ dropped chunks | compressed chunks | verbatim tail ]

- the *verbatim tail* holds at least the last `keep_last_turns` turns, plus whatever exchanges do
  not yet fill a whole chunk, and is sent as it is;
- older exchanges form *sealed* chunks of `chunk_exchanges` exchanges each; the newest
  `compressed_chunks` sealed chunks are kept with their low-value parts removed;
- older sealed chunks are dropped (their facts go into the note), and more chunks are dropped,
  oldest first, while the request is over its token target.

While a conversation grows within a chunk, every boundary stays put: the new turns only extend the
tail, so the request sent on the next turn starts with the exact bytes of this one and the
Anthropic prompt cache reads it. Only when another chunk fills do the regions shift, once per
`chunk_exchanges` exchanges.
"""

from __future__ import annotations

from dataclasses import dataclass

from tollgate.conversation_optimizer.conversation import Conversation
from tollgate.conversation_optimizer.policy import Policy, Strategy


@dataclass(frozen=True)
class Layout:
    chunk: int
    # Exchanges [0, sealed) are in sealed chunks; [sealed, total) are the verbatim tail.
    sealed: int
    total: int
    # Dropped exchanges lie in [min_dropped, max_dropped]; both are multiples of `chunk`.
    min_dropped: int
    max_dropped: int

    def drop_candidates(self) -> range:
        """Numbers of dropped exchanges to consider, fewest first: whole chunks only."""
        return range(self.min_dropped, self.max_dropped + 1, self.chunk)


def tail_exchanges(conversation: Conversation, keep_last_turns: int) -> int:
    """How many exchanges at the end hold the last `keep_last_turns` turns (at least one)."""
    turns = 0
    count = 0
    for exchange in reversed(conversation.exchanges):
        count += 1
        turns += exchange.size
        if turns >= keep_last_turns:
            break
    return max(1, count)


def plan_layout(conversation: Conversation, policy: Policy) -> Layout:
    total = len(conversation.exchanges)
    older = total - tail_exchanges(conversation, policy.keep_last_turns)
    chunk = policy.chunk_exchanges
    sealed = (older // chunk) * chunk
    if not policy.uses(Strategy.KEEP_RECENT):
        # Without keep_recent nothing is dropped, not even to meet a target.
        return Layout(chunk, sealed, total, 0, 0)
    min_dropped = max(0, sealed - policy.compressed_chunks * chunk)
    return Layout(chunk, sealed, total, min_dropped, sealed)
