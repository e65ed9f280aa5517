"""Deterministic assistant answers derived from the prompt.

The answer is a pure function of the prompt (model, system, messages, tools,
tool_choice): the same request always gets the same text, a different question
gets different text, and generation limits (``max_tokens``, ``stop_sequences``)
only cut that text short -- so a test can read an answer once and predict how
a limit will cut it. Text is plain English built from CRM-flavoured templates
that echo key words of the last user message; its length comes from the
prompt's hash. A config's ``scripted_answers`` can fix the text for questions containing a
phrase (e.g. to answer two near-identical questions differently). A tool call over a packed
prompt (items listed as ``<item id="...">``) answers each item from its own text
(``tollgate.emulator.packed_items``), where ``scripted_answers`` can fix or drop one item's entry.
"""

from __future__ import annotations

import hashlib
import random
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tollgate.emulator.ids import random_id
from tollgate.emulator.packed_items import Script, packed_arguments
from tollgate.emulator.tokens import canonical_json, count_text_tokens, tokenize
from tollgate.emulator.tool_inputs import object_for
from tollgate.emulator.validation import MessageRequest

MIN_ANSWER_TOKENS = 24
ANSWER_TOKEN_SPREAD = 140
# Framing tokens the model spends on a tool call beyond its name and arguments.
TOOL_CALL_OVERHEAD_TOKENS = 8

_OPENERS = (
    "Here is a quick take on {a}.",
    "Thanks for the details on {a}.",
    "Good question about {a}.",
    "Looking at {a}, a few things stand out.",
)
_BODY = (
    "The strongest leads for {a} are the ones whose budgets line up with current listings.",
    "I would follow up on {a} within a day, while interest is still fresh.",
    "Comparing {a} with {b} shows which listings deserve attention this week.",
    "A short call to confirm budget and preferred neighborhoods usually moves {a} forward.",
    "Recent activity around {b} points to steady demand, so pricing should stay competitive.",
    "Sending two or three comparable listings before a showing tends to help with {a}.",
    "Keep notes on {a} in the CRM so the next conversation starts where this one ended.",
    "If financing is already pre-approved, {a} is likely worth prioritizing.",
    "For {b}, the open house sign-ins are a good source of warm leads.",
    "Price reductions on nearby listings may change how {a} is perceived.",
    "It is worth checking whether {a} fits the buyer's timeline as well as the budget.",
    "Tagging {b} in the CRM makes it easier to track response rates over time.",
)
_CLOSERS = (
    "Overall, {a} looks promising; the next step is to confirm timing and budget.",
    "Let me know if you want a follow-up email drafted about {a}.",
    "I can also rank the leads related to {a} by likelihood to close if that helps.",
)
# Words too common to be worth echoing back.
_COMMON_WORDS = """
about above after again also been before being below between both could does doing
down during each from further have having here into just know like make many more
most much need only other over please same should some such than that their theirs
them then there these they this those through under until very want what when where
which while will with would your yours tell give show help thanks thank
"""
_STOPWORDS = frozenset(_COMMON_WORDS.split())
_WORD = re.compile(r"[A-Za-z][A-Za-z'-]{3,}")


@dataclass(frozen=True)
class Answer:
    """Content blocks in wire shape plus the stop details and billed output tokens."""

    content: tuple[dict[str, Any], ...]
    stop_reason: str
    stop_sequence: str | None
    output_tokens: int


def prompt_digest(body: Mapping[str, Any]) -> bytes:
    """Hash of everything that shapes the answer (not limits, sampling or streaming)."""
    keys = ("model", "system", "messages", "tools", "tool_choice")
    return hashlib.sha256(canonical_json({k: body.get(k) for k in keys}).encode()).digest()


def _texts(content: Any) -> list[str]:
    if isinstance(content, str):
        return [content]
    found: list[str] = []
    for block in content if isinstance(content, list) else []:
        if not isinstance(block, Mapping):
            continue
        if block.get("type") == "text":
            found.append(str(block.get("text", "")))
        elif block.get("type") == "tool_result":
            found.extend(_texts(block.get("content", "")))
    return found


