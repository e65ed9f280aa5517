"""A skipped container test is said out loud at the end of the run, not only counted."""

from __future__ import annotations

import pytest

from tests.containers.docker import SKIP_REASON


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    skipped = terminalreporter.stats.get("skipped", [])
    if any(SKIP_REASON in str(report.longrepr) for report in skipped):
        terminalreporter.write_line(
            f"!!! The container test (tests/containers) was SKIPPED: {SKIP_REASON}.",
            red=True,
            bold=True,
        )
