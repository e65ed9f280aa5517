"""Low-value sentences: greetings, thanks, acknowledgements, sign-offs, and things said before.

A sentence is low-value when it states no fact (see `facts`) and is either a short pleasantry
("Thanks so much!", "Sounds good.", "Let me know if you have any other questions.") or repeats, word
for word, a sentence of at least four words said earlier in the conversation. Repeats may carry
facts: the earlier occurrence still holds them (or, once dropped, the facts note does).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from tollgate.conversation_optimizer.facts import find_spans, has_requirement
from tollgate.conversation_optimizer.sentences import Sentence, normalised, split_sentences

_PLEASANTRY = re.compile(
    r"^\W*(?:hi|hello|hey|hiya|good (?:morning|afternoon|evening|day)|greetings|welcome|"
    r"thanks|thank you|thx|ty|many thanks|much appreciated|(?:i )?appreciate (?:it|that|you)|"
    r"cheers|ok|okay|k|sure|great|perfect|awesome|amazing|sounds (?:good|great|perfect)|"
    r"got it|gotcha|will do|noted|understood|no problem|no worries|you're welcome|"
    r"you are welcome|my pleasure|of course|absolutely|definitely|wonderful|excellent|"
    r"fantastic|cool|nice|lovely|yes|yeah|yep|bye|goodbye|talk (?:soon|later)|take care|"
    r"see you|have a (?:great|good|nice|lovely|wonderful) (?:day|weekend|evening|night|one)|"
    r"hope (?:you're|you are|you've been|all is|your|this finds)|how are you|"
    r"let me know if|feel free to|happy to help|glad (?:i could|to) help|glad to hear|"
    r"i'm here (?:if|to|for)|i am here (?:if|to|for)|anytime|any time|"
    r"just let me know|don't hesitate|how (?:can|may) i help|what can i do for you)\b",
    re.IGNORECASE,
)
_OFFER_OF_HELP = re.compile(
    r"^\W*(?:just )?(?:let me know|feel free|i'm here|i am here|don't hesitate|happy to help)",
    re.IGNORECASE,
)
PLEASANTRY_MAX_WORDS = 14
REPEAT_MIN_WORDS = 4


def is_pleasantry(sentence: str) -> bool:
    """A short courtesy that states nothing: safe to drop from an old turn."""
    if len(sentence.split()) > PLEASANTRY_MAX_WORDS:
        return False
    opening = _PLEASANTRY.match(sentence)
    if opening is None or find_spans(sentence):
        return False
    if _OFFER_OF_HELP.match(sentence):
        # "Let me know if you need anything else": the "need" is the listener's, not a fact.
        return True
    # "Thanks, we need four bedrooms" states a requirement after the courtesy.
    return not has_requirement(sentence[opening.end() :])


@dataclass
class SentenceHistory:
    """Normalised sentences said so far in a conversation, to spot repeats, and (when asked for)
    the keys of the facts said so far, to spot a reply that only restates them."""

    seen: set[str]
    facts: set[str] = field(default_factory=set)

    @classmethod
    def empty(cls) -> SentenceHistory:
        return cls(set())

    def is_repeat(self, sentence: str) -> bool:
        key = normalised(sentence)
        return len(key.split()) >= REPEAT_MIN_WORDS and key in self.seen

    def remember(self, texts: Iterable[str]) -> None:
        for text in texts:
            for sentence in split_sentences(text):
                key = normalised(sentence.text)
                if len(key.split()) >= REPEAT_MIN_WORDS:
                    self.seen.add(key)

    def remember_facts(self, texts: Iterable[str]) -> None:
        for text in texts:
            self.facts.update(span.key for span in find_spans(text))


@dataclass(frozen=True)
class Shortened:
    text: str
    removed_pleasantries: int
    removed_repeats: int

    @property
    def changed(self) -> bool:
        return bool(self.removed_pleasantries or self.removed_repeats)


def shorten(text: str, history: SentenceHistory) -> Shortened:
    """`text` without its low-value sentences (possibly empty); `history` is not updated."""
    kept: list[Sentence] = []
    pleasantries = repeats = 0
    for sentence in split_sentences(text):
        if not sentence.text:
            kept.append(sentence)
        elif history.is_repeat(sentence.text):
            repeats += 1
        elif is_pleasantry(sentence.text):
            pleasantries += 1
        else:
            kept.append(sentence)
    if not pleasantries and not repeats:
        return Shortened(text, 0, 0)
    return Shortened("".join(s.text + s.tail for s in kept).strip(), pleasantries, repeats)