def last_user_text(body: Mapping[str, Any]) -> str:
    """Text of the last user turn, including what tool results said."""
    for message in reversed(body.get("messages") or []):
        if isinstance(message, Mapping) and message.get("role") == "user":
            return "\n".join(_texts(message.get("content")))
    return ""


def _direct_user_text(body: Mapping[str, Any]) -> str:
    """Only what the user typed in the last turn: tool results never ask for a tool."""
    for message in reversed(body.get("messages") or []):
        if isinstance(message, Mapping) and message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, str):
                return content
            blocks = content if isinstance(content, list) else []
            return "\n".join(
                str(b.get("text", ""))
                for b in blocks
                if isinstance(b, Mapping) and b.get("type") == "text"
            )
    return ""


def _last_visible_char(text: str, end: int) -> str:
    """The last non-whitespace character before `end`, or "" when there is none.

    Walks back over the whitespace only: copying the prefix for every word made one 3.9 MB
    prompt take minutes (quadratic); this visits each whitespace character once per word after it,
    and the words of a text are separated by disjoint runs, so the whole scan is linear.
    """
    index = end - 1
    while index >= 0 and text[index].isspace():
        index -= 1
    return text[index] if index >= 0 else ""


def key_words(text: str, limit: int = 6) -> list[str]:
    """Distinctive words of a message: names first, then longer words first.

    Names keep their capitals and adjacent capitalised words stay together
    ("Maple Heights"); a capital that only marks a sentence start is dropped.
    """
    seen: dict[str, None] = {}
    previous_name: re.Match[str] | None = None
    for match in _WORD.finditer(text):
        word = match.group().strip("'-")
        sentence_start = _last_visible_char(text, match.start()) in ("", ".", "!", "?", ":")
        is_name = word[0].isupper() and not sentence_start
        if (
            previous_name is not None
            and is_name
            and text[previous_name.end() : match.start()] == " "
        ):
            phrase = f"{previous_name.group()} {word}"
            seen.pop(previous_name.group(), None)
            seen.setdefault(phrase, None)
            previous_name = match
            continue
        previous_name = match if is_name else None
        if word.lower() in _STOPWORDS:
            continue
        seen.setdefault(word if is_name or word.isupper() else word.lower(), None)
    return sorted(seen, key=lambda w: (not w[0].isupper(), -len(w)))[:limit]


def compose_text(words: Sequence[str], rng: random.Random, target_tokens: int) -> str:
    """Sentences echoing `words` until roughly `target_tokens` tokens are written.

    The opening names the first key word and the closing the second, so the
    answer visibly refers to what was asked; the middle is drawn at random.
    """
    topics = list(words) or ["your pipeline", "the current listings"]

    def fill(template: str, a: str | None = None) -> str:
        return template.format(a=a or rng.choice(topics[:2]), b=rng.choice(topics))

    opener = fill(rng.choice(_OPENERS), topics[0])
    closer = fill(rng.choice(_CLOSERS), topics[1 % len(topics)])
    budget = target_tokens - count_text_tokens(closer)
    sentences = [opener]
    used = count_text_tokens(opener)
    previous = ""
    while used < budget:
        template = rng.choice([t for t in _BODY if t != previous])
        previous = template
        sentence = fill(template)
        sentences.append(sentence)
        used += count_text_tokens(sentence) + 1
    sentences.append(closer)
    paragraphs = [" ".join(sentences[i : i + 4]) for i in range(0, len(sentences), 4)]
    return "\n\n".join(paragraphs)


