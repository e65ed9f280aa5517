"""The "facts so far" note: what removed turns said that later answers may depend on.

The user's words are the facts: users state them briefly, assistants restate them at length.
Turns are read oldest first.

- From the user's turns the note keeps every sentence except courtesies ("Thanks!") and
  questions that state nothing ("How long does that take?"): preferences, negations and
  constraints ("we don't own a car", "a credit instead of repairs") are facts as much as
  amounts and names are. A sentence said twice is noted once.
- A user sentence that corrects an earlier one ("Actually, 25% down with a DSCR loan instead of
  cash", see `slots`) replaces the earlier sentence about the same slot, and its line says it
  changed an earlier answer: the note shows the current value only.
- From the assistant's turns (and tool calls) it keeps sentences stating a fact not noted yet
  (an amount, a count, a date, a name ...), at most `ASSISTANT_LINE_MAX_TOKENS` per turn.

Sentences are kept as written, minus an opening filler word, so every fact survives verbatim.
Each line names its speaker, so "$650,000" stays the client's budget rather than a listing price.
The note has a token budget: over it, the assistant's lines go first, then the user's oldest.

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
from tollgate.conversation_optimizer.low_value import is_pleasantry
from tollgate.conversation_optimizer.sentences import normalised, split_sentences
from tollgate.conversation_optimizer.slots import corrects, overlap, slots

NOTE_HEADER = (
    "Facts so far, from earlier turns of this conversation that were removed to save space "
    "(oldest first; a later line overrides an earlier one):"
)
CHANGED_MARK = " (changing an earlier answer)"
ASSISTANT_LINE_MAX_TOKENS = 120
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
class _Line:
    speaker: str
    sentences: list[str]
    # A user line that corrects an earlier answer.
    changes: bool = False

    @property
    def from_user(self) -> bool:
        return self.speaker == "user"

    def render(self) -> str:
        return f"- {self.speaker}{CHANGED_MARK if self.changes else ''}: {' '.join(self.sentences)}"


def _states_something(sentence: str, known_names: frozenset[str]) -> bool:
    """A user sentence worth noting: not a courtesy, not a question that states nothing."""
    if is_pleasantry(sentence):
        return False
    if sentence.rstrip().endswith("?"):
        return bool(find_spans(sentence, known_names)) or has_requirement(sentence)
    return True


@dataclass
class FactsNote:
    known_names: frozenset[str] = frozenset()
    _lines: list[_Line] = field(default_factory=list)
    _keys: set[str] = field(default_factory=set)
    _said: set[str] = field(default_factory=set)

    @property
    def lines(self) -> list[str]:
        return [line.render() for line in self._lines if line.sentences]

    def add(self, source: NoteSource) -> None:
        if source.states_requirements:
            self._add_user(source)
        else:
            self._add_other(source)

    def _add_user(self, source: NoteSource) -> None:
        line = _Line(source.speaker, [])
        for sentence in split_sentences(source.text):
            text = sentence.text.strip()
            key = normalised(text)
            if not text or key in self._said or not _states_something(text, self.known_names):
                continue
            self._said.add(key)
            self._keys.update(span.key for span in find_spans(text, self.known_names))
            if corrects(text):
                line.changes = True
                self._forget_replaced(text)
            line.sentences.append(_compact(text))
        if line.sentences:
            self._lines.append(line)

    def _forget_replaced(self, correction: str) -> None:
        """Remove the earlier user sentence about the same slot as `correction`, when exactly
        one is the best match; on a tie both stay (the later line still reads as current)."""
        about = slots(correction)
        scored = sorted(
            (
                (overlap(about, slots(sentence)), n, line, i)
                for n, line in enumerate(self._lines)
                if line.from_user
                for i, sentence in enumerate(line.sentences)
            ),
            key=lambda match: match[0],
            reverse=True,
        )
        if not scored or scored[0][0] == 0:
            return
        if len(scored) > 1 and scored[1][0] == scored[0][0]:
            return
        _, _, line, i = scored[0]
        del line.sentences[i]

    def _add_other(self, source: NoteSource) -> None:
        kept: list[str] = []
        budget = ASSISTANT_LINE_MAX_TOKENS
        for sentence in split_sentences(source.text):
            text = sentence.text.strip()
            if not text or is_pleasantry(text):
                continue
            keys = {span.key for span in find_spans(text, self.known_names)}
            cost = estimate_text(text) + 1
            if not keys - self._keys or cost > budget:
                continue
            self._keys.update(keys)
            budget -= cost
            kept.append(_compact(text))
        if kept:
            self._lines.append(_Line(source.speaker, kept))

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

        With `max_tokens`, the assistant's lines go first, oldest first, then the user's oldest,
        until the note fits; summaries (already bounded in length) are kept whole.
        """
        summary_lines = [s.strip() for s in summaries if s.strip()]
        lines = [line for line in self._lines if line.sentences]
        parts: list[str] = []
        if summary_lines:
            parts.append(SUMMARY_HEADER + "\n" + "\n".join(summary_lines))
        if max_tokens:
            budget = max_tokens - sum(estimate_text(p) for p in parts) - estimate_text(NOTE_HEADER)
            rendered = {id(line): line.render() for line in lines}
            used = sum(estimate_text(text) + 1 for text in rendered.values())
            for line in [x for x in lines if not x.from_user] + [x for x in lines if x.from_user]:
                if used <= budget:
                    break
                used -= estimate_text(rendered[id(line)]) + 1
                lines.remove(line)
        if lines:
            parts.append(NOTE_HEADER + "\n" + "\n".join(line.render() for line in lines))
        return "\n\n".join(parts)
