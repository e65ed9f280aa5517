"""Builds the semantic cache's evaluation corpus and freezes its test split.

    uv run python -m bench.semantic_corpus_build            # needs Debian's `wordnet` (wn)

Independent of the service by construction: it imports nothing from tollgate.semantic_cache and
reads no file of it. Its inputs are bench/data/semantic_corpus/handwritten.txt (question groups
written by hand across a real-estate CRM's intents, each with paraphrases in several registers and
near-misses) and edits.json (the corpus's own word swaps), plus WordNet's antonyms. Output, next
to them: pairs.jsonl (every pair, with its split), train.jsonl, test.jsonl and SHA256SUMS.

Parts (docs/semantic_cache.md describes them):
- hand: the hand-written paraphrases (should hit) and near-misses (must not) of each group;
- one-edit: a group's question or paraphrase with one phrase swapped by a near-miss table of
  edits.json (sibling term, unit, period, role, place type, direction, time);
- quantity: one number changed (doubled or plus one), or a number word moved to the next;
- antonym: one word replaced by its first WordNet antonym (`wn WORD -antsn/-antsv/-antsa`);
- synonym / reordered / typo / chatty: generated paraphrases of the group's question — one phrase
  swapped by edits.json's synonym table; its trailing phrase moved to the front; two adjacent
  letters of a long word swapped; wrapped in a greeting and a thank-you.

The split is by group (every pair of a group lands in the same split), chosen by SHA-256 of the
group's question, so no question of the test split is seen while tuning.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

CORPUS_DIR = Path(__file__).resolve().parent / "data" / "semantic_corpus"
NEAR_MISS_TABLES = ("sibling", "unit", "period", "role", "place type", "direction", "time")
# Percent of groups in the frozen test split.
TEST_PERCENT = 45
_SEED = 18


@dataclass
class Group:
    intent: str
    question: str
    paraphrases: list[tuple[str, str]] = field(default_factory=list)
    near_misses: list[tuple[str, str]] = field(default_factory=list)


@dataclass(frozen=True)
class CorpusPair:
    cached: str
    asked: str
    should_hit: bool
    # "paraphrase: <register>" for pairs that should hit; the kind of difference otherwise.
    kind: str
    # hand, one-edit, quantity, antonym, generated
    source: str
    intent: str
    split: str


def read_groups(path: Path) -> list[Group]:
    groups: list[Group] = []
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("=="):
            groups.append(Group(intent=line[2:].strip(), question=""))
        elif line.startswith("Q:"):
            groups[-1].question = line[2:].strip()
        else:
            head, _, text = line.partition(":")
            marker, _, label = head.partition(" ")
            target = groups[-1].paraphrases if marker == "P" else groups[-1].near_misses
            target.append((label.strip(), text.strip()))
    return groups


def split_of(group: Group) -> str:
    digest = hashlib.sha256(group.question.encode()).hexdigest()
    return "test" if int(digest[:8], 16) % 100 < TEST_PERCENT else "train"


def _phrase_pattern(phrase: str) -> re.Pattern[str]:
    left = r"(?<![\w'])" if phrase[0].isalnum() else ""
    right = r"(?![\w'])" if phrase[-1].isalnum() else ""
    return re.compile(left + re.escape(phrase) + right, re.IGNORECASE)


def _swap(text: str, old: str, new: str) -> str | None:
    match = _phrase_pattern(old).search(text)
    if match is None:
        return None
    found = match.group()
    replacement = new[0].upper() + new[1:] if found[0].isupper() and new[0].islower() else new
    if found[0].islower() and new[0].isupper() and not new.isupper():
        replacement = new[0].lower() + new[1:]
    return text[: match.start()] + replacement + text[match.end() :]


def table_edits(text: str, table: list[list[str]], rng: random.Random) -> list[str]:
    """Every single swap of `table` that applies to `text`, in a shuffled order."""
    edited = [e for old, new in table if (e := _swap(text, old, new)) and e != text]
    rng.shuffle(edited)
    return edited


_NUMBER = re.compile(r"(?<![\w.])(\d[\d,]*(?:\.\d+)?)")
_NUMBER_WORDS = ["one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"]


def quantity_edits(text: str) -> list[str]:
    out = []
    for match in _NUMBER.finditer(text):
        digits = match.group(1).replace(",", "")
        value = float(digits)
        changed = value * 2 if value >= 100 else value + 1
        shown = f"{changed:,.0f}" if "," in match.group(1) else f"{changed:g}"
        out.append(text[: match.start(1)] + shown + text[match.end(1) :])
    for index, word in enumerate(_NUMBER_WORDS[:-1]):
        edited = _swap(text, word, _NUMBER_WORDS[index + 1])
        if edited:
            out.append(edited)
    return out


_WORD = re.compile(r"[A-Za-z][a-z]{3,}")
_ANTONYM_LINE = re.compile(r"=>\s*([a-z][a-z -]*)")
_VS = re.compile(r"\(vs\. ([a-z][a-z -]*)\)")


def wordnet_antonym(word: str) -> str | None:
    """The first antonym WordNet gives for `word` (noun, verb or adjective), or None."""
    for option in ("-antsa", "-antsv", "-antsn"):
        result = subprocess.run(
            ["wn", word.lower(), option], capture_output=True, text=True, check=False
        )
        lines = result.stdout.splitlines()
        for line in lines:
            for pattern in (_ANTONYM_LINE, _VS):
                found = pattern.search(line)
                if found:
                    antonym = found.group(1).split(",")[0].strip()
                    if antonym and antonym != word.lower():
                        return antonym
    return None


def antonym_edits(text: str, cache: dict[str, str | None]) -> list[str]:
    out = []
    for match in _WORD.finditer(text):
        word = match.group()
        if word not in cache:
            cache[word] = wordnet_antonym(word)
        antonym = cache[word]
        if antonym:
            out.append(text[: match.start()] + antonym + text[match.end() :])
    return out


_TRAILING_PHRASE = re.compile(
    r"^(?P<head>.+?)\s+(?P<tail>(?:in|for|on|at|with|from|near|under|by)\s+[^,?]+?)(?P<end>[?.!]?)$"
)


def reordered(text: str) -> str | None:
    """The question's trailing phrase moved to the front: "X in Austin?" → "In Austin, x?"."""
    match = _TRAILING_PHRASE.match(text)
    if match is None:
        return None
    head = match.group("head")
    head = head[0].lower() + head[1:] if not head.split()[0].isupper() else head
    tail = match.group("tail")
    return f"{tail[0].upper()}{tail[1:]}, {head}{match.group('end')}"