def _limit_text(
    text: str, max_tokens: int, stop_sequences: Sequence[str]
) -> tuple[str, str, str | None, int]:
    """Cut text at the earliest stop sequence or at max_tokens, whichever comes first."""
    hits = [(text.find(seq), seq) for seq in stop_sequences if seq in text]
    if hits:
        index, sequence = min(hits)
        spent = count_text_tokens(text[:index] + sequence)
        if spent <= max_tokens:
            return text[:index], "stop_sequence", sequence, spent
    spent = count_text_tokens(text)
    if spent > max_tokens:
        return "".join(tokenize(text)[:max_tokens]), "max_tokens", None, max_tokens
    return text, "end_turn", None, max(1, spent)


def _mentioned(tool: Mapping[str, Any], text: str) -> bool:
    name = str(tool.get("name", "")).lower()
    lowered = text.lower()
    return bool(name) and (name in lowered or name.replace("_", " ") in lowered)


def choose_tool(request: MessageRequest, digest: bytes) -> Mapping[str, Any] | None:
    """The tool the answer calls, following tool_choice like the real model would."""
    tools = [t for t in request.tools if t.get("type", "custom") == "custom"]
    choice = request.tool_choice or {"type": "auto"}
    kind = choice.get("type")
    if not tools or kind == "none":
        return None
    if kind == "tool":
        return next(t for t in tools if t.get("name") == choice.get("name"))
    text = _direct_user_text(request.body)
    mentioned = next((t for t in tools if _mentioned(t, text)), None)
    if kind == "any":
        return mentioned or tools[digest[0] % len(tools)]
    return mentioned


def new_tool_use_id() -> str:
    return random_id("toolu_01")


def _tool_answer(
    request: MessageRequest,
    tool: Mapping[str, Any],
    rng: random.Random,
    words: Sequence[str],
    script: Script | None = None,
) -> Answer:
    name = str(tool["name"])
    schema = tool.get("input_schema") or {}
    # A packed prompt gets one entry per listed item (tollgate.emulator.packed_items).
    arguments = packed_arguments(schema, _direct_user_text(request.body), rng, list(words), script)
    if arguments is None:
        arguments = object_for(schema, rng, words)
    preface = ""
    if (request.tool_choice or {"type": "auto"}).get("type") == "auto":
        # With auto the model usually says what it is about to do; any/tool skip that.
        topic = words[0] if words else "this"
        preface = f"I'll use the {name} tool to look into {topic}."
    call_tokens = (
        TOOL_CALL_OVERHEAD_TOKENS
        + count_text_tokens(name)
        + count_text_tokens(canonical_json(arguments))
    )
    preface_tokens = count_text_tokens(preface)
    if preface_tokens + call_tokens > request.max_tokens:
        text = _limit_text(preface, request.max_tokens, ())[0]
        partial: tuple[dict[str, Any], ...] = ({"type": "text", "text": text},) if text else ()
        return Answer(partial, "max_tokens", None, request.max_tokens)
    call = {"type": "tool_use", "id": new_tool_use_id(), "name": name, "input": arguments}
    content = (({"type": "text", "text": preface},) if preface else ()) + (call,)
    return Answer(content, "tool_use", None, preface_tokens + call_tokens)


def compose_answer(
    request: MessageRequest, scripted: str | None = None, script: Script | None = None
) -> Answer:
    """The assistant's reply to a validated request; `scripted` replaces the composed text, and
    `script` (a phrase lookup) decides the entries of packed items whose text it matches."""
    digest = prompt_digest(request.body)
    rng = random.Random(digest)
    words = key_words(last_user_text(request.body))
    tool = choose_tool(request, digest)
    if tool is not None:
        return _tool_answer(request, tool, rng, words, script)
    target = MIN_ANSWER_TOKENS + int.from_bytes(digest[:4], "big") % ANSWER_TOKEN_SPREAD
    full = scripted or compose_text(words, rng, target)
    text, stop_reason, stop_sequence, spent = _limit_text(
        full, request.max_tokens, request.stop_sequences
    )
    return Answer(({"type": "text", "text": text},), stop_reason, stop_sequence, spent)
