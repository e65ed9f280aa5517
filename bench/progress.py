"""One line per phase on stderr, so a long benchmark is never silent.

Standard output is the benchmark's markdown (it goes into docs/benchmarks.md); progress goes to
stderr, which `make bench` passes through to the terminal as it comes.
"""

from __future__ import annotations

import sys
import time

_STARTED = time.monotonic()


def phase(text: str) -> None:
    print(f"  [{time.monotonic() - _STARTED:6.1f} s] {text}", file=sys.stderr, flush=True)
