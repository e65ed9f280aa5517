"""Prompt caching with the real API's accounting.

A request's prompt is a sequence of segments (tools, then system, then
messages; see ``tokens.prompt_segments``). Each ``cache_control`` breakpoint
names the prefix ending at its block, and only such prefixes are ever stored.
For one request:

1. at every breakpoint, the prefixes ending at that block and at up to
   ``LOOKBACK_BLOCKS`` blocks before it are looked up (same scope -- API key --
   and model, not expired); the longest one found is a hit: its tokens are
   ``cache_read_input_tokens`` and stored prefixes up to it get their TTL
   refreshed. The lookback is what lets a conversation move its breakpoint to
   the newest turn and still read what the previous turn wrote;
2. each breakpoint past the hit whose prefix reaches the model's minimum
   cacheable length is written: the tokens between the previous cached boundary
   and it are ``cache_creation_input_tokens``, attributed to that breakpoint's
   TTL (``5m`` or ``1h``), and the prefix is stored for that TTL;
3. everything after the last read or written boundary is plain ``input_tokens``.

So ``input_tokens + cache_read + cache_creation`` always equals the prompt's
total, as in the real API.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import accumulate

from tollgate.emulator.clock import Clock
from tollgate.emulator.tokens import PromptSegment, prefix_digests

TTL_SECONDS: dict[str, float] = {"5m": 300.0, "1h": 3600.0}
LOOKBACK_BLOCKS = 20


@dataclass(frozen=True)
class CacheUsage:
    input_tokens: int
    cache_read_input_tokens: int
    cache_creation_5m_tokens: int
    cache_creation_1h_tokens: int

    @property
    def cache_creation_input_tokens(self) -> int:
        return self.cache_creation_5m_tokens + self.cache_creation_1h_tokens

    @property
    def total_input_tokens(self) -> int:
        return self.input_tokens + self.cache_read_input_tokens + self.cache_creation_input_tokens


@dataclass
class _Entry:
    ttl: str
    expires_at: float


def _lookback(segments: Sequence[PromptSegment], breakpoint: int) -> Iterator[int]:
    """Indices of the block boundaries checked for a breakpoint, newest first."""
    blocks = 0
    for index in range(breakpoint, -1, -1):
        if not segments[index].block:
            continue
        yield index
        blocks += 1
        if blocks > LOOKBACK_BLOCKS:
            return


class PromptCache:
    """Stored prompt prefixes, keyed by a digest of scope, model and prefix content."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._entries: dict[str, _Entry] = {}

    def __len__(self) -> int:
        self._evict_expired()
        return len(self._entries)

    def clear(self) -> None:
        self._entries.clear()

    def apply(
        self, *, scope: str, model: str, segments: Sequence[PromptSegment], min_tokens: int
    ) -> CacheUsage:
        """Account one request's prompt, reading and writing cache entries."""
        self._evict_expired()
        now = self._clock.now()
        digests = prefix_digests(f"{scope}\x00{model}", segments)
        ends = list(accumulate(segment.tokens for segment in segments))
        breakpoints = [i for i, segment in enumerate(segments) if segment.ttl is not None]

        hit = max(
            (
                index
                for bp in breakpoints
                for index in _lookback(segments, bp)
                if digests[index] in self._entries
            ),
            default=-1,
        )
        read = ends[hit] if hit >= 0 else 0
        for digest in digests[: hit + 1]:
            entry = self._entries.get(digest)
            if entry is not None:
                entry.expires_at = now + TTL_SECONDS[entry.ttl]

        covered = read
        created = {"5m": 0, "1h": 0}
        for bp in breakpoints:
            if bp <= hit or ends[bp] < min_tokens or ends[bp] <= covered:
                continue
            ttl = segments[bp].ttl or "5m"
            created[ttl] += ends[bp] - covered
            covered = ends[bp]
            self._entries[digests[bp]] = _Entry(ttl, now + TTL_SECONDS[ttl])

        return CacheUsage(
            input_tokens=(ends[-1] if ends else 0) - covered,
            cache_read_input_tokens=read,
            cache_creation_5m_tokens=created["5m"],
            cache_creation_1h_tokens=created["1h"],
        )

    def _evict_expired(self) -> None:
        now = self._clock.now()
        expired = [digest for digest, entry in self._entries.items() if entry.expires_at <= now]
        for digest in expired:
            del self._entries[digest]
