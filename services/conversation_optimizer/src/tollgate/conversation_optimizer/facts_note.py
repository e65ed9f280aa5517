"""The "facts so far" note: what removed turns said that later answers may depend on.

Turns are read oldest first. From each, the note keeps the sentences that state a fact not noted
yet (an amount, a count, a date, an address, a name, a phone number ...) and, from the user's
own turns, sentences stating a requirement ("we must have a fenced yard") not noted before.
Sentences are kept as written, minus an opening filler word, so every fact survives verbatim;
a fact repeated later (the assistant confirming "$650,000") is noted once. Each line names its
speaker, so "$650,000" stays the client's budget rather than a listing price.

The note depends only on the turns it is built from, so the same removed turns always give the
same note: that keeps the prompt prefix byte-identical from one turn to the next.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from tollgate.common.token_estimate import estimate_text
from tollgate.conversation_optimizer.facts import (
    find_spans,
    has_requirement,
    names_used_mid_sentence,
)
from tollgate.conversation_optimizer.sentences import normalised, split_sentences

NOTE_HEADER = (
    "Facts so far, from earlier turns of this conversation that were removed to save space "
    "(oldest first; a later line overrides an earlier one):"
)
SUMMARY_HEADER = "Summary of the removed turns:"
_OPENING_FILLER = re.compile(
    r"^(?:(?:oh|ah|well|so|and|also|actually|honestly|basically|anyway|by the way|btw|"
    r"okay|ok|great|perfect|awesome|sure|yes|yeah|right|got it|noted|understood|thanks|"
    r"thank you)\b[,!:.]?\s+)+",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class NoteSource:
    """Text of one removed turn (or tool call, or tool result) and who it came from."""

    speaker: str
    text: str
    # Requirement sentences count as facts only where the client states them.
    states_requirements: bool = False


def _compact(sentence: str) -> str:
    trimmed = _OPENING_FILLER.sub("", sentence).strip()
    if not trimmed:
        return sentence.strip()
    return trimmed[0].upper() + trimmed[1:] if trimmed[0].islower() else trimmed


@dataclass
class FactsNote:
    known_names: frozenset[str] = frozenset()
    lines: list[str] = field(default_factory=list)
    _keys: set[str] = field(default_factory=set)
    _requirements: set[str] = field(default_factory=set)

    def add(self, source: NoteSource) -> None:
        kept: list[str] = []
        for sentence in split_sentences(source.text):
            text = sentence.text.strip()
            if not text:
                continue
            keys = {span.key for span in find_spans(text, self.known_names)}
            new_keys = keys - self._keys
            requirement = (
                source.states_requirements
                and has_requirement(text)
                and normalised(text) not in self._requirements
            )
            if not new_keys and not requirement:
                continue
            self._keys.update(keys)
            if requirement:
                self._requirements.add(normalised(text))
            kept.append(_compact(text))
        if kept:
            self.lines.append(f"- {source.speaker}: {' '.join(kept)}")

    def add_all(self, sources: Iterable[NoteSource]) -> None:
        """Note one turn's (or exchange's) sources, oldest first.

        Capitalised words these sources use mid-sentence count as names from here on, so
        "Lakeview is lovely" opening a sentence is a fact once "we like Lakeview" was said. Only
        what was said up to now counts, which keeps each line independent of later turns.
        """
        batch = list(sources)
        self.known_names = self.known_names | names_used_mid_sentence(s.text for s in batch)
        for source in batch:
            self.add(source)

    def render(self, max_tokens: int = 0, summaries: Iterable[str] = ()) -> str:
        """The note's text ("" when there is nothing to say).

        With `max_tokens`, the oldest fact lines go first until the note fits; summaries (already
        bounded in length) are kept whole.
        """
        summary_lines = [s.strip() for s in summaries if s.strip()]
        lines = list(self.lines)
        parts: list[str] = []
        if summary_lines:
            parts.append(SUMMARY_HEADER + "\n" + "\n".join(summary_lines))
        if max_tokens:
            budget = max_tokens - sum(estimate_text(p) for p in parts) - estimate_text(NOTE_HEADER)
            while lines and sum(estimate_text(line) + 1 for line in lines) > budget:
                lines.pop(0)
        if lines:
            parts.append(NOTE_HEADER + "\n" + "\n".join(lines))
        return "\n\n".join(parts)
