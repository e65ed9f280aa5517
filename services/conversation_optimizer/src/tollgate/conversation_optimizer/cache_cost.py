"""Cutting a conversation that goes out with prompt-cache breakpoints without paying more.

With caching, the part of a request that the previous turn already sent is read back at a tenth
of the input price, and the API caches nothing shorter than its minimum (1024 tokens for Sonnet
and Opus, 2048 for Haiku). The optimized request is append-only: every exchange older than the
verbatim tail is condensed by a function of itself and what was said before it, so the next
turn's request starts with this turn's up to its verbatim tail, and a breakpoint at the end of
that *stable part* (placed by the orchestrator from `stable_messages`) is read on the next turn.

That pays only while the stable part is long enough to be cached. A short conversation
condensed to, say, 700 tokens would be billed in full on every turn, while uncut its 3,000
tokens are read at a tenth. So with caching:

- when the fully condensed stable part reaches the minimum (`cut_pays`), every older exchange is
  condensed;
- until then, the oldest exchanges stay verbatim up to the minimum (`verbatim_head`) and only
  the exchanges after them are condensed: the stable part can be cached from the first cut, and
  those head exchanges are byte for byte what the uncut conversation sent (a write it made at
  the head's end can still be read). The head goes once, on the turn the fully condensed form can be
  cached itself (one rewrite of the cache per conversation).

Measured (bench/pruning_dialogues on the development split, replayed against the emulator with
the orchestrator's breakpoints): condensing whole regardless of the minimum costs 14% more than
caching alone; with the verbatim head 15% less, and 52% of the input tokens are removed (the
conversations left uncut before removed 36%).
"""

from __future__ import annotations

from collections.abc import Sequence

# The head is made this much longer than the minimum: the estimate errs by under 1% on whole
# requests (bench.token_estimate), and a head that the API counts just under the minimum would
# not be cached at all.
HEAD_MARGIN = 1.03


def cut_pays(original_tokens: int, stable_tokens_after_cut: int, min_cacheable: int) -> bool:
    """With caching: nothing was cacheable anyway, or the cut request's stable part still is."""
    return original_tokens < min_cacheable or stable_tokens_after_cut >= min_cacheable


def verbatim_head(frame_tokens: int, exchange_tokens: Sequence[int], min_cacheable: int) -> int:
    """How many of the oldest exchanges to keep verbatim so that the prompt up to them (tools,
    system prompt and these exchanges) reaches `min_cacheable` (with `HEAD_MARGIN`). It depends
    only on the frame and those exchanges, never on later ones, so it stays the same as the
    conversation grows."""
    total = frame_tokens
    needed = min_cacheable * HEAD_MARGIN
    for count, tokens in enumerate(exchange_tokens):
        if total >= needed:
            return count
        total += tokens
    return len(exchange_tokens)
