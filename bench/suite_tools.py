"""Shared pieces of the end-to-end benchmarks: flag presets, the emulator's control API,
percentiles and per-process resource samples of a running local suite."""

from __future__ import annotations

import copy
import os
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import psutil

from tollgate.cli.local_suite import DEFAULT_FLAGS, EMULATOR, LocalSuite
from tollgate.emulator.control_client import configure

_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")

OPTIMIZATIONS = (
    "conversation_optimization",
    "exact_cache",
    "semantic_cache",
    "prompt_caching",
    "budget_enforcement",
    "lead_reasoning",
)


def flags_with(enabled: Sequence[str]) -> dict[str, Any]:
    """The local suite's flags with only `enabled` optimizations on (100%, enforce)."""
    flags = copy.deepcopy(DEFAULT_FLAGS)
    table: dict[str, dict[str, Any]] = flags["flags"]  # type: ignore[assignment]
    for key, flag in table.items():
        flag["enabled"] = key in enabled
    return flags


# The three setups every end-to-end figure is reported for.
SETUPS: dict[str, dict[str, Any]] = {
    "pass-through (everything off)": flags_with(()),
    "governance (budgets + exact cache)": flags_with(("budget_enforcement", "exact_cache")),
    "everything on": flags_with(OPTIMIZATIONS),
}
EVERYTHING_ON = SETUPS["everything on"]
EVERYTHING_OFF = SETUPS["pass-through (everything off)"]


async def set_emulator_latency(emulator_url: str, ttft_ms: float, tokens_per_second: float) -> None:
    """Patch the emulator's live config; 0/0 answers as fast as it can."""
    patch = {"latency": {"ttft_ms": ttft_ms, "tokens_per_second": tokens_per_second}}
    await configure(emulator_url, patch)


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds process `pid` has used so far (from /proc: cheap enough to read
    around every round of a benchmark)."""
    with open(f"/proc/{pid}/stat") as stat:
        # Fields 14 and 15 of /proc/<pid>/stat, counted after the parenthesised name.
        fields = stat.read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100), interpolated; 0 for no values."""
    if not values:
        return 0.0
    if len(values) == 1:
        return float(values[0])
    return float(statistics.quantiles(values, n=1000, method="inclusive")[round(q * 10) - 1])


@dataclass(frozen=True)
class ProcessSample:
    rss_bytes: int
    open_fds: int


def suite_processes(suite: LocalSuite) -> dict[str, psutil.Process]:
    """One psutil handle per process of the suite (the emulator included), by service name."""
    return {entry.name: psutil.Process(entry.process.pid) for entry in suite.processes}


def serving_processes(suite: LocalSuite) -> dict[str, psutil.Process]:
    """The suite's processes that serve Tollgate (all but the emulator), by service name."""
    return {name: p for name, p in suite_processes(suite).items() if name != EMULATOR}


def sample(process: psutil.Process) -> ProcessSample:
    """RSS and open descriptors (sockets, files, pipes) of one process."""
    with process.oneshot():
        return ProcessSample(process.memory_info().rss, process.num_fds())


def machine_description() -> list[str]:
    """CPU model, cores and memory, for the header of every report."""
    model = "unknown CPU"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    memory = psutil.virtual_memory()
    return [
        f"CPU: {model}",
        f"cores (nproc): {os.cpu_count()}",
        f"memory: {memory.total / 2**30:.1f} GiB total, {memory.available / 2**30:.1f} GiB free",
    ]
