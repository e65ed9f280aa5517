"""Condensing the assistant's old replies: they restate and explain, the user's words state facts.

An assistant reply that is no longer among the last turns keeps only:

- its sentences that state a fact (an amount, a count, a date, a name ... see `facts`) not said
  earlier in the conversation, in order, for what the assistant found or proposed (a listing,
  a figure) rather than what it repeated back;
- its closing question, because the user's next turn often answers it ("Yes, book it").

within `max_tokens`; a reply with neither keeps its first sentence that is not a courtesy, so the
turn still says what it was about. The result depends only on the reply and what was said before
it, so a reply is condensed the same way on every later turn and the prompt prefix stays stable.
"""

from __future__ import annotations

from collections.abc import Set

from tollgate.common.token_estimate import estimate_text
from tollgate.conversation_optimizer.facts import find_spans
from tollgate.conversation_optimizer.low_value import is_pleasantry
from tollgate.conversation_optimizer.sentences import split_sentences


def _is_question(sentence: str) -> bool:
    return sentence.rstrip("\"')\u2019\u201d ").endswith("?")


def condense_reply(text: str, max_tokens: int, said: Set[str] = frozenset()) -> str:
    """`text` cut to its new facts and closing question (at most `max_tokens`); `said` holds the
    keys of the facts stated before it."""
    sentences = [s.text.strip() for s in split_sentences(text) if s.text.strip()]
    if not sentences:
        return text
    useful = [s for s in sentences if not is_pleasantry(s)]
    closing = useful[-1] if useful and _is_question(useful[-1]) else ""
    budget = max_tokens - (estimate_text(closing) if closing else 0)
    kept: list[str] = []
    for sentence in useful:
        if sentence is closing or all(span.key in said for span in find_spans(sentence)):
            continue
        cost = estimate_text(sentence) + 1
        if cost > budget:
            continue
        kept.append(sentence)
        budget -= cost
    if closing and estimate_text(closing) <= max_tokens:
        kept.append(closing)
    if not kept and useful:
        kept.append(useful[0])
    condensed = " ".join(kept) if kept else sentences[0]
    return condensed if len(condensed) < len(text) else text
