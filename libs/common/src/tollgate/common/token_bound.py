"""A token count that is never below the true one, for budget holds and the context window.

`tollgate.common.token_estimate` is calibrated on ordinary text and can be off by several times
on text built to fool it (`"a\\t"` repeated came out 4.27x low), which let a hold cover a
fraction of what the request then cost. Holds need the opposite guarantee: whatever the text,
the count here is at least what the reference tokenizer (the emulator's, `tollgate.emulator.
tokens`) gives, and plausibly at least what a byte-level BPE tokenizer such as Claude's gives.
Claude's tokenizer is not public, so that second half rests on the byte-level argument below,
not on a measurement against the API.

The bound charges each class of character what it can cost at most:

* a run of ASCII letters: 1 token, plus 1/2 token per letter (the reference tokenizer charges
  1 + 1/4 per letter past the sixth; a BPE vocabulary has every letter pair and most triples);
* a space right before a letter run: 0 (both tokenizers glue it to the word);
* any other ASCII character (digits, punctuation, whitespace, controls): 1 token each;
* a non-ASCII character: its UTF-8 byte count (byte-level BPE never needs more than one token
  per byte; the reference tokenizer charges 1 per character);
* plus 1 for the piece boundary at each end.

English prose comes out at about 2.3 times its reference count; CJK at 3 times, emoji at 4.
Everything is counted with bytes.translate and bytes.count (C loops), so the bound costs a few
passes over the bytes and no Python-level loop per character.
"""

from __future__ import annotations

from collections.abc import Mapping

from tollgate.common import token_estimate
from tollgate.v1 import common_pb2

_LETTER, _SPACE, _OTHER = b"a", b" ", b"."
# Each byte to its class: ASCII letters, the space, everything else (non-ASCII bytes included).
_CLASSES = bytes(
    _LETTER[0] if chr(code).isascii() and chr(code).isalpha() else
    _SPACE[0] if code == 0x20 else
    _OTHER[0]
    for code in range(256)
)  # fmt: skip
# Tokens a variable's value can add where it is spliced into a template: a merge across each edge.
SPLICE_TOKENS = 2


def upper_bound_text(text: str) -> int:
    """At least as many tokens as `text` can cost (see the module docstring); 0 for ""."""
    if not text:
        return 0
    encoded = text.encode("utf-8", "surrogatepass")
    classes = encoded.translate(_CLASSES)
    letters = classes.count(_LETTER)
    runs = classes.count(b" a") + classes.count(b".a") + (classes[:1] == _LETTER)
    glued_spaces = classes.count(b" a")
    non_ascii_bytes = len(encoded) - len(text.encode("ascii", "ignore"))
    ascii_others = len(encoded) - letters - non_ascii_bytes
    # Halves, rounded up: 1/2 token per letter.
    return runs + (letters + 1) // 2 + ascii_others - glued_spaces + non_ascii_bytes + 1


def upper_bound_request(request: common_pb2.ClaudeRequest) -> int:
    """Input tokens of a whole request, never below the true count (same framing as the
    calibrated estimate, with `upper_bound_text` for every piece of text)."""
    return token_estimate.estimate_request(request, upper_bound_text)


def upper_bound_template_variables(variables: Mapping[str, str], uses_per_variable: int = 1) -> int:
    """Tokens the variables can add to a rendered template: each value as often as the template
    uses it, plus a merge at each splice. The template's own text is counted by the caller."""
    return uses_per_variable * sum(
        upper_bound_text(value) + SPLICE_TOKENS for value in variables.values()
    )
