"""The container test goes first, and a skipped container test is said out loud at the end of
the run, not only counted."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.containers.docker import SKIP_REASON

HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run the container test before everything else. Building the images from scratch takes
    minutes of mostly waiting (downloads, layer exports); `make test` runs two workers, so the
    other one gets through the rest meanwhile. Last in the run, the build would be its tail."""
    items.sort(key=lambda item: HERE not in item.path.parents)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    skipped = terminalreporter.stats.get("skipped", [])
    if any(SKIP_REASON in str(report.longrepr) for report in skipped):
        terminalreporter.write_line(
            f"!!! The container test (tests/containers) was SKIPPED: {SKIP_REASON}.",
            red=True,
            bold=True,
        )
