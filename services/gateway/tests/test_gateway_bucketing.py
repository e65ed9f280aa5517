"""Sticky bucketing: even spread, the same answer in every process, and raising a rollout only
adds buckets."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tollgate.common.bucketing import bucket, in_rollout

KEYS = [(f"tenant-{i % 37}", f"contact-{i}") for i in range(10_000)]


@pytest.mark.parametrize("percent", [1, 10, 25, 50, 90])
def test_rollout_share_is_within_two_points(percent: int) -> None:
    share = sum(in_rollout("semantic_cache", t, c, percent) for t, c in KEYS) / len(KEYS)
    assert abs(share * 100 - percent) <= 2


def test_raising_ten_to_fifty_keeps_every_bucket_that_was_in() -> None:
    at_ten = {k for k in KEYS if in_rollout("exact_cache", *k, 10)}
    at_fifty = {k for k in KEYS if in_rollout("exact_cache", *k, 50)}
    assert at_ten
    assert at_ten <= at_fifty


def test_flags_bucket_independently() -> None:
    same = sum(bucket("exact_cache", t, c) == bucket("semantic_cache", t, c) for t, c in KEYS)
    assert same < len(KEYS) * 0.05


def test_buckets_are_the_same_in_another_process() -> None:
    sample = KEYS[:200]
    script = (
        "from tollgate.common.bucketing import bucket\n"
        f"print([bucket('exact_cache', t, c) for t, c in {sample!r}])"
    )
    other = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert other == str([bucket("exact_cache", t, c) for t, c in sample])
