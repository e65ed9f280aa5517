"""Whether a cut pays when the request goes out with prompt-cache breakpoints.

With caching, the part of a request that the previous turn already sent is read back at a tenth
of the input price, and the API caches nothing shorter than its minimum (1024 tokens for Sonnet
and Opus, 2048 for Haiku). A cut makes the request shorter; but when the cut request's stable
part (everything before the verbatim tail, which is what the next turn can read back) is under
the minimum, every turn pays full price for it, or 1.25x when the whole request is long enough
to be written and never read. The uncut request meanwhile reads its history at 0.1x. So, with
caching, a request that could be cached is cut only once its cut form can be cached too.

Measured (bench/pruning_dialogues on the development split, replayed against the emulator):
cutting regardless costs about 20% more than caching alone; this rule makes the same
conversations about 10% cheaper than caching alone. A finer per-turn price comparison did worse
(it ignores the rewrite each time the cut first moves), so the rule is kept this simple.
"""

from __future__ import annotations


def cut_pays(original_tokens: int, stable_tokens_after_cut: int, min_cacheable: int) -> bool:
    """With caching: nothing was cacheable anyway, or the cut request's stable part still is."""
    return original_tokens < min_cacheable or stable_tokens_after_cut >= min_cacheable
