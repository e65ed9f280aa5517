"""Where a conversation is cut: chunk boundaries that move only every `chunk_exchanges` exchanges.

The exchanges of a conversation fall, oldest first, into three regions:

    [ dropped chunks | compressed exchanges | verbatim tail ]

- the *verbatim tail* holds the last `keep_last_turns` turns (whole exchanges) and is sent as it
  is;
- every older exchange that is kept is *compressed* (`compression`): an exchange is compressed
  the same way whenever it is compressed, so one leaving the tail only changes the end of the
  prompt, after what the previous turn's cache breakpoint covered;
- older exchanges form *sealed* chunks of `chunk_exchanges` exchanges each; the newest
  `compressed_chunks` sealed chunks are kept, older ones are dropped (their facts go into the
  note), and more chunks are dropped, oldest first, while the request is over its token target.

While a conversation grows within a chunk, the dropped region stays put, so the note and the
start of the prompt keep their bytes and the Anthropic prompt cache reads them. Only when
another chunk fills does the cut move, once per `chunk_exchanges` exchanges. A target that whole
chunks cannot meet drops further exchanges one by one, up to the tail: the target comes first.
"""

from __future__ import annotations

from dataclasses import dataclass

from tollgate.conversation_optimizer.conversation import Conversation
from tollgate.conversation_optimizer.policy import Policy, Strategy


@dataclass(frozen=True)
class Layout:
    chunk: int
    # Exchanges [0, sealed) are in sealed chunks; [verbatim_from, total) are the verbatim tail.
    sealed: int
    verbatim_from: int
    total: int
    # Dropped exchanges lie in [min_dropped, max_dropped]; both are multiples of `chunk`.
    min_dropped: int
    max_dropped: int
    # With a target, up to this many (whole chunks first, then one exchange at a time).
    max_target_dropped: int

    def drop_candidates(self, target: bool) -> list[int]:
        """Numbers of dropped exchanges to consider, fewest first."""
        chunks = list(range(self.min_dropped, self.max_dropped + 1, self.chunk))
        if not target:
            return chunks
        return chunks + list(range(self.max_dropped + 1, self.max_target_dropped + 1))


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
        return Layout(chunk, sealed, older, total, 0, 0, 0)
    min_dropped = max(0, sealed - policy.compressed_chunks * chunk)
    return Layout(chunk, sealed, older, total, min_dropped, sealed, older)
