"""Every value of the chart is documented: its key appears in docs/helm.md or docs/operations.md,
so a value added without its line fails here. Inside maps of Kubernetes' own shapes (resources,
probes, annotations and labels, env) the keys are Kubernetes'. Keys that every service, flag or
store shares (`enabled`, `port`, `image`, `mode`) are documented once for all of them, so for
those the test only sees the name somewhere: it catches a new key of its own name."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

KUBERNETES_SHAPED = {"resources", "probes", "env", "podAnnotations", "podLabels", "annotations"}
KUBERNETES_SHAPED |= {"nodeSelector", "labels"}


def _keys(values: dict[str, Any], path: str = "") -> Iterator[tuple[str, str]]:
    for key, value in values.items():
        here = f"{path}.{key}" if path else key
        yield here, key
        if isinstance(value, dict) and key not in KUBERNETES_SHAPED:
            yield from _keys(value, here)


def test_every_chart_value_is_documented(chart_values: dict[str, Any], facts: Any) -> None:
    docs = "\n".join(
        (facts.repo / "docs" / page).read_text() for page in ("helm.md", "operations.md")
    )
    missing = [
        path for path, key in _keys(chart_values) if not re.search(rf"\b{re.escape(key)}\b", docs)
    ]
    assert not missing, f"chart values not in docs/helm.md or docs/operations.md: {missing}"