def with_typo(text: str, rng: random.Random) -> str | None:
    words = list(re.finditer(r"[a-z]{6,}", text))
    if not words:
        return None
    word = rng.choice(words)
    position = rng.randrange(word.start() + 1, word.end() - 2)
    chars = list(text)
    chars[position], chars[position + 1] = chars[position + 1], chars[position]
    return "".join(chars)


def chatty(text: str) -> str:
    body = text.rstrip("?.!")
    body = body[0].lower() + body[1:] if not body.split()[0].isupper() else body
    end = "?" if text.endswith("?") else ""
    return f"Hi there, {body}{end} Thanks a lot!"


def pairs_of(
    group: Group,
    edits: dict[str, list[list[str]]],
    rng: random.Random,
    antonyms: dict[str, str | None],
) -> Iterator[CorpusPair]:
    split = split_of(group)

    def pair(asked: str, should_hit: bool, kind: str, source: str) -> CorpusPair:
        return CorpusPair(group.question, asked, should_hit, kind, source, group.intent, split)

    for register, text in group.paraphrases:
        yield pair(text, True, f"paraphrase: {register}", "hand")
    for kind, text in group.near_misses:
        yield pair(text, False, kind, "hand")
    # Near-misses of the question and of its hand-written paraphrases.
    sources = [group.question] + [text for _, text in group.paraphrases]
    for kind in NEAR_MISS_TABLES:
        for text in sources:
            for edited in table_edits(text, edits[kind], rng)[:1]:
                yield CorpusPair(text, edited, False, kind, "one-edit", group.intent, split)
    for edited in quantity_edits(group.question)[:2]:
        yield pair(edited, False, "quantity", "quantity")
    for edited in antonym_edits(group.question, antonyms)[:3]:
        yield pair(edited, False, "antonym", "antonym")
    # Generated paraphrases of the question.
    for edited in table_edits(group.question, edits["synonym"], rng)[:3]:
        yield pair(edited, True, "paraphrase: synonym", "generated")
    if moved := reordered(group.question):
        yield pair(moved, True, "paraphrase: reordered", "generated")
    if typo := with_typo(group.question, rng):
        yield pair(typo, True, "paraphrase: typo", "generated")
    yield pair(chatty(group.question), True, "paraphrase: chatty", "generated")


def build(corpus_dir: Path) -> list[CorpusPair]:
    if shutil.which("wn") is None:
        raise SystemExit("WordNet's `wn` is needed: apt-get install wordnet")
    groups = read_groups(corpus_dir / "handwritten.txt")
    edits = json.loads((corpus_dir / "edits.json").read_text())
    rng = random.Random(_SEED)
    antonyms: dict[str, str | None] = {}
    seen: set[tuple[str, str]] = set()
    out = []
    for group in groups:
        for item in pairs_of(group, edits, rng, antonyms):
            key = (item.cached.lower(), item.asked.lower())
            if item.cached.lower() == item.asked.lower() or key in seen:
                continue
            seen.add(key)
            out.append(item)
    return out


def write(pairs: list[CorpusPair], corpus_dir: Path) -> None:
    def dump(name: str, items: list[CorpusPair]) -> None:
        lines = [json.dumps(asdict(p), sort_keys=True) for p in items]
        (corpus_dir / name).write_text("\n".join(lines) + "\n")

    dump("pairs.jsonl", pairs)
    dump("train.jsonl", [p for p in pairs if p.split == "train"])
    dump("test.jsonl", [p for p in pairs if p.split == "test"])
    sums = [
        f"{hashlib.sha256((corpus_dir / n).read_bytes()).hexdigest()}  {n}"
        for n in ("test.jsonl", "train.jsonl")
    ]
    (corpus_dir / "SHA256SUMS").write_text("\n".join(sums) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=CORPUS_DIR)
    args = parser.parse_args()
    pairs = build(CORPUS_DIR)
    write(pairs, args.out)
    for split in ("train", "test"):
        members = [p for p in pairs if p.split == split]
        hits = sum(p.should_hit for p in members)
        print(f"{split}: {len(members)} pairs, {hits} should hit, {len(members) - hits} must not")


if __name__ == "__main__":
    main()
